"""What the history store keeps and gives back: frozen records, no database types.

The store (``amoskys.store.db``) writes and reads these; collectors produce test results
and metrics; reports and stats consume the read side. Times are Unix seconds (float, UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class TestCaseResult:
    """One test case from a JUnit report."""

    __test__ = False  # a name pytest would otherwise try to collect
    test_id: str  # "tests/test_x.py::TestA::test_b" (pytest node id when derivable)
    file: str | None
    name: str
    classname: str
    outcome: str  # passed | failed | error | skipped
    duration: float  # seconds
    message: str = ""  # failure/error/skip message (first line) and details, masked


@dataclass(frozen=True)
class Metric:
    """A number measured for a run or a job instance."""

    name: str  # e.g. "coverage.line", "coverage.branch", "tests.passed", "tests.duration"
    value: float
    unit: str = ""  # "%", "s", "count"
    scope: str = "job"  # "job" or "run"


@dataclass(frozen=True)
class ArtifactRecord:
    name: str
    size: int
    sha256: str
    path: str  # relative to the run folder


@dataclass(frozen=True)
class StepRecord:
    id: int
    index: int
    name: str
    step_id: str | None
    outcome: str | None  # None while running
    conclusion: str | None
    exit_code: int | None
    started: float | None
    finished: float | None
    log_path: str | None  # relative to the state folder
    log_lines: int = 0

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)


@dataclass(frozen=True)
class JobRecord:
    id: int
    key: str
    name: str
    job_id: str
    matrix: Mapping[str, Any]
    runner: str
    status: str  # running | success | failure | cancelled | skipped | timed_out | not_run
    conclusion: str | None
    reason: str
    started: float | None
    finished: float | None
    steps: tuple[StepRecord, ...] = ()
    tests: tuple[TestCaseResult, ...] = ()
    metrics: tuple[Metric, ...] = ()

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)


@dataclass(frozen=True)
class RunRecord:
    """One row of ``amoskys runs list``."""

    id: int
    workflow: str  # workflow paths, comma-separated when several
    trigger: str  # cli | push | pull_request | schedule | workflow_dispatch | ...
    event: str
    ref: str
    branch: str
    sha: str
    actor: str
    workflow_sha256: str
    status: str  # running | success | failure | cancelled | interrupted
    started: float
    finished: float | None
    jobs_total: int = 0
    jobs_failed: int = 0  # failed or timed out
    jobs_ok: int = 0  # passed (or served from the result cache) or skipped

    @property
    def duration(self) -> float | None:
        if self.finished is None:
            return None
        return max(0.0, self.finished - self.started)


@dataclass(frozen=True)
class RunDetail:
    """One run with everything under it (``amoskys runs show``, reports)."""

    run: RunRecord
    jobs: tuple[JobRecord, ...] = ()
    metrics: tuple[Metric, ...] = ()  # run-scoped
    artifacts: tuple[ArtifactRecord, ...] = ()
    run_dir: str = ""  # the run's folder (logs, reports), relative to the state folder


@dataclass(frozen=True)
class JobStats:
    name: str  # job id (matrix instances of one job aggregate under the instance name)
    runs: int
    success_rate: float  # 0..1
    median_duration: float
    p95_duration: float


@dataclass(frozen=True)
class Stats:
    """``amoskys stats``: the seed's pipeline metrics over a period."""

    since: float
    runs: int
    success_rate: float  # 0..1 over finished runs
    median_duration: float | None
    p95_duration: float | None
    jobs: tuple[JobStats, ...] = ()
    tests_total: int = 0
    tests_passed: int = 0  # plain passes
    tests_flaky: int = 0  # failed, then passed on a re-run: not in tests_passed
    test_pass_rate: float | None = None  # (passed + flaky) / not skipped, as the gate counts
    slowest_tests: tuple[tuple[str, float], ...] = ()  # (test id, median seconds)
    coverage_trend: tuple[tuple[float, float], ...] = ()  # (run started, line coverage %)
    extra: Mapping[str, Any] = field(default_factory=dict)
