"""History commands: ``runs``, ``logs``, ``report``, ``stats`` and ``gc``.

Each opens the store of the repository it runs in (``.amoskys/amoskys.db``, or
``AMOSKYS_DATABASE_URL``), first marking runs whose process died as ``interrupted``.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import click

from amoskys.collect.flakiness import Flakiness
from amoskys.errors import AmoskysError
from amoskys.report import parse_since, render_html, render_json, render_stats, stats_json
from amoskys.report.html import selection_text
from amoskys.store.db import Store, open_store
from amoskys.store.logs import follow as follow_log
from amoskys.store.logs import read_lines
from amoskys.store.records import JobRecord, RunDetail, RunRecord, StepRecord

LOG_TAIL_LINES = 50


def state_dir() -> Path:
    """The ``.amoskys`` folder of the repository we are in (created if needed)."""
    from amoskys.run.workspace import ensure_state_dir, repo_root

    try:
        root = repo_root(Path.cwd())
    except AmoskysError:
        root = Path.cwd()
        (root / ".amoskys").mkdir(exist_ok=True)
        return root / ".amoskys"
    return ensure_state_dir(root)


@contextmanager
def opened_store() -> Iterator[tuple[Store, Path]]:
    """The store, with runs of dead processes marked interrupted."""
    folder = state_dir()
    store = open_store(folder)
    try:
        store.mark_interrupted()
        yield store, folder
    finally:
        store.close()


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def run_to_json(run: RunRecord) -> dict[str, object]:
    return {
        "id": run.id,
        "workflow": run.workflow,
        "trigger": run.trigger,
        "event": run.event,
        "ref": run.ref,
        "branch": run.branch,
        "sha": run.sha,
        "actor": run.actor,
        "status": run.status,
        "started": run.started,
        "finished": run.finished,
        "duration": run.duration,
        "jobs_total": run.jobs_total,
        "jobs_failed": run.jobs_failed,
        "jobs_ok": run.jobs_ok,
    }


def _table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


@click.group(name="runs", invoke_without_command=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--status", default=None, help="Only runs with this status.")
@click.option("--branch", default=None, help="Only runs of this branch.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def runs_group(
    ctx: click.Context, limit: int, status: str | None, branch: str | None, as_json: bool
) -> int:
    """List the stored runs, newest first (`runs show RUN` for one)."""
    if ctx.invoked_subcommand is None:
        return _list_runs(limit, status, branch, as_json)
    return 0


@runs_group.command(name="list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--status", default=None, help="Only runs with this status.")
@click.option("--branch", default=None, help="Only runs of this branch.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def runs_list(limit: int, status: str | None, branch: str | None, as_json: bool) -> int:
    """List the stored runs, newest first."""
    return _list_runs(limit, status, branch, as_json)


def _list_runs(limit: int, status: str | None, branch: str | None, as_json: bool) -> int:
    with opened_store() as (store, _):
        runs = store.list_runs(limit=limit, status=status, branch=branch)
    if as_json:
        click.echo(json.dumps([run_to_json(r) for r in runs], indent=2))
        return 0
    if not runs:
        click.echo("No runs stored yet: `amoskys run` records every run.")
        return 0
    rows = [
        (
            str(r.id),
            r.status,
            _when(r.started),
            _seconds(r.duration),
            r.branch or r.ref,
            r.sha[:8],
            f"{r.jobs_ok}/{r.jobs_total}",
            r.workflow,
        )
        for r in runs
    ]
    click.echo(
        _table(rows, ("run", "status", "started (UTC)", "took", "branch", "sha", "ok", "workflow"))
    )
    return 0


def detail_to_json(detail: RunDetail) -> dict[str, object]:
    return {
        **run_to_json(detail.run),
        "jobs": [
            {
                "id": job.id,
                "name": job.name,
                "job_id": job.job_id,
                "matrix": dict(job.matrix),
                "status": job.status,
                "conclusion": job.conclusion,
                "reason": job.reason,
                "duration": job.duration,
                "steps": [
                    {
                        "index": s.index,
                        "name": s.name,
                        "outcome": s.outcome,
                        "conclusion": s.conclusion,
                        "exit_code": s.exit_code,
                        "duration": s.duration,
                        "log_lines": s.log_lines,
                    }
                    for s in job.steps
                ],
                "tests": _test_counts(job),
                "metrics": {m.name: m.value for m in job.metrics},
            }
            for job in detail.jobs
        ],
    }


def _test_counts(job: JobRecord) -> dict[str, int]:
    counts: dict[str, int] = {}
    for test in job.tests:
        counts[test.outcome] = counts.get(test.outcome, 0) + 1
    return counts


@runs_group.command(name="show")
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def runs_show(run: str, as_json: bool) -> int:
    """One run: its jobs, steps, test counts and coverage (RUN is an id or `last`)."""
    with opened_store() as (store, _):
        detail = store.get_run(store.resolve_run(run))
    if as_json:
        click.echo(json.dumps(detail_to_json(detail), indent=2))
        return 0
    r = detail.run
    click.echo(
        f"run {r.id}: {r.status}  {r.workflow}  {r.event} {r.ref} {r.sha[:8]}  "
        f"started {_when(r.started)} UTC, took {_seconds(r.duration)}"
    )
    for job in detail.jobs:
        tests = _test_counts(job)
        extra = ", ".join(f"{n} {k}" for k, n in sorted(tests.items()))
        values = {m.name: m.value for m in job.metrics}
        cover = values.get("coverage.line")
        if cover is not None:
            extra = f"{extra}, coverage {cover:.1f}%" if extra else f"coverage {cover:.1f}%"
        part = selection_text(job.metrics)  # a test selection ran (amoskys.select.in_run)
        if part:
            extra = f"{extra}, {part}" if extra else part
        reason = f" - {job.reason}" if job.reason else ""
        click.echo(
            f"  {job.name}: {job.status} in {_seconds(job.duration)}{reason}"
            + (f" [{extra}]" if extra else "")
        )
        for step in job.steps:
            code = "" if step.exit_code is None else f" (exit {step.exit_code})"
            click.echo(
                f"    {step.index:>2}. {step.name}: {step.outcome or 'running'}{code} "
                f"{_seconds(step.duration)}"
            )
    return 0


def _match_job(detail: RunDetail, wanted: str) -> list[JobRecord]:
    jobs = [j for j in detail.jobs if wanted in (j.name, j.job_id, j.key)]
    if not jobs:
        names = ", ".join(j.name for j in detail.jobs)
        raise AmoskysError(f"run {detail.run.id} has no job {wanted!r}", hint=f"its jobs: {names}")
    return jobs


def _match_step(job: JobRecord, wanted: str) -> StepRecord:
    for step in job.steps:
        if wanted == step.name or wanted == str(step.index) or wanted == step.step_id:
            return step
    names = ", ".join(f"{s.index}. {s.name}" for s in job.steps)
    raise AmoskysError(f"job {job.name!r} has no step {wanted!r}", hint=f"its steps: {names}")


@click.command(name="logs")
@click.argument("run")
@click.argument("job", required=False)
@click.argument("step", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep printing lines as they are written.")
def logs_command(run: str, job: str | None, step: str | None, follow: bool) -> int:
    """Print a run's logs as stored (masked): all of it, one job, or one step."""
    with opened_store() as (store, folder):
        run_id = store.resolve_run(run)
        detail = store.get_run(run_id)
        jobs = _match_job(detail, job) if job else list(detail.jobs)
        steps = (
            [(j, _match_step(j, step)) for j in jobs]
            if step
            else [(j, s) for j in jobs for s in j.steps]
        )
        for owner, record in steps:
            if record.log_path is None:
                continue
            path = folder / record.log_path
            if len(steps) > 1:
                click.echo(f"== {owner.name} / {record.index}. {record.name}")
            if not path.exists():
                click.echo("(log removed by amoskys gc)" if len(steps) > 1 else "")
                continue
            if follow and record.outcome is None:

                def finished(step_id: int = record.id, job_name: str = owner.name) -> bool:
                    return _step_done(store, run_id, job_name, step_id)

                for line in follow_log(path, stop=finished):
                    click.echo(line)
            else:
                for line in read_lines(path):
                    click.echo(line)
    return 0


def _step_done(store: Store, run_id: int, job_name: str, step_id: int) -> bool:
    detail = store.get_run(run_id)
    for job in detail.jobs:
        for step in job.steps:
            if step.id == step_id:
                return step.outcome is not None or detail.run.status != "running"
    return True


def log_tails(detail: RunDetail, folder: Path) -> dict[int, list[str]]:
    """The last lines of every failed step's log, for reports."""
    tails: dict[int, list[str]] = {}
    for job in detail.jobs:
        for step in job.steps:
            if step.log_path is None or step.outcome not in ("failure", "timed_out"):
                continue
            path = folder / step.log_path
            if path.exists():
                start = max(0, step.log_lines - LOG_TAIL_LINES)
                tails[step.id] = list(read_lines(path, start=start))[-LOG_TAIL_LINES:]
    return tails


@click.command(name="report")
@click.argument("run")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="Write HTML here.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False), help="Write JSON here.")
def report_command(run: str, html_file: str | None, json_file: str | None) -> int:
    """Write one run's report: a self-contained HTML page and/or the same as JSON."""
    if not html_file and not json_file:
        raise AmoskysError("nothing to write", hint="give --html FILE and/or --json FILE")
    with opened_store() as (store, folder):
        detail = store.get_run(store.resolve_run(run))
        tails = log_tails(detail, folder)
        test_ids = sorted({test.test_id for job in detail.jobs for test in job.tests})
        flaky = store.flakiness(test_ids=test_ids) if test_ids else []
        held = run_quarantine(folder, detail)
    if html_file:
        page = render_html(detail, log_tails=tails, flakiness=flaky, quarantined=held)
        _write_atomically(Path(html_file), page)
        click.echo(f"wrote {html_file}")
    if json_file:
        data = render_json(detail, log_tails=tails, flakiness=flaky, quarantined=held)
        text = json.dumps(data, indent=2)
        _write_atomically(Path(json_file), text)
        click.echo(f"wrote {json_file}")
    return 0


def run_quarantine(folder: Path, detail: RunDetail) -> list[str]:
    """The test ids a run's quarantine held (the list its pytest probe read), if any."""
    path = folder / detail.run_dir / "probe" / "quarantine.txt"
    if not detail.run_dir or not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip()]


def flaky_json(found: Sequence[Flakiness]) -> list[dict[str, object]]:
    """Flagged tests for ``amoskys stats`` (its ``extra["flaky_tests"]``)."""
    return [
        {
            "test_id": f.test_id,
            "score": f.score,
            "runs": f.runs,
            "flaky_runs": f.flaky_runs,
            "flips": f.flips,
            "last_run": f.last_run,
        }
        for f in found
        if f.flagged
    ]


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename: never a half-written report."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        temp.replace(path)
    except OSError as err:
        temp.unlink(missing_ok=True)
        raise AmoskysError(f"cannot write {path}: {err.strerror}") from None


@click.command(name="stats")
@click.option("--since", default="30d", show_default=True, help="30d, 12h, 2w or a date.")
@click.option("--workflow", default=None, help="Only this workflow (path).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats_command(since: str, workflow: str | None, as_json: bool) -> int:
    """The pipeline's metrics: success rate, durations, tests, coverage trend."""
    start = parse_since(since, time.time())
    with opened_store() as (store, _):
        stats = store.stats(since=start, workflow=workflow)
        flaky = flaky_json(store.flakiness())
    if flaky:
        stats = replace(stats, extra={**stats.extra, "flaky_tests": flaky})
    if as_json:
        click.echo(json.dumps(stats_json(stats), indent=2))
    else:
        width = shutil.get_terminal_size((100, 20)).columns
        click.echo(render_stats(stats, console_width=width))
    return 0


@click.command(name="gc")
@click.option("--keep-days", type=click.IntRange(0), default=30, show_default=True)
@click.option("--keep-runs", type=click.IntRange(0), default=100, show_default=True)
@click.option(
    "--env-cache",
    is_flag=True,
    help="Also drop the cached job environments (setup-python rebuilds them on the next run).",
)
@click.option(
    "--keep-results",
    type=click.IntRange(0),
    default=None,
    help="Result-cache entries kept per job instance, newest first [default: 5] (those of "
    "runs no longer in the history always go).",
)
def gc_command(keep_days: int, keep_runs: int, env_cache: bool, keep_results: int | None) -> int:
    """Delete old runs' logs, workspaces and artifacts; keep the rows metrics come from.
    Prune the result cache."""
    from amoskys.run.result_cache import KEEP_PER_JOB, ResultIndex

    if keep_results is None:
        keep_results = KEEP_PER_JOB
    with opened_store() as (store, folder):
        if env_cache:
            from amoskys.run.cache_store import project_store
            from amoskys.run.env_cache import EnvCache

            dropped = EnvCache(project_store(folder.parent).envs).clear()
            click.echo(f"dropped {dropped} cached job environment(s)")
        old = store.runs_older_than(keep_days=keep_days, keep_runs=keep_runs)
        freed = 0
        for _, run_dir in old:
            target = (folder / run_dir).resolve()
            if folder.resolve() not in target.parents:
                continue  # never delete outside the state folder
            freed += _size(target)
            shutil.rmtree(target, ignore_errors=True)
        workspaces = folder / "workspaces"
        if workspaces.is_dir():
            for leftover in workspaces.iterdir():
                if time.time() - leftover.stat().st_mtime > keep_days * 86400:
                    freed += _size(leftover)
                    shutil.rmtree(leftover, ignore_errors=True)
        store.forget_details([run_id for run_id, _ in old])
        pruned = ResultIndex(folder).prune(store.run_starts, keep_results)
    click.echo(f"removed the logs and artifacts of {len(old)} run(s), {freed / 1e6:.1f} MB")
    click.echo(f"pruned {pruned} result-cache entr{'y' if pruned == 1 else 'ies'}")
    return 0


def _size(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


COMMANDS = (runs_group, logs_command, report_command, stats_command, gc_command)
