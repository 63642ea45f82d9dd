"""``amoskys stats``: pipeline metrics over a period, aggregated in SQL.

What is exact and what is read from summaries:

* run counts, success rate, test totals and the coverage trend come from the per-run summary
  columns of ``runs`` (one indexed range scan);
* the run duration median and 95th percentile are exact, ranked by a window function;
* job counts and success rates, and job and test duration percentiles, are read from the
  ``durations`` histograms (whole UTC days), plus the raw rows of the part-day at the start
  of the period: counts are exact, durations within 2 % (see :mod:`amoskys.store.histogram`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

import sqlalchemy as sa

from amoskys.store import histogram
from amoskys.store.records import JobStats, Stats
from amoskys.store.schema import durations, job_runs, runs, test_cases, test_results

DAY = 86_400
SLOWEST = 10
#: Jobs whose duration and outcome count: they ran and ended on their own.
NOT_RAN = ("running", "skipped", "not_run", "interrupted")


@dataclass
class Tally:
    """One subject's durations: how many, how many succeeded, and their histogram."""

    total: int = 0
    ok: int = 0
    buckets: Counter[int] = field(default_factory=Counter)

    def add(self, bucket: int, ok: bool, n: int = 1) -> None:
        self.total += n
        self.ok += n if ok else 0
        self.buckets[bucket] += n


Histograms = dict[str, Tally]


def job_ran(status: str, started: float | None, finished: float | None) -> bool:
    """Whether a job counts in job stats (the same rule as :func:`_ran_clause`)."""
    return status not in NOT_RAN and started is not None and finished is not None


def test_timed(outcome: str) -> bool:
    """Whether a test result's duration counts (skipped tests take no time worth timing)."""
    return outcome != "skipped"


def _ran_clause() -> sa.ColumnElement[bool]:
    return sa.and_(
        job_runs.c.status.not_in(NOT_RAN),
        job_runs.c.started.is_not(None),
        job_runs.c.finished.is_not(None),
    )


def _window(since: float, workflow: str | None) -> list[sa.ColumnElement[bool]]:
    clauses = [runs.c.started >= since]
    if workflow is not None:
        clauses.append(runs.c.workflow == workflow)
    return clauses


def compute(connection: sa.Connection, *, since: float, workflow: str | None) -> Stats:
    """Everything :class:`~amoskys.store.records.Stats` holds, for runs started at ``since``
    or later (of one workflow, when given)."""
    window = _window(since, workflow)
    finished = runs.c.status != "running"
    totals = connection.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((finished, 1), else_=0)),
            sa.func.sum(sa.case((runs.c.status == "success", 1), else_=0)),
            sa.func.sum(runs.c.tests_total),
            sa.func.sum(runs.c.tests_passed),
            sa.func.sum(runs.c.tests_skipped),
            sa.func.sum(runs.c.tests_flaky),
        ).where(*window)
    ).one()
    count, ended, succeeded, tests, passed, skipped, flaky = (int(v or 0) for v in totals)
    median, p95 = _run_percentiles(connection, window)
    job_hist = histograms(connection, "job", since=since, workflow=workflow)
    test_hist = histograms(connection, "test", since=since, workflow=workflow)
    return Stats(
        since=since,
        runs=count,
        success_rate=succeeded / ended if ended else 0.0,
        median_duration=median,
        p95_duration=p95,
        jobs=_job_stats(job_hist),
        tests_total=tests,
        tests_passed=passed,
        tests_flaky=flaky,
        # as the tests gate counts: a flaky test passed in the end (and is listed apart)
        test_pass_rate=(passed + flaky) / (tests - skipped) if tests > skipped else None,
        slowest_tests=_slowest(test_hist),
        coverage_trend=_coverage_trend(connection, window),
    )


def _run_percentiles(
    connection: sa.Connection, window: list[sa.ColumnElement[bool]]
) -> tuple[float | None, float | None]:
    """Exact median and 95th percentile of finished runs' durations (interrupted runs'
    end times are when they were found dead, so they are left out)."""
    duration = (runs.c.finished - runs.c.started).label("v")
    values = sa.select(sa.literal("").label("g"), duration).where(
        *window, runs.c.finished.is_not(None), runs.c.status.not_in(("running", "interrupted"))
    )
    found = exact_percentiles(connection, values.subquery(), (0.5, 0.95)).get("")
    if found is None:
        return None, None
    return found[0], found[1]


def exact_percentiles(
    connection: sa.Connection, source: sa.Subquery, quantiles: Iterable[float]
) -> dict[str, list[float]]:
    """Per group ``g`` the given quantiles of ``v`` (``source`` has columns g, v),
    interpolated like ``statistics.quantiles(method="inclusive")``. Only the rows at the
    needed ranks leave the database."""
    qs = list(quantiles)
    ranked = sa.select(
        source.c.g,
        source.c.v,
        sa.func.row_number().over(partition_by=source.c.g, order_by=source.c.v).label("rn"),
        sa.func.count().over(partition_by=source.c.g).label("n"),
    ).subquery()
    rank, n = ranked.c.rn - 1, ranked.c.n - 1
    wanted = []
    for q in qs:
        per_mille = round(q * 1000)
        wanted += [n * per_mille // 1000, n * per_mille // 1000 + 1]
    rows = connection.execute(
        sa.select(ranked.c.g, ranked.c.v, ranked.c.rn, ranked.c.n).where(rank.in_(wanted))
    ).all()
    at: dict[str, dict[int, float]] = defaultdict(dict)
    sizes: dict[str, int] = {}
    for group, value, row_number, size in rows:
        at[group][row_number - 1] = float(value)
        sizes[group] = size
    return {g: [_interpolate(at[g], sizes[g], q) for q in qs] for g in at}


def _interpolate(ranks: dict[int, float], size: int, q: float) -> float:
    position = (size - 1) * round(q * 1000) / 1000
    lower = math.floor(position)
    value = ranks[lower]
    if lower + 1 < size:
        value += (position - lower) * (ranks[lower + 1] - value)
    return value


def histograms(
    connection: sa.Connection, kind: str, *, since: float, workflow: str | None
) -> Histograms:
    """Duration tallies per subject (job id or test id) for runs started at ``since`` or
    later: whole days from the ``durations`` table, the part-day before them from raw rows
    (bucketed and counted in SQL too)."""
    first_day = math.ceil(since / DAY)
    d = durations.c
    query = sa.select(d.subject, d.ok, d.bucket, sa.func.sum(d.n)).where(
        d.day >= first_day, d.kind == kind
    )
    if workflow is not None:
        query = query.where(d.workflow == workflow)
    rows = list(connection.execute(query.group_by(d.subject, d.ok, d.bucket)))
    if since < first_day * DAY:
        part = _window(since, workflow) + [runs.c.started < first_day * DAY]
        rows += connection.execute(raw_tallies(kind, part))
    found: Histograms = defaultdict(Tally)
    for subject, ok, bucket, count in rows:
        found[subject].add(int(bucket), bool(ok), int(count))
    return found


def bucket_sql(seconds: sa.ColumnElement[float]) -> sa.ColumnElement[int]:
    """:func:`amoskys.store.histogram.bucket_of` in SQL (``ln`` and ``floor`` exist on
    PostgreSQL; :mod:`amoskys.store.engine` makes sure SQLite has them too)."""
    exponent = sa.func.ln(seconds / histogram.SMALLEST) / math.log(histogram.RATIO)
    return sa.case(
        (seconds >= histogram.SMALLEST, sa.cast(sa.func.floor(exponent), sa.Integer)),
        else_=-1,
    )


def raw_tallies(kind: str, where: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    """(subject, ok, bucket, count) of what the ``durations`` histograms count, for runs
    matching ``where``: jobs that ran, tests that were not skipped."""
    joined = runs.join(job_runs, job_runs.c.run_id == runs.c.id)
    if kind == "job":
        ok = job_runs.c.status == "success"
        bucket = bucket_sql(job_runs.c.finished - job_runs.c.started)
        return (
            sa.select(job_runs.c.job_id, ok, bucket, sa.func.count())
            .select_from(joined)
            .where(*where, _ran_clause())
            .group_by(job_runs.c.job_id, ok, bucket)
        )
    ok = test_results.c.outcome == "passed"
    bucket = bucket_sql(test_results.c.duration)
    counted = (  # grouped by case id first: test ids are joined to a few hundred rows only
        sa.select(test_results.c.case_id, ok.label("ok"), bucket.label("bucket"), sa.func.count())
        .select_from(joined.join(test_results, test_results.c.job_run_id == job_runs.c.id))
        .where(*where, test_results.c.outcome != "skipped")
        .group_by(test_results.c.case_id, ok, bucket)
        .subquery()
    )
    return sa.select(test_cases.c.test_id, *list(counted.c)[1:]).join(
        test_cases, test_cases.c.id == counted.c.case_id
    )


def _job_stats(hist: Histograms) -> tuple[JobStats, ...]:
    return tuple(
        JobStats(
            name=job_id,
            runs=tally.total,
            success_rate=tally.ok / tally.total,
            median_duration=histogram.percentile(tally.buckets, 0.5) or 0.0,
            p95_duration=histogram.percentile(tally.buckets, 0.95) or 0.0,
        )
        for job_id, tally in sorted(hist.items())
        if tally.total
    )


def _slowest(hist: Histograms) -> tuple[tuple[str, float], ...]:
    medians = []
    for test_id, tally in hist.items():
        median = histogram.percentile(tally.buckets, 0.5)
        if median is not None:
            medians.append((test_id, median))
    medians.sort(key=lambda item: (-item[1], item[0]))
    return tuple(medians[:SLOWEST])


def _coverage_trend(
    connection: sa.Connection, window: list[sa.ColumnElement[bool]]
) -> tuple[tuple[float, float], ...]:
    query = (
        sa.select(runs.c.started, runs.c.coverage)
        .where(*window, runs.c.coverage.is_not(None))
        .order_by(runs.c.started, runs.c.id)
    )
    return tuple((float(s), float(c)) for s, c in connection.execute(query))
