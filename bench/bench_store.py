"""The history store at scale: ``list_runs`` and ``stats`` over 100,000 runs on SQLite.

A temporary SQLite file gets its schema from the real migrations (``open_store``), then
``--runs`` runs (default 100,000) spread evenly over ``--days`` days (default 365, so about
8,200 runs fall in ``stats``' 30-day window), in realistic proportions: 5 jobs per run (lint,
typecheck, a test job with two matrix instances, build), 6 steps per job each with its log
index row, 50 test results on each of the 2 test instances, 4 metrics per job, 1 artifact per
run; 12 % of the runs fail. Rows go in by ``executemany`` in transactions of 5,000 runs, with
the summary columns and ``durations`` histograms filled exactly as :class:`Store` fills them.

Then, in this process, through :class:`amoskys.store.db.Store`: ``list_runs(limit=20)`` and
``stats(since=30 days ago)``, ``--repeat`` times each (after one warm-up call), median and p95
in milliseconds, against the plain baseline ``SELECT * FROM runs ORDER BY started DESC``
fetched whole (sqlite3, no ORM). Also ``get_run`` of the newest run, and the file's size per
run. Run: ``python bench/bench_store.py [--runs N] [--days D] [--repeat R] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from amoskys.store import histogram  # noqa: E402
from amoskys.store.db import Store, open_store  # noqa: E402

DAY = 86_400
TARGET_MS = 200.0
BATCH = 5_000
WORKFLOW = ".github/workflows/ci-cd.yml"
JOBS = (  # (job id, name, matrix, has tests)
    ("lint", "lint", {}, False),
    ("typecheck", "typecheck", {}, False),
    ("test", "test (3.11)", {"python-version": "3.11"}, True),
    ("test", "test (3.12)", {"python-version": "3.12"}, True),
    ("build", "build", {}, False),
)
STEPS = ("Set up job", "Checkout", "Set up Python", "Install", "Run", "Post Checkout")
TESTS = 50
POOL = 4_099  # pre-drawn duration jitters (prime, so rows do not repeat in step)
JOB_METRICS = (("duration", "s"), ("lines", "count"), ("findings", "count"), ("warnings", "count"))
TEST_METRICS = (
    ("coverage.line", "%"),
    ("coverage.branch", "%"),
    ("tests.passed", "count"),
    ("tests.duration", "s"),
)

INSERTS = {
    "runs": "INSERT INTO runs (id, workflow, trigger, event, ref, branch, sha, actor,"
    " workflow_sha256, status, started, finished, pid, host, run_dir, jobs_total,"
    " jobs_failed, tests_total, tests_passed, tests_skipped, coverage)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "job_runs": "INSERT INTO job_runs (id, run_id, key, name, job_id, matrix, runner, status,"
    " conclusion, reason, started, finished) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "step_runs": 'INSERT INTO step_runs (id, job_run_id, "index", name, step_id, outcome,'
    " conclusion, exit_code, started, finished) VALUES (?,?,?,?,?,?,?,?,?,?)",
    "logs": "INSERT INTO logs (step_run_id, path, lines, bytes) VALUES (?,?,?,?)",
    "test_results": "INSERT INTO test_results (job_run_id, case_id, outcome, duration, message)"
    " VALUES (?,?,?,?,?)",
    "metrics": "INSERT INTO metrics (run_id, job_run_id, name, value, unit, scope)"
    " VALUES (?,?,?,?,?,?)",
    "artifacts": "INSERT INTO artifacts (run_id, job_run_id, name, size, sha256, path)"
    " VALUES (?,?,?,?,?,?)",
}


class Generator:
    """Builds the rows of ``runs`` runs ending now, and writes them in big transactions."""

    def __init__(self, db: sqlite3.Connection, runs: int, days: float) -> None:
        self.db = db
        self.runs = runs
        self.rnd = random.Random(20240601)
        self.now = time.time()
        self.first = self.now - days * DAY
        self.step = days * DAY / runs
        self.rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in INSERTS}
        self.hist: Counter[tuple[int, str, str, bool, int]] = Counter()
        self.job_id = 0
        self.step_id = 0
        self.cases = [f"tests/test_mod{k // 10}.py::test_case_{k}" for k in range(TESTS)]
        base = [self.rnd.lognormvariate(math.log(0.05), 1.5) for _ in range(TESTS)]
        jitter = [self.rnd.uniform(0.8, 1.3) for _ in range(POOL)]
        # (duration, bucket) per test and jitter, so the hot loop draws no numbers
        self.timings = [[(b * j, histogram.bucket_of(b * j)) for j in jitter] for b in base]
        self.step_seconds = [self.rnd.uniform(0.5, 40.0) for _ in range(POOL)]
        self.matrices = [json.dumps(m) for _, _, m, _ in JOBS]

    def generate(self) -> None:
        self.db.executemany(
            "INSERT INTO test_cases (id, test_id, file, name, classname) VALUES (?,?,?,?,?)",
            [
                (k + 1, t, t.partition("::")[0], t.partition("::")[2], f"tests.test_mod{k // 10}")
                for k, t in enumerate(self.cases)
            ],
        )
        for run_id in range(1, self.runs + 1):
            self.run(run_id)
            if run_id % BATCH == 0:
                self.flush()
        self.flush()
        self.db.executemany(
            "INSERT INTO durations (day, workflow, kind, subject, ok, bucket, n)"
            " VALUES (?,?,?,?,?,?,?)",
            [(d, WORKFLOW, k, s, ok, b, n) for (d, k, s, ok, b), n in self.hist.items()],
        )

    def run(self, run_id: int) -> None:
        started = self.first + run_id * self.step
        failed = self.rnd.random() < 0.12
        day = int(started // DAY)
        clock, jobs_failed, tests_passed, coverages = started, 0, 0, []
        for index, (job_id, name, _, has_tests) in enumerate(JOBS):
            self.job_id += 1
            job_started, clock = clock, self.steps(run_id, index, clock)
            status = "failure" if failed and has_tests and index == 2 else "success"
            jobs_failed += status == "failure"
            self.rows["job_runs"].append(
                (
                    self.job_id,
                    run_id,
                    f"{job_id}-{index}",
                    name,
                    job_id,
                    self.matrices[index],
                    "ubuntu-latest",
                    status,
                    status,
                    "",
                    job_started,
                    clock,
                )
            )
            seconds = clock - job_started
            bucket = histogram.bucket_of(seconds)
            self.hist[(day, "job", job_id, status == "success", bucket)] += 1
            if has_tests:
                tests_passed += self.tests(run_id, day, status == "failure")
                coverage = 80.0 + (run_id % 97) / 10
                coverages.append(coverage)
                values = (coverage, coverage - 6.0, float(TESTS), 42.0)
                names = TEST_METRICS
            else:
                values, names = (seconds, 1200.0, 0.0, 2.0), JOB_METRICS
            for (metric, unit), value in zip(names, values):
                self.rows["metrics"].append((run_id, self.job_id, metric, value, unit, "job"))
        self.rows["artifacts"].append(
            (run_id, None, "coverage", 48_213, "ab" * 32, "artifacts/coverage.zip")
        )
        self.rows["runs"].append(
            (
                run_id,
                WORKFLOW,
                "push",
                "push",
                "refs/heads/main",
                "main" if run_id % 3 else f"feature/{run_id % 17}",
                f"{run_id:040x}",
                "dev",
                "c" * 64,
                "failure" if failed else "success",
                started,
                clock,
                4242,
                "bench-host",
                f"runs/{run_id}",
                len(JOBS),
                jobs_failed,
                2 * TESTS,
                tests_passed,
                0,
                sum(coverages) / len(coverages),
            )
        )

    def steps(self, run_id: int, job_index: int, clock: float) -> float:
        for index, name in enumerate(STEPS):
            self.step_id += 1
            seconds = self.step_seconds[self.step_id % POOL]
            self.rows["step_runs"].append(
                (
                    self.step_id,
                    self.job_id,
                    index,
                    name,
                    None,
                    "success",
                    "success",
                    0,
                    clock,
                    clock + seconds,
                )
            )
            self.rows["logs"].append(
                (
                    self.step_id,
                    f"runs/{run_id}/logs/{job_index}/{index}.log",
                    int(seconds * 10),
                    int(seconds * 900),
                )
            )
            clock += seconds
        return clock

    def tests(self, run_id: int, day: int, job_failed: bool) -> int:
        rows, hist, job = self.rows["test_results"], self.hist, self.job_id
        offset = (run_id * 7 + job) % POOL
        for k, timings in enumerate(self.timings):
            duration, bucket = timings[(offset + k * 13) % POOL]
            passed = not (job_failed and k == 7)
            if passed:
                rows.append((job, k + 1, "passed", duration, ""))
            else:
                rows.append((job, k + 1, "failed", duration, "AssertionError: 3 != 4"))
            hist[(day, "test", self.cases[k], passed, bucket)] += 1
        return TESTS - (1 if job_failed else 0)

    def flush(self) -> None:
        for table, sql in INSERTS.items():
            self.db.executemany(sql, self.rows[table])
            self.rows[table].clear()
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")


def generate(path: Path, runs: int, days: float) -> float:
    """Fill the (migrated, empty) database; returns the seconds it took."""
    start = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -1000000")
        db.execute("BEGIN")
        Generator(db, runs, days).generate()
        db.execute("COMMIT")
        db.execute("ANALYZE")
        db.execute("PRAGMA journal_mode = WAL")
    finally:
        db.close()
    return time.perf_counter() - start


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float, float, float]:
    """(first call, median, p95, median CPU time of this process) in milliseconds: the CPU
    time tells how much of the wall time was ours on a busy machine."""
    begin = time.perf_counter()
    call()
    first = (time.perf_counter() - begin) * 1000
    wall, cpu = [], []
    for _ in range(repeat):
        begin, begin_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - begin) * 1000)
        cpu.append((time.process_time() - begin_cpu) * 1000)
    p95 = statistics.quantiles(wall, n=20, method="inclusive")[-1] if repeat > 1 else wall[0]
    return first, statistics.median(wall), p95, statistics.median(cpu)


def naive(path: Path) -> Callable[[], object]:
    db = sqlite3.connect(path)

    def fetch_all() -> object:
        return db.execute("SELECT * FROM runs ORDER BY started DESC").fetchall()

    return fetch_all


def report(store: Store, path: Path, runs: int, repeat: int) -> None:
    since = time.time() - 30 * DAY
    newest = store.resolve_run("last")
    window = store.stats(since=since)
    lines = [
        ("list_runs(limit=20)", timed(lambda: store.list_runs(limit=20), repeat)),
        ("stats(since=30 days ago)", timed(lambda: store.stats(since=since), repeat)),
        ("get_run(newest)", timed(lambda: store.get_run(newest), repeat)),
        ("naive SELECT * ORDER BY started DESC", timed(naive(path), repeat)),
    ]
    header = f"{'first':>9s} {'median':>9s} {'p95':>9s} {'cpu':>9s}"
    print(f"{'':40s} {header}   (ms, {repeat} repetitions; cpu: median CPU time)")
    for label, (first, median, p95, cpu) in lines:
        print(f"{label:40s} {first:9.1f} {median:9.1f} {p95:9.1f} {cpu:9.1f}")
    list_median, stats_median = lines[0][1][1], lines[1][1][1]
    print(
        f"\nlist_runs is {lines[3][1][1] / list_median:,.0f}x faster than the naive fetch-all; "
        f"targets < {TARGET_MS:.0f} ms: list_runs {_verdict(list_median)}, "
        f"stats {_verdict(stats_median)}"
    )
    print(
        f"stats window: {window.runs:,} runs, {sum(j.runs for j in window.jobs):,} jobs, "
        f"{window.tests_total:,} test results, {len(window.coverage_trend):,} coverage points"
    )
    size = path.stat().st_size
    print(f"database: {size / 2**20:,.0f} MiB, {size / runs:,.0f} bytes per run")
    print(f"load average while timing: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


def _verdict(ms: float) -> str:
    return "ok" if ms < TARGET_MS else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="build the database in this folder and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="amoskys-bench-store-"))
    try:
        open_store(folder, url="").close()  # the schema, by the real migrations
        path = folder / "amoskys.db"
        seconds = generate(path, args.runs, args.days)
        print(f"generated {args.runs:,} runs over {args.days:g} days in {seconds:.1f} s ({path})")
        with open_store(folder, url="") as store:
            report(store, path, args.runs, args.repeat)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.pop("AMOSKYS_DATABASE_URL", None)
    sys.exit(main())
