"""``amoskys stats`` as plain terminal text (:func:`render_stats`) or as data (:func:`stats_json`).

The text is plain (no colour, no markup), at most ``console_width`` columns, so a test can
compare it and a pipe gets it unchanged; print it with markup and highlighting off. Charts are
drawn here with Unicode block characters: a few-line bar chart of the line-coverage trend and,
when the stats carry per-run results, a strip of recent runs and a per-day success sparkline.

Per-run results are optional: ``stats.extra["run_results"]`` — a sequence of
``(run started, run status)`` pairs in any order. Without it the success rate is one number.

:func:`parse_since` reads ``--since``: ``90m``, ``12h``, ``30d``, ``2w`` back from now, or an
ISO date (``2026-01-31``, midnight UTC) or date and time (UTC unless it names an offset).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from amoskys.errors import AmoskysError
from amoskys.report.html import format_duration
from amoskys.store.records import Stats

SCHEMA = "amoskys.stats/1"
BLOCKS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"  # ▁▂▃▄▅▆▇█
RUN_RESULTS_KEY = "run_results"
CHART_HEIGHT = 4
MIN_WIDTH = 40
SLOWEST_SHOWN = 10
SINCE_FORMS = "a number and a unit: 90m, 12h, 30d, 2w; or a date: 2026-01-31 (UTC)"

_SPAN = re.compile(r"(\d+)\s*([mhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?")
_RUN_MARKS = {"success": "\u2713", "failure": "\u2717", "timed_out": "\u2717"}  # ✓ ✗
_OTHER_MARK = "\u00b7"  # ·


# --------------------------------------------------------------------------- --since


FLAKY_SHOWN = 20


def parse_since(text: str, now: float) -> float:
    """The Unix time ``--since`` means: ``now`` minus a period, or the start of a date (UTC)."""
    value = text.strip()
    hint = f"use {SINCE_FORMS}"
    span = _SPAN.fullmatch(value)
    if span is not None:
        amount = int(span.group(1))
        if amount == 0:
            raise AmoskysError(f"--since {text!r} is an empty period", hint=hint)
        seconds = amount * _UNIT_SECONDS[span.group(2).lower()]
        return 0.0 if seconds >= now else now - seconds
    if _DATE_LIKE.fullmatch(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise AmoskysError(f"--since {text!r} is not a valid date", hint=hint) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        stamp = moment.timestamp()
        if stamp > now:
            raise AmoskysError(f"--since {text!r} is in the future", hint=hint)
        return stamp
    raise AmoskysError(f"--since {text!r} is neither a period nor a date", hint=hint)


# --------------------------------------------------------------------------- charts


def _levels(values: Sequence[float], count: int, lo: float | None, hi: float | None) -> list[int]:
    """Each value's level in ``0 .. count-1``; the middle level when all values are equal."""
    low = min(values) if lo is None else lo
    high = max(values) if hi is None else hi
    if high <= low:
        return [(count - 1) // 2 for _ in values]
    out = []
    for value in values:
        fraction = (min(max(value, low), high) - low) / (high - low)
        out.append(int(round(fraction * (count - 1))))
    return out


def resample(values: Sequence[float], width: int) -> list[float]:
    """At most ``width`` values: consecutive values averaged into equal buckets, order kept."""
    if width <= 0:
        return []
    if len(values) <= width:
        return list(values)
    out = []
    for column in range(width):
        start = column * len(values) // width
        end = (column + 1) * len(values) // width
        bucket = values[start:end]
        out.append(sum(bucket) / len(bucket))
    return out


def sparkline(values: Sequence[float], *, lo: float | None = None, hi: float | None = None) -> str:
    """One block character per value, ``▁`` for the lowest and ``█`` for the highest.

    The scale is ``lo .. hi`` (default: the data's minimum and maximum), so non-decreasing
    values give non-decreasing blocks.
    """
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return ""
    return "".join(BLOCKS[level] for level in _levels(values, len(BLOCKS), lo, hi))


def bar_chart(
    values: Sequence[float],
    *,
    height: int = CHART_HEIGHT,
    lo: float | None = None,
    hi: float | None = None,
) -> list[str]:
    """``height`` lines of vertical bars, one column per value, eighth-block resolution.

    The lowest value still gets a sliver of a bar, the highest fills the column.
    """
    values = [v for v in values if math.isfinite(v)]
    if not values or height <= 0:
        return []
    steps = height * 8
    fills = [level + 1 for level in _levels(values, steps, lo, hi)]  # 1 .. steps
    rows = []
    for row in range(height):
        floor = (height - 1 - row) * 8
        cells = []
        for fill in fills:
            part = min(8, max(0, fill - floor))
            cells.append(BLOCKS[part - 1] if part else " ")
        rows.append("".join(cells).rstrip())
    return rows


# --------------------------------------------------------------------------- text


def _percent(rate: float | None) -> str:
    if rate is None or not math.isfinite(rate):
        return "\u2014"
    return f"{rate * 100:.1f}%"


def _date(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")


def _moment(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _fit(text: str, width: int, *, keep_end: bool = False) -> str:
    """``text`` cut to ``width`` characters with an ellipsis (at the start if ``keep_end``)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "\u2026"[:width]
    if keep_end:
        return "\u2026" + text[-(width - 1) :]
    return text[: width - 1] + "\u2026"


def run_results(stats: Stats) -> list[tuple[float, str]]:
    """``stats.extra["run_results"]`` as (started, status) pairs, oldest first; [] when absent."""
    raw = stats.extra.get(RUN_RESULTS_KEY)
    if not isinstance(raw, Iterable) or isinstance(raw, (str, bytes, Mapping)):
        return []
    pairs = []
    for item in raw:
        if isinstance(item, Sequence) and len(item) == 2:
            started, status = item
            if isinstance(started, (int, float)) and math.isfinite(started):
                pairs.append((float(started), str(status)))
    return sorted(pairs)


def daily_success(results: Iterable[tuple[float, str]]) -> list[tuple[str, float]]:
    """(UTC day, success rate of that day's finished runs), days in order, running runs left out."""
    days: dict[str, list[int]] = {}
    for started, status in results:
        if status == "running":
            continue
        tally = days.setdefault(_date(started), [0, 0])
        tally[0] += status == "success"
        tally[1] += 1
    return [(day, won / total) for day, (won, total) in sorted(days.items())]


def _label_row(label: str, value: str) -> str:
    return f"{label:<16}{value}"


def _coverage_lines(stats: Stats, width: int) -> list[str]:
    trend = sorted(
        (started, value)
        for started, value in stats.coverage_trend
        if math.isfinite(started) and math.isfinite(value)
    )
    if not trend:
        return [_label_row("Line coverage", "not measured in this period")]
    values = [value for _, value in trend]
    last = values[-1]
    if len(values) == 1:
        return [_label_row("Line coverage", f"{last:.1f}% (one run, {_date(trend[0][0])})")]
    low, high = min(values), max(values)
    delta = last - values[0]
    summary = f"{last:.1f}% last, {delta:+.1f} points over {len(values)} runs"
    lines = [_label_row("Line coverage", summary)]
    axis_width = 9  # "100.0% ┤"
    columns = resample(values, max(8, width - axis_width - 2))
    chart = bar_chart(columns, height=CHART_HEIGHT)
    for row, bars in enumerate(chart):
        if row == 0:
            axis = f"{high:6.1f}% \u2524"
        elif row == len(chart) - 1:
            axis = f"{low:6.1f}% \u2524"
        else:
            axis = " " * 8 + "\u2502"
        lines.append(f"  {axis}{bars}".rstrip())
    first_day, last_day = _date(trend[0][0]), _date(trend[-1][0])
    span = len(columns)
    if span >= len(first_day) + len(last_day) + 1:
        lines.append("  " + " " * axis_width + first_day + last_day.rjust(span - len(first_day)))
    else:
        lines.append("  " + " " * axis_width + f"{first_day} .. {last_day}")
    return lines


def _success_lines(stats: Stats, width: int) -> list[str]:
    results = run_results(stats)
    lines = [
        _label_row("Success rate", f"{_percent(stats.success_rate)} of finished runs"),
    ]
    if not results:
        return lines
    room = max(8, width - 18)
    recent = results[-room:]
    strip = "".join(_RUN_MARKS.get(status, _OTHER_MARK) for _, status in recent)
    lines.append(_label_row("Recent runs", strip))
    legend = (
        f"\u2713 success  \u2717 failure  {_OTHER_MARK} other; last {len(recent)}, oldest first"
    )
    lines.append(_label_row("", legend))
    days = daily_success(results)
    if len(days) > 1:
        shown = days[-room:]
        line = sparkline([rate for _, rate in shown], lo=0.0, hi=1.0)
        lines.append(_label_row("Success by day", line))
        days_text = f"{shown[0][0]} .. {shown[-1][0]}, days with runs: \u2581 0% \u2588 100%"
        lines.append(_label_row("", days_text))
    return lines


def _jobs_lines(stats: Stats, width: int) -> list[str]:
    if not stats.jobs:
        return []
    numbers = f"{'Runs':>6}{'Success':>9}{'Median':>9}{'p95':>9}"
    name_width = max(10, width - len(numbers) - 1)
    lines = ["", f"{'Job':<{name_width}} {numbers}"]
    for job in stats.jobs:
        lines.append(
            f"{_fit(job.name, name_width):<{name_width}} {job.runs:>6}"
            f"{_percent(job.success_rate):>9}{format_duration(job.median_duration):>9}"
            f"{format_duration(job.p95_duration):>9}"
        )
    return lines


def _tests_lines(stats: Stats, width: int) -> list[str]:
    lines = [""]
    if not stats.tests_total:
        lines.append(_label_row("Tests", "no test results in this period"))
        return lines
    rate = stats.test_pass_rate
    if rate is None:
        rate = stats.tests_passed / stats.tests_total
    flaky = f", {stats.tests_flaky} flaky (passed on a re-run)" if stats.tests_flaky else ""
    lines.append(
        _label_row(
            "Tests",
            f"{stats.tests_passed} of {stats.tests_total} passed{flaky} ({_percent(rate)})",
        )
    )
    if stats.slowest_tests:
        lines.append("Slowest tests (median duration):")
        for test_id, seconds in stats.slowest_tests[:SLOWEST_SHOWN]:
            lines.append(
                f"  {format_duration(seconds):>8}  {_fit(test_id, width - 12, keep_end=True)}"
            )
    return lines


def _flaky_lines(stats: Stats, width: int) -> list[str]:
    """The tests flagged flaky (``stats.extra["flaky_tests"]``, from the history's scores)."""
    flaky = stats.extra.get("flaky_tests") or []
    if not flaky:
        return []
    lines = ["", f"Flaky tests ({len(flaky)}, score 0-1 from their history):"]
    for item in flaky[:FLAKY_SHOWN]:
        quarantined = " quarantined" if item.get("quarantined") else ""
        evidence = f"{item['flaky_runs']} flaky, {item['flips']} flips in {item['runs']} runs"
        lines.append(
            f"  {item['score']:.2f}  {_fit(item['test_id'], max(12, width - 50), keep_end=True)}"
            f"  ({evidence}){quarantined}"
        )
    if len(flaky) > FLAKY_SHOWN:
        lines.append(f"  ... and {len(flaky) - FLAKY_SHOWN} more (--json lists them all)")
    return lines


def render_stats(stats: Stats, console_width: int = 100) -> str:
    """``amoskys stats`` as plain text, no line wider than ``console_width`` (at least 40)."""
    width = max(MIN_WIDTH, console_width)
    heading = f"Amoskys stats since {_moment(stats.since)}"
    if stats.runs == 0:
        return (
            f"{heading}\nNo runs recorded in this period. "
            "Run `amoskys run`, or look further back with --since.\n"
        )
    heading += f" \u00b7 {stats.runs} run{'s' if stats.runs != 1 else ''}"
    lines = [_fit(heading, width), "\u2500" * min(width, max(len(heading), 40))]
    lines += _success_lines(stats, width)
    lines.append(
        _label_row(
            "Run duration",
            f"median {format_duration(stats.median_duration)}, "
            f"p95 {format_duration(stats.p95_duration)}",
        )
    )
    lines += _coverage_lines(stats, width)
    lines += _jobs_lines(stats, width)
    lines += _tests_lines(stats, width)
    lines += _flaky_lines(stats, width)
    return "\n".join(_fit(line, width) for line in lines) + "\n"


# --------------------------------------------------------------------------- JSON


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value)


def stats_json(stats: Stats) -> dict[str, Any]:
    """The same numbers as data, with ``"schema": "amoskys.stats/1"``.

    Keys: ``schema``, ``since``, ``runs``, ``success_rate``, ``median_duration``,
    ``p95_duration``, ``jobs`` (``name``, ``runs``, ``success_rate``, ``median_duration``,
    ``p95_duration``), ``tests`` (``total``, ``passed``, ``flaky``, ``pass_rate``: passed and
    flaky over those not skipped), ``slowest_tests``
    (``test_id``, ``median_duration``), ``coverage_trend`` (``started``, ``line``),
    ``success_by_day`` (``day``, ``success_rate``; empty without per-run results), ``extra``.
    """
    pass_rate = stats.test_pass_rate
    if pass_rate is None and stats.tests_total:
        pass_rate = stats.tests_passed / stats.tests_total
    return {
        "schema": SCHEMA,
        "since": stats.since,
        "runs": stats.runs,
        "success_rate": _finite(stats.success_rate),
        "median_duration": _finite(stats.median_duration),
        "p95_duration": _finite(stats.p95_duration),
        "jobs": [
            {
                "name": job.name,
                "runs": job.runs,
                "success_rate": _finite(job.success_rate),
                "median_duration": _finite(job.median_duration),
                "p95_duration": _finite(job.p95_duration),
            }
            for job in stats.jobs
        ],
        "tests": {
            "total": stats.tests_total,
            "passed": stats.tests_passed,
            "flaky": stats.tests_flaky,
            "pass_rate": _finite(pass_rate),
        },
        "slowest_tests": [
            {"test_id": test_id, "median_duration": _finite(seconds)}
            for test_id, seconds in stats.slowest_tests
        ],
        "coverage_trend": [
            {"started": started, "line": _finite(value)} for started, value in stats.coverage_trend
        ],
        "success_by_day": [
            {"day": day, "success_rate": rate} for day, rate in daily_success(run_results(stats))
        ],
        "extra": _plain(stats.extra),
    }
