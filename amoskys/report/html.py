"""One run as one self-contained HTML page (:func:`render_html`) or as data (:func:`render_json`).

The page has inline CSS only: no script, no external resource (a Content-Security-Policy meta
tag says so to the browser too), ``<details>`` for folding, light and dark colours following
``prefers-color-scheme``, and a print style that unfolds everything. Every value that comes
from a record is escaped; log lines lose their terminal colour codes and control characters.

Sections, in order: summary (workflow, trigger/event, ref, commit, actor, status, start,
duration, jobs by status, test counts), jobs (one row per job instance, then each job's
steps), tests (failures first with their messages, then the rest folded), failed steps with
the tail of their logs, coverage per job, artifacts.

:func:`render_json` returns the same content as JSON-serialisable data. Top-level keys:

``schema``
    ``"amoskys.report/1"``.
``run``
    The run record: ``id``, ``workflow``, ``trigger``, ``event``, ``ref``, ``branch``,
    ``sha``, ``actor``, ``workflow_sha256``, ``status``, ``started``, ``finished`` (Unix
    seconds or null), ``started_iso``, ``finished_iso`` (UTC, ISO 8601) and ``duration``
    (seconds, null while running).
``summary``
    ``jobs_total``, ``jobs_by_status`` (status → count), ``tests`` (``total``, ``passed``,
    ``failed``, ``error``, ``skipped``, ``flaky``, ``other``) and ``note`` (why the run is
    incomplete, or null).
``jobs``
    One object per job instance, in run order: ``id``, ``key``, ``name``, ``job_id``,
    ``matrix``, ``runner``, ``status``, ``conclusion``, ``reason``, ``started``,
    ``finished``, ``duration``, ``steps`` (``id``, ``index``, ``name``, ``step_id``,
    ``state``, ``outcome``, ``conclusion``, ``exit_code``, ``started``, ``finished``,
    ``duration``, ``log_path``, ``log_lines``), ``tests`` (counts as in ``summary``),
    ``coverage`` (``line``, ``branch``: percent or null) and ``metrics`` (``name``,
    ``value``, ``unit``, ``scope``).
``flaky_tests``
    Tests flaky in this run (failed, then passed on a re-run) or with a flakiness score above 0
    from their history: ``test_id``, ``outcome`` (in this run), ``score`` (0-1), ``runs``,
    ``flaky_runs``, ``flips`` (null when no history was given).
``quarantined_tests``
    The tests the run's quarantine held (their failures did not fail the tests gate):
    ``test_id``, ``outcome`` (null when it did not run).
``failed_tests``
    Test cases whose outcome is ``failed`` or ``error``, job by job: ``job`` (instance name),
    ``job_record_id``, ``test_id``, ``file``, ``name``, ``classname``, ``outcome``,
    ``duration`` and ``message``.
``other_tests``
    Every other test case, same fields.
``failed_steps``
    Steps whose outcome or conclusion is ``failure`` or ``timed_out``: the step's fields
    plus ``job``, ``job_record_id`` and ``log_tail`` (at most :data:`LOG_TAIL_LINES` lines,
    colour codes removed).
``coverage``
    Jobs (and the run, as ``scope: "run"``) with a coverage metric: ``job``,
    ``job_record_id`` (null for the run), ``scope``, ``line``, ``branch``.
``metrics``
    Run-scoped metrics.
``artifacts``
    ``name``, ``size``, ``sha256``, ``path``.
``run_dir``
    The run's folder, relative to the state folder.

Times in the page are shown in UTC.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from html import escape
from typing import Any

from amoskys.collect.flakiness import Flakiness
from amoskys.store.records import (
    ArtifactRecord,
    JobRecord,
    Metric,
    RunDetail,
    StepRecord,
    TestCaseResult,
)

SCHEMA = "amoskys.report/1"
LOG_TAIL_LINES = 50
"""How many lines of a failed step's log the report shows."""
MESSAGE_LIMIT = 20_000
"""Characters of a test's failure message kept in the page; the rest is cut with a note."""

FAILED_TEST_OUTCOMES = frozenset({"failed", "error"})
FAILED_STEP_RESULTS = frozenset({"failure", "timed_out"})

_STATUS_ORDER = (
    "failure",
    "timed_out",
    "cancelled",
    "interrupted",
    "running",
    "success",
    "skipped",
    "not_run",
)
_TONES: Mapping[str, str] = {
    "success": "ok",
    "passed": "ok",
    "failure": "bad",
    "failed": "bad",
    "error": "bad",
    "flaky": "warn",
    "timed_out": "bad",
    "interrupted": "warn",
    "running": "info",
}
_NOTES: Mapping[str, str] = {
    "running": "This run is still running: the report is a snapshot of what has finished so far.",
    "interrupted": (
        "This run was interrupted before it finished: jobs and steps are shown as they were "
        "left, and results after the interruption are missing."
    ),
}

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


# --------------------------------------------------------------------------- formatting


def format_duration(seconds: float | None) -> str:
    """``0.42s``, ``12.3s``, ``4m 05s``, ``1h 02m``; an em dash when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "\u2014"
    seconds = max(0.0, seconds)
    if round(seconds, 2) < 10:
        return f"{seconds:.2f}s"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def format_time(timestamp: float | None) -> str:
    """``2026-01-31 12:34:56 UTC``; an em dash when unknown."""
    if timestamp is None or not math.isfinite(timestamp):
        return "\u2014"
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(timestamp: float | None) -> str | None:
    """ISO 8601 in UTC (``2026-01-31T12:34:56Z``), or None."""
    if timestamp is None or not math.isfinite(timestamp):
        return None
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def format_percent(value: float | None) -> str:
    return "\u2014" if value is None else f"{value:.1f}%"


def clean_text(text: str) -> str:
    """Text safe to put in a page: no control characters, no lone surrogates."""
    text = _CONTROL.sub("\ufffd", text)
    return text.encode("utf-8", "replace").decode("utf-8")


def clean_log_line(line: str) -> str:
    """A log line as a terminal would leave it: colour codes gone, only the last ``\\r`` part."""
    line = _ANSI.sub("", line.rstrip("\r\n"))
    if "\r" in line:
        parts = [part for part in line.split("\r") if part]
        line = parts[-1] if parts else ""
    return clean_text(line)


def _e(value: object) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return escape(clean_text(str(value)), quote=True)


def _tone(status: str | None) -> str:
    return _TONES.get(status or "", "neutral")


def _badge(status: str | None, label: str | None = None) -> str:
    text = label if label is not None else (status or "\u2014")
    return f'<span class="badge t-{_tone(status)}">{_e(text)}</span>'


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    """A JSON-serialisable copy of a matrix value (YAML gives dicts, lists and scalars)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value)


def format_matrix(matrix: Mapping[str, Any]) -> str:
    """``python: 3.12, os: ubuntu-latest``; empty for a job without a matrix."""
    parts = []
    for key, value in matrix.items():
        if isinstance(value, (Mapping, list, tuple)):
            shown = json.dumps(_plain(value), sort_keys=True)
        else:
            shown = str(value)
        parts.append(f"{key}: {shown}")
    return ", ".join(parts)


# --------------------------------------------------------------------------- selection


def coverage_of(metrics: Iterable[Metric]) -> tuple[float | None, float | None]:
    """(line %, branch %) from ``coverage.line`` / ``coverage.branch`` metrics (last wins)."""
    line: float | None = None
    branch: float | None = None
    for metric in metrics:
        if metric.name == "coverage.line":
            line = _finite(metric.value)
        elif metric.name == "coverage.branch":
            branch = _finite(metric.value)
    return line, branch


def selection_of(metrics: Iterable[Metric]) -> tuple[int, int] | None:
    """(tests that ran, tests the map knows) when the job's pytest ran a test selection
    (``select.partial``, see :mod:`amoskys.select.in_run`); None for a full run."""
    values = {metric.name: metric.value for metric in metrics}
    if not values.get("select.partial"):
        return None
    return int(values.get("select.selected", 0)), int(values.get("select.known", 0))


def selection_text(metrics: Iterable[Metric]) -> str:
    """ "a selection: 14 tests ran, the map knows 1,203", or "" for a full run."""
    chosen = selection_of(metrics)
    if chosen is None:
        return ""
    return f"a selection: {chosen[0]:,} tests ran, the map knows {chosen[1]:,}"


def jobs_by_status(jobs: Iterable[JobRecord]) -> dict[str, int]:
    """Status → number of jobs, failures first, then in a fixed order, then the unknown."""
    counts = Counter(job.status for job in jobs)
    ordered = {status: counts[status] for status in _STATUS_ORDER if counts[status]}
    for status in sorted(counts):
        if status not in ordered:
            ordered[status] = counts[status]
    return ordered


def test_counts(tests: Iterable[TestCaseResult]) -> dict[str, int]:
    counts = {
        "total": 0,
        "passed": 0,
        "failed": 0,
        "error": 0,
        "skipped": 0,
        "flaky": 0,
        "other": 0,
    }
    for test in tests:
        counts["total"] += 1
        counts[test.outcome if test.outcome in counts else "other"] += 1
    return counts


def split_tests(
    jobs: Iterable[JobRecord],
) -> tuple[list[tuple[JobRecord, TestCaseResult]], list[tuple[JobRecord, TestCaseResult]]]:
    """(failed or errored tests, every other test), each job by job in recorded order."""
    failures: list[tuple[JobRecord, TestCaseResult]] = []
    others: list[tuple[JobRecord, TestCaseResult]] = []
    for job in jobs:
        for test in job.tests:
            (failures if test.outcome in FAILED_TEST_OUTCOMES else others).append((job, test))
    return failures, others


def is_failed_step(step: StepRecord) -> bool:
    return step.outcome in FAILED_STEP_RESULTS or step.conclusion in FAILED_STEP_RESULTS


def failed_steps(jobs: Iterable[JobRecord]) -> list[tuple[JobRecord, StepRecord]]:
    return [(job, step) for job in jobs for step in job.steps if is_failed_step(step)]


def step_state(step: StepRecord) -> str:
    """What to call a step's result: its conclusion, else its outcome, else where it stands."""
    if step.conclusion:
        return step.conclusion
    if step.outcome:
        return step.outcome
    if step.started is not None and step.finished is None:
        return "running"
    return "not started"


def log_tail(log_tails: Mapping[int, Sequence[str]], step: StepRecord) -> list[str]:
    return [clean_log_line(line) for line in list(log_tails.get(step.id, ()))[-LOG_TAIL_LINES:]]


def run_note(detail: RunDetail) -> str | None:
    return _NOTES.get(detail.run.status)


def _truncate(message: str) -> str:
    if len(message) <= MESSAGE_LIMIT:
        return message
    cut = len(message) - MESSAGE_LIMIT
    return f"{message[:MESSAGE_LIMIT]}\n\u2026 ({cut} more characters cut)"


# --------------------------------------------------------------------------- JSON


def _metric_json(metric: Metric) -> dict[str, Any]:
    return {
        "name": metric.name,
        "value": _finite(metric.value),
        "unit": metric.unit,
        "scope": metric.scope,
    }


def _step_json(step: StepRecord) -> dict[str, Any]:
    return {
        "id": step.id,
        "index": step.index,
        "name": step.name,
        "step_id": step.step_id,
        "state": step_state(step),
        "outcome": step.outcome,
        "conclusion": step.conclusion,
        "exit_code": step.exit_code,
        "started": step.started,
        "finished": step.finished,
        "duration": step.duration,
        "log_path": step.log_path,
        "log_lines": step.log_lines,
    }


def _test_json(job: JobRecord, test: TestCaseResult) -> dict[str, Any]:
    return {
        "job": job.name,
        "job_record_id": job.id,
        "test_id": test.test_id,
        "file": test.file,
        "name": test.name,
        "classname": test.classname,
        "outcome": test.outcome,
        "duration": _finite(test.duration),
        "message": test.message,
    }


def _artifact_json(artifact: ArtifactRecord) -> dict[str, Any]:
    return {
        "name": artifact.name,
        "size": artifact.size,
        "sha256": artifact.sha256,
        "path": artifact.path,
    }


def _coverage_rows(detail: RunDetail) -> list[tuple[JobRecord | None, float | None, float | None]]:
    rows: list[tuple[JobRecord | None, float | None, float | None]] = []
    for job in detail.jobs:
        line, branch = coverage_of(job.metrics)
        if line is not None or branch is not None:
            rows.append((job, line, branch))
    line, branch = coverage_of(detail.metrics)
    if line is not None or branch is not None:
        rows.append((None, line, branch))
    return rows


def render_json(
    detail: RunDetail,
    *,
    log_tails: Mapping[int, Sequence[str]],
    flakiness: Sequence[Flakiness] = (),
    quarantined: Sequence[str] = (),
) -> dict[str, Any]:
    """The report's content as JSON-serialisable data; see the module docstring for the keys.

    ``flakiness`` (scores of this run's tests from the history) and ``quarantined`` (the test
    ids the run's quarantine held) add ``flaky_tests`` and ``quarantined_tests``.
    """
    run = detail.run
    all_tests = [test for job in detail.jobs for test in job.tests]
    failures, others = split_tests(detail.jobs)
    return {
        "schema": SCHEMA,
        "run": {
            "id": run.id,
            "workflow": run.workflow,
            "trigger": run.trigger,
            "event": run.event,
            "ref": run.ref,
            "branch": run.branch,
            "sha": run.sha,
            "actor": run.actor,
            "workflow_sha256": run.workflow_sha256,
            "status": run.status,
            "started": run.started,
            "finished": run.finished,
            "started_iso": iso_time(run.started),
            "finished_iso": iso_time(run.finished),
            "duration": run.duration,
        },
        "summary": {
            "jobs_total": len(detail.jobs) or run.jobs_total,
            "jobs_by_status": jobs_by_status(detail.jobs),
            "tests": test_counts(all_tests),
            "note": run_note(detail),
        },
        "jobs": [
            {
                "id": job.id,
                "key": job.key,
                "name": job.name,
                "job_id": job.job_id,
                "matrix": _plain(job.matrix),
                "runner": job.runner,
                "status": job.status,
                "conclusion": job.conclusion,
                "reason": job.reason,
                "started": job.started,
                "finished": job.finished,
                "duration": job.duration,
                "steps": [_step_json(step) for step in job.steps],
                "tests": test_counts(job.tests),
                "coverage": dict(zip(("line", "branch"), coverage_of(job.metrics))),
                "selection": _selection_json(job.metrics),
                "metrics": [_metric_json(metric) for metric in job.metrics],
            }
            for job in detail.jobs
        ],
        "flaky_tests": _flaky_json(detail, flakiness),
        "quarantined_tests": _quarantined_json(detail, quarantined),
        "failed_tests": [_test_json(job, test) for job, test in failures],
        "other_tests": [_test_json(job, test) for job, test in others],
        "failed_steps": [
            {
                **_step_json(step),
                "job": job.name,
                "job_record_id": job.id,
                "log_tail": log_tail(log_tails, step),
            }
            for job, step in failed_steps(detail.jobs)
        ],
        "coverage": [
            {
                "job": job.name if job is not None else None,
                "job_record_id": job.id if job is not None else None,
                "scope": "job" if job is not None else "run",
                "line": line,
                "branch": branch,
            }
            for job, line, branch in _coverage_rows(detail)
        ],
        "metrics": [_metric_json(metric) for metric in detail.metrics],
        "artifacts": [_artifact_json(artifact) for artifact in detail.artifacts],
        "run_dir": detail.run_dir,
    }


# --------------------------------------------------------------------------- HTML

_CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;
--panel:#f6f8fa;--code:#f6f8fa;--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;
--warn:#9a6700;--warn-bg:#fff8c5;--info:#0969da;--info-bg:#ddf4ff;--neutral:#59636e;
--neutral-bg:#eff2f5}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--line:#3d444d;--panel:#151b23;--code:#151b23;--ok:#3fb950;--ok-bg:#12261e;--bad:#f85149;
--bad-bg:#2d1214;--warn:#d29922;--warn-bg:#272115;--info:#4493f8;--info-bg:#121d2f;
--neutral:#9198a1;--neutral-bg:#212830}}
*{box-sizing:border-box}
html{background:var(--bg)}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:28px 24px 48px}
a{color:var(--info)}
header .subtitle{margin:2px 0 0}
header .eyebrow{margin:0;font-size:12px;letter-spacing:.06em;text-transform:uppercase}
h1{font-size:24px;margin:2px 0 0;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
h2{font-size:17px;margin:34px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:18px 0 6px}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,
"Liberation Mono",monospace;font-size:12.5px}
.mono{overflow-wrap:anywhere}
td.matrix{overflow-wrap:normal;min-width:12em}
.muted{color:var(--muted)}
.badge{display:inline-block;padding:0 9px;border-radius:999px;font-size:12px;font-weight:600;
line-height:20px;border:1px solid currentColor;white-space:nowrap}
h1 .badge{font-size:14px;line-height:24px;padding:0 12px}
.t-ok{color:var(--ok);background:var(--ok-bg)}
.t-bad{color:var(--bad);background:var(--bad-bg)}
.t-warn{color:var(--warn);background:var(--warn-bg)}
.t-info{color:var(--info);background:var(--info-bg)}
.t-neutral{color:var(--neutral);background:var(--neutral-bg)}
.note{padding:10px 14px;border-radius:8px;border:1px solid currentColor;margin:14px 0}
.note p{margin:0;color:var(--fg)}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:6px 20px;margin:14px 0;
padding:16px 18px;background:var(--panel);border:1px solid var(--line);border-radius:10px}
@media (min-width:760px){dl.summary{grid-template-columns:max-content 1fr max-content 1fr}
dl.summary dt.wide{grid-column:1}dl.summary dt.wide+dd{grid-column:2/5}}
dl.summary dt{color:var(--muted)}
dl.summary dd{margin:0;overflow-wrap:anywhere}
.counts{display:flex;gap:6px;flex-wrap:wrap}
.table-wrap{overflow-x:auto}
table{width:100%;border-collapse:collapse;margin:6px 0 12px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:11.5px;color:var(--muted);font-weight:600;text-transform:uppercase;
letter-spacing:.04em;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.bad>td:first-child{box-shadow:inset 3px 0 var(--bad)}
pre{background:var(--code);border:1px solid var(--line);border-radius:6px;padding:10px 12px;
overflow:auto;max-height:34em;margin:8px 0 0;white-space:pre;line-height:1.45}
pre.msg{white-space:pre-wrap;overflow-wrap:anywhere;max-height:22em}
pre.log{max-height:none}
details{margin:10px 0;border:1px solid var(--line);border-radius:8px;padding:0 14px}
details>summary{cursor:pointer;padding:9px 0;font-weight:600}
details[open]>summary{border-bottom:1px solid var(--line);margin-bottom:6px}
details>summary .badge{margin-left:8px}
.failure{border:1px solid var(--line);border-left:4px solid var(--bad);border-radius:8px;
padding:10px 14px;margin:10px 0}
.failure h3,.failure h4{margin:0 0 2px;font-size:14px;overflow-wrap:anywhere}
.failure .meta{margin:0;font-size:12.5px}
.empty{color:var(--muted);font-style:italic}
svg.bar{vertical-align:middle;margin-left:10px}
svg.bar .track{fill:var(--neutral-bg);stroke:var(--line);stroke-width:.5}
svg.bar .fill.t-ok{fill:var(--ok)}
svg.bar .fill.t-warn{fill:var(--warn)}
svg.bar .fill.t-bad{fill:var(--bad)}
footer{margin-top:44px;padding-top:10px;border-top:1px solid var(--line);color:var(--muted);
font-size:12px}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--line:#bbb;--panel:#fff;--code:#fff;
--ok:#116329;--ok-bg:#fff;--bad:#a40e26;--bad-bg:#fff;--warn:#7d4e00;--warn-bg:#fff;
--info:#0550ae;--info-bg:#fff;--neutral:#444;--neutral-bg:#eee}
body{font-size:10.5pt}main{max-width:none;padding:0}
pre{max-height:none;overflow:visible;white-space:pre-wrap;overflow-wrap:anywhere}
.table-wrap{overflow:visible}
tr,.failure,dl.summary{break-inside:avoid}h2,h3{break-after:avoid}
details{border:none;padding:0}details>summary{list-style:none}}
@media print{details::details-content{content-visibility:visible;display:block}}
"""


def _time_tag(timestamp: float | None) -> str:
    stamp = iso_time(timestamp)
    if stamp is None:
        return "\u2014"
    return f'<time datetime="{_e(stamp)}">{_e(format_time(timestamp))}</time>'


def _coverage_tone(percent: float) -> str:
    if percent >= 80:
        return "ok"
    if percent >= 50:
        return "warn"
    return "bad"


def _coverage_cell(percent: float | None, label: str) -> str:
    if percent is None:
        return '<td class="num muted">\u2014</td>'
    width = max(0.0, min(100.0, percent))
    tone = _coverage_tone(percent)
    svg = (
        f'<svg class="bar" width="120" height="10" viewBox="0 0 100 10" role="img" '
        f'aria-label="{_e(label)} coverage {_e(format_percent(percent))}">'
        '<rect class="track" x="0" y="0" width="100" height="10" rx="2"/>'
        f'<rect class="fill t-{tone}" x="0" y="0" width="{width:.1f}" height="10" rx="2"/>'
        "</svg>"
    )
    return f'<td class="num">{_e(format_percent(percent))}{svg}</td>'


def _counts_html(counts: Mapping[str, int]) -> str:
    if not counts:
        return '<span class="muted">none recorded</span>'
    badges = "".join(_badge(status, f"{number} {status}") for status, number in counts.items())
    return f'<span class="counts">{badges}</span>'


def _test_counts_html(counts: Mapping[str, int]) -> str:
    if not counts["total"]:
        return '<span class="muted">no test results</span>'
    badges = [
        _badge(key, f"{counts[key]} {key}")
        for key in ("failed", "error", "flaky", "passed", "skipped")
        if counts[key]
    ]
    if counts["other"]:
        badges.append(_badge(None, f"{counts['other']} other"))
    total = _e(f"{counts['total']} total")
    return f'<span class="counts">{total} {"".join(badges)}</span>'


def _summary_html(detail: RunDetail) -> list[str]:
    run = detail.run
    all_tests = [test for job in detail.jobs for test in job.tests]
    trigger = (
        run.trigger if run.event in ("", run.trigger) else f"{run.trigger} (event {run.event})"
    )
    ref = run.ref
    if run.branch and run.branch not in run.ref:
        ref = f"{run.ref} (branch {run.branch})"
    duration = format_duration(run.duration)
    if run.finished is None:
        duration = "still running" if run.status == "running" else "unknown (not finished)"
    jobs_total = len(detail.jobs) or run.jobs_total
    rows = [
        ("Status", _badge(run.status), False),
        ("Duration", _e(duration), False),
        ("Started", _time_tag(run.started), False),
        ("Finished", _time_tag(run.finished), False),
        ("Workflow", f'<span class="mono">{_e(run.workflow)}</span>', False),
        ("Trigger", _e(trigger), False),
        ("Ref", f'<span class="mono">{_e(ref or chr(0x2014))}</span>', False),
        (
            "Commit",
            f'<span class="mono" title="{_e(run.sha)}">{_e(run.sha[:12] or chr(0x2014))}</span>',
            False,
        ),
        ("Actor", _e(run.actor or "\u2014"), True),
        (f"Jobs ({jobs_total})", _counts_html(jobs_by_status(detail.jobs)), True),
        ("Tests", _test_counts_html(test_counts(all_tests)), True),
    ]
    out = ['<section id="summary" aria-label="Summary">', '<dl class="summary">']
    for label, value, wide in rows:
        term = '<dt class="wide">' if wide else "<dt>"
        out.append(f"{term}{_e(label)}</dt><dd>{value}</dd>")
    out.append("</dl>")
    note = run_note(detail)
    if note is not None:
        out.append(f'<div class="note t-{_tone(run.status)}"><p>{_e(note)}</p></div>')
    out.append("</section>")
    return out


def _selection_json(metrics: Iterable[Metric]) -> dict[str, int] | None:
    chosen = selection_of(metrics)
    return None if chosen is None else {"selected": chosen[0], "known": chosen[1]}


def _selection_html(metrics: Iterable[Metric], after_text: bool) -> str:
    """The note that a job's tests were a selection (its counts are not the suite's)."""
    text = selection_text(metrics)
    if not text:
        return ""
    return f'{"<br>" if after_text else ""}<span class="muted">tests: {_e(text)}</span>'


def _jobs_html(detail: RunDetail) -> list[str]:
    out = ['<section id="jobs">', "<h2>Jobs</h2>"]
    if not detail.jobs:
        out.append('<p class="empty">No job of this run was recorded.</p>')
        out.append("</section>")
        return out
    out.append('<div class="table-wrap"><table>')
    out.append(
        "<thead><tr><th>Job</th><th>Matrix</th><th>Status</th><th>Conclusion</th>"
        '<th class="num">Duration</th><th>Reason</th></tr></thead><tbody>'
    )
    for job in detail.jobs:
        row_class = ' class="bad"' if _tone(job.status) == "bad" else ""
        out.append(
            f"<tr{row_class}>"
            f'<td><a href="#job-{job.id}">{_e(job.name)}</a></td>'
            f'<td class="mono matrix">{_e(format_matrix(job.matrix))}</td>'
            f"<td>{_badge(job.status)}</td>"
            f"<td>{_badge(job.conclusion) if job.conclusion else chr(0x2014)}</td>"
            f'<td class="num">{_e(format_duration(job.duration))}</td>'
            f"<td>{_e(job.reason)}{_selection_html(job.metrics, bool(job.reason))}</td></tr>"
        )
    out.append("</tbody></table></div>")
    out.append("<h3>Steps</h3>")
    for job in detail.jobs:
        is_open = " open" if _tone(job.status) == "bad" else ""
        out.append(f'<details id="job-{job.id}"{is_open}>')
        runner = f" on {job.runner}" if job.runner else ""
        out.append(
            f"<summary>{_e(job.name)}{_badge(job.status)}"
            f' <span class="muted">{_e(runner)}</span></summary>'
        )
        if not job.steps:
            out.append('<p class="empty">No step ran.</p>')
        else:
            out.append('<div class="table-wrap"><table>')
            out.append(
                '<thead><tr><th class="num">#</th><th>Step</th><th>Result</th>'
                '<th class="num">Exit code</th><th class="num">Duration</th></tr></thead><tbody>'
            )
            for step in job.steps:
                state = step_state(step)
                result = _badge(state)
                if step.outcome and step.conclusion and step.outcome != step.conclusion:
                    result += f' <span class="muted">(outcome {_e(step.outcome)})</span>'
                name = _e(step.name)
                if is_failed_step(step):
                    name = f'<a href="#log-{step.id}">{name}</a>'
                exit_code = "\u2014" if step.exit_code is None else str(step.exit_code)
                row_class = ' class="bad"' if is_failed_step(step) else ""
                out.append(
                    f'<tr{row_class}><td class="num">{step.index}</td><td>{name}</td>'
                    f'<td>{result}</td><td class="num">{_e(exit_code)}</td>'
                    f'<td class="num">{_e(format_duration(step.duration))}</td></tr>'
                )
            out.append("</tbody></table></div>")
        out.append("</details>")
    out.append("</section>")
    return out


def _tests_html(detail: RunDetail) -> list[str]:
    failures, others = split_tests(detail.jobs)
    out = ['<section id="tests">', "<h2>Tests</h2>"]
    if not failures and not others:
        out.append('<p class="empty">No test results were collected for this run.</p>')
        out.append("</section>")
        return out
    several_jobs = len({job.id for job, _ in failures + others}) > 1
    out.append(f'<section id="test-failures"><h3>Failures ({len(failures)})</h3>')
    if not failures:
        out.append('<p class="empty">No test failed.</p>')
    for job, test in failures:
        where = f" in {job.name}" if several_jobs else ""
        out.append('<div class="failure">')
        out.append(f'<h4 class="mono">{_e(test.test_id or test.name)}</h4>')
        out.append(
            f'<p class="meta muted">{_badge(test.outcome)} {_e(format_duration(test.duration))}'
            f"{_e(where)}</p>"
        )
        if test.message:
            out.append(f'<pre class="msg">{_e(_truncate(test.message))}</pre>')
        out.append("</div>")
    out.append("</section>")
    if others:
        passed = sum(1 for _, test in others if test.outcome == "passed")
        label = f"Passed and other tests ({len(others)}: {passed} passed)"
        out.append(f'<details id="test-others"><summary>{_e(label)}</summary>')
        out.append('<div class="table-wrap"><table>')
        out.append(
            "<thead><tr><th>Test</th><th>Job</th><th>Outcome</th>"
            '<th class="num">Duration</th></tr></thead><tbody>'
        )
        for job, test in others:
            message = ""
            if test.message:
                first = test.message.strip().splitlines()[0] if test.message.strip() else ""
                message = f'<br><span class="muted">{_e(first[:300])}</span>'
            out.append(
                f'<tr><td class="mono">{_e(test.test_id or test.name)}{message}</td>'
                f"<td>{_e(job.name)}</td><td>{_badge(test.outcome)}</td>"
                f'<td class="num">{_e(format_duration(test.duration))}</td></tr>'
            )
        out.append("</tbody></table></div></details>")
    out.append("</section>")
    return out


def flaky_rows(
    detail: RunDetail, flakiness: Sequence[Flakiness]
) -> list[tuple[str, str, Flakiness | None]]:
    """(test id, outcome in this run, its score) of every test that was flaky in this run or
    has a score above 0 from its history; highest score first."""
    outcomes: dict[str, str] = {}
    for job in detail.jobs:
        for test in job.tests:
            if outcomes.get(test.test_id) != "flaky":
                outcomes[test.test_id] = test.outcome
    scored = {f.test_id: f for f in flakiness if f.score > 0 and f.test_id in outcomes}
    wanted = set(scored) | {test_id for test_id, out in outcomes.items() if out == "flaky"}
    rows = [(test_id, outcomes[test_id], scored.get(test_id)) for test_id in wanted]
    rows.sort(key=lambda row: (-(row[2].score if row[2] else 0.0), row[0]))
    return rows


def _flaky_json(detail: RunDetail, flakiness: Sequence[Flakiness]) -> list[dict[str, Any]]:
    return [
        {
            "test_id": test_id,
            "outcome": outcome,
            "score": found.score if found else None,
            "runs": found.runs if found else None,
            "flaky_runs": found.flaky_runs if found else None,
            "flips": found.flips if found else None,
        }
        for test_id, outcome, found in flaky_rows(detail, flakiness)
    ]


def _quarantined_json(detail: RunDetail, quarantined: Sequence[str]) -> list[dict[str, Any]]:
    outcomes = {test.test_id: test.outcome for job in detail.jobs for test in job.tests}
    return [
        {"test_id": test_id, "outcome": outcomes.get(test_id)} for test_id in sorted(quarantined)
    ]


def _flaky_html(
    detail: RunDetail, flakiness: Sequence[Flakiness], quarantined: Sequence[str]
) -> list[str]:
    rows = flaky_rows(detail, flakiness)
    held = _quarantined_json(detail, quarantined)
    if not rows and not held:
        return []
    out = ['<section id="flaky-tests">', "<h2>Flaky and quarantined tests</h2>"]
    if rows:
        out.append('<div class="table-wrap"><table>')
        out.append(
            '<thead><tr><th>Test</th><th>This run</th><th class="num">Score</th>'
            "<th>Evidence</th></tr></thead><tbody>"
        )
        for test_id, outcome, found in rows:
            score = f"{found.score:.2f}" if found else "-"
            evidence = (
                f"{found.flaky_runs} flaky, {found.flips} flips in {found.runs} runs"
                if found
                else "passed on a re-run"
            )
            out.append(
                f'<tr><td class="mono">{_e(test_id)}</td><td>{_badge(outcome)}</td>'
                f'<td class="num">{_e(score)}</td><td>{_e(evidence)}</td></tr>'
            )
        out.append("</tbody></table></div>")
    if held:
        out.append(f"<h3>Quarantined ({len(held)}): run, but not counted by the tests gate</h3>")
        out.append("<ul>")
        for item in held:
            outcome = item["outcome"] or "did not run"
            out.append(
                f'<li><span class="mono">{_e(item["test_id"])}</span> {_badge(outcome)}</li>'
            )
        out.append("</ul>")
    out.append("</section>")
    return out


def _failed_steps_html(detail: RunDetail, log_tails: Mapping[int, Sequence[str]]) -> list[str]:
    steps = failed_steps(detail.jobs)
    if not steps:
        return []
    out = ['<section id="failed-steps">', f"<h2>Failed steps ({len(steps)})</h2>"]
    for job, step in steps:
        tail = log_tail(log_tails, step)
        facts = [f"step {step.index}"]
        if step.exit_code is not None:
            facts.append(f"exit code {step.exit_code}")
        if step.outcome and step.conclusion and step.outcome != step.conclusion:
            facts.append(
                f"outcome {step.outcome}, conclusion {step.conclusion} (continue-on-error)"
            )
        facts.append(format_duration(step.duration))
        if tail:
            total = max(step.log_lines, len(tail))
            facts.append(
                f"last {len(tail)} of {total} log lines"
                if total > len(tail)
                else f"{len(tail)} log lines"
            )
        if step.log_path:
            facts.append(f"log: {step.log_path}")
        out.append(f'<div class="failure" id="log-{step.id}">')
        out.append(f"<h3>{_e(job.name)} \u203a {_e(step.name)} {_badge(step_state(step))}</h3>")
        out.append(f'<p class="meta muted">{_e(" · ".join(facts))}</p>')
        if tail:
            out.append(f'<pre class="log">{_e(chr(10).join(tail))}</pre>')
        else:
            out.append('<p class="empty">No log output was captured for this step.</p>')
        out.append("</div>")
    out.append("</section>")
    return out


def _coverage_html(detail: RunDetail) -> list[str]:
    rows = _coverage_rows(detail)
    out = ['<section id="coverage">', "<h2>Coverage</h2>"]
    if not rows:
        out.append('<p class="empty">No coverage was measured in this run.</p>')
        out.append("</section>")
        return out
    out.append('<div class="table-wrap"><table>')
    out.append(
        '<thead><tr><th>Job</th><th class="num">Lines</th><th class="num">Branches</th>'
        "</tr></thead><tbody>"
    )
    for job, line, branch in rows:
        name = _e(job.name) if job is not None else '<span class="muted">whole run</span>'
        out.append(
            f"<tr><td>{name}</td>{_coverage_cell(line, 'line')}"
            f"{_coverage_cell(branch, 'branch')}</tr>"
        )
    out.append("</tbody></table></div></section>")
    return out


def _artifacts_html(detail: RunDetail) -> list[str]:
    if not detail.artifacts:
        return []
    out = ['<section id="artifacts">', "<h2>Artifacts</h2>", '<div class="table-wrap"><table>']
    out.append(
        '<thead><tr><th>Name</th><th class="num">Size</th><th>SHA-256</th><th>Path</th>'
        "</tr></thead><tbody>"
    )
    for artifact in detail.artifacts:
        out.append(
            f'<tr><td>{_e(artifact.name)}</td><td class="num">{_e(_size(artifact.size))}</td>'
            f'<td class="mono" title="{_e(artifact.sha256)}">{_e(artifact.sha256[:16])}</td>'
            f'<td class="mono">{_e(artifact.path)}</td></tr>'
        )
    out.append("</tbody></table></div></section>")
    return out


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def _subtitle(detail: RunDetail) -> str:
    run = detail.run
    parts = [run.workflow, run.trigger]
    if run.branch or run.ref:
        parts.append(run.branch or run.ref)
    if run.sha:
        parts.append(run.sha[:7])
    parts.append(format_time(run.started))
    return " \u00b7 ".join(part for part in parts if part)


def render_html(
    detail: RunDetail,
    *,
    log_tails: Mapping[int, Sequence[str]],
    flakiness: Sequence[Flakiness] = (),
    quarantined: Sequence[str] = (),
) -> str:
    """One self-contained HTML5 page for the run (inline CSS, no script, no external resource).

    ``flakiness`` and ``quarantined`` (see :func:`render_json`) add the tests section's list
    of flaky and quarantined tests.

    ``log_tails`` maps a step record's id to the last lines of its log; only failed steps'
    tails are shown, at most :data:`LOG_TAIL_LINES` lines each.
    """
    run = detail.run
    title = f"Run #{run.id} {run.status} \u2014 {run.workflow}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="color-scheme" content="light dark">',
        '<meta name="generator" content="Amoskys">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        '<p class="eyebrow muted">Amoskys run report</p>',
        f"<h1>Run #{_e(run.id)} {_badge(run.status)}</h1>",
        f'<p class="subtitle muted">{_e(_subtitle(detail))}</p>',
        "</header>",
    ]
    parts += _summary_html(detail)
    parts += _jobs_html(detail)
    parts += _tests_html(detail)
    parts += _flaky_html(detail, flakiness, quarantined)
    parts += _failed_steps_html(detail, log_tails)
    parts += _coverage_html(detail)
    parts += _artifacts_html(detail)
    footer = f"Generated by Amoskys from run {run.id}"
    if detail.run_dir:
        footer += f" \u00b7 run folder {detail.run_dir}"
    footer += f" \u00b7 times in UTC \u00b7 data schema {SCHEMA}"
    parts += [f"<footer>{_e(footer)}</footer>", "</main>", "</body>", "</html>", ""]
    return "\n".join(parts)
