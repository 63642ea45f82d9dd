"""Flaky test detection on a generated suite with injected flaky tests (issue 6).

The suite: ``--stable`` stable tests (default 200), ``--flaky`` tests that fail at random with a
rate drawn from 5-30% (default 20), ``--pairs`` order-dependent pairs (default 4: a *polluter*
that always passes and sets a shared flag, and a *victim* that fails when the polluter ran
before it in the same process), and one test that always fails. The suite's conftest shuffles
the test order in every run (a different order per run, as ``pytest-randomly`` or running
recently failed tests first would give).

Each of ``--runs`` runs (default 20) is a real pytest through Amoskys's probe with
``AMOSKYS_RERUNS=--reruns`` (default 2), its JUnit report read by Amoskys's collector and stored
in a real SQLite history store as one run of one commit. After the runs the store's flakiness
scores say which tests are flagged. Printed: the share of injected flaky tests flagged after 5,
10 and ``--runs`` runs (target >= 90% after 20), stable tests flagged (target 0, polluters
included), the always-failing test flagged (target 0), the most re-runs any failure got
(target <= 3), and the time the re-runs cost. ``--seeds N`` repeats everything with N seeds
(the failures are random: one seed is one sample).

Run: ``python bench/bench_flaky.py`` (about a minute), ``--seeds 5`` for a distribution.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess  # nosec B404 - a benchmark drives a real pytest
import sys
import tempfile
import time
import xml.etree.ElementTree as ET  # nosec B405 - our own pytest's report
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from amoskys.collect.discover import find_probe_reports  # noqa: E402
from amoskys.collect.reports import collect_reports  # noqa: E402
from amoskys.store.db import open_store  # noqa: E402

CONFTEST = """import os
import random


def pytest_collection_modifyitems(session, config, items):
    random.Random(os.environ["BENCH_ORDER"]).shuffle(items)
"""

HELPERS = """import os
import random

CALLS = {}
POLLUTED = set()


def fails(name, rate):
    CALLS[name] = CALLS.get(name, 0) + 1
    key = "%s:%s:%s:%d" % (os.environ["BENCH_SEED"], os.environ["BENCH_RUN"], name, CALLS[name])
    return random.Random(key).random() < rate
"""


@dataclass(frozen=True)
class Suite:
    root: Path
    stable: tuple[str, ...]
    flaky: tuple[str, ...]  # random failures
    victims: tuple[str, ...]  # order-dependent
    polluters: tuple[str, ...]
    always: str
    rates: dict[str, float]  # random-flaky test id -> its failure rate


def write_suite(folder: Path, seed: int, stable: int, flaky: int, pairs: int) -> Suite:
    """The fixture suite, its rates drawn from ``seed``."""
    rng = random.Random(seed)
    tests = folder / "tests"
    tests.mkdir(parents=True)
    (tests / "conftest.py").write_text(CONFTEST)
    (folder / "bench_helpers.py").write_text(HELPERS)
    ids: dict[str, list[str]] = {"stable": [], "flaky": [], "victims": [], "polluters": []}
    rates: dict[str, float] = {}
    per_file = 25
    for start in range(0, stable, per_file):
        name = f"test_stable_{start // per_file:02d}.py"
        body = [
            f"def test_s{i:03d}():\n    assert {i} + 1 == {i + 1}\n"
            for i in range(start, min(stable, start + per_file))
        ]
        (tests / name).write_text("\n\n".join(body))
        ids["stable"] += [
            f"tests/{name}::test_s{i:03d}" for i in range(start, min(stable, start + per_file))
        ]
    body = ["from bench_helpers import fails\n"]
    for i in range(flaky):
        rate = round(rng.uniform(0.05, 0.30), 3)
        body.append(
            f"def test_f{i:02d}():  # fails {rate:.0%} of the time\n"
            f"    assert not fails('f{i}', {rate})\n"
        )
        ids["flaky"].append(f"tests/test_flaky.py::test_f{i:02d}")
        rates[ids["flaky"][-1]] = rate
    (tests / "test_flaky.py").write_text("\n\n".join(body))
    body = ["from bench_helpers import POLLUTED\n"]
    for i in range(pairs):
        body.append(f"def test_polluter_{i}():\n    POLLUTED.add({i})\n")
        body.append(
            f"def test_victim_{i}():\n"
            f"    assert {i} not in POLLUTED, 'state left by test_polluter_{i}'\n"
        )
        ids["polluters"].append(f"tests/test_order.py::test_polluter_{i}")
        ids["victims"].append(f"tests/test_order.py::test_victim_{i}")
    (tests / "test_order.py").write_text("\n\n".join(body))
    (tests / "test_broken.py").write_text("def test_always():\n    assert False, 'broken'\n")
    return Suite(
        folder,
        tuple(ids["stable"]),
        tuple(ids["flaky"]),
        tuple(ids["victims"]),
        tuple(ids["polluters"]),
        "tests/test_broken.py::test_always",
        rates,
    )


def run_once(suite: Suite, plugins: Path, reports: Path, seed: int, run: int, reruns: int) -> float:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COV_CORE_", "COVERAGE_", "PYTEST_", "AMOSKYS_"))
        and key != "PYTHONPATH"
    }
    env.update(
        PYTHONPATH=os.pathsep.join([str(plugins), str(suite.root)]),
        PYTEST_ADDOPTS="-p amoskys_pytest_probe -p no:cacheprovider",
        PYTHONDONTWRITEBYTECODE="1",
        AMOSKYS_REPORT_DIR=str(reports),
        AMOSKYS_RERUNS=str(reruns),
        BENCH_SEED=str(seed),
        BENCH_RUN=str(run),
        BENCH_ORDER=f"{seed}:{run}",
    )
    start = time.perf_counter()
    subprocess.run(  # nosec B603
        [sys.executable, "-m", "pytest", "-q", "tests"],
        cwd=suite.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=600,
    )
    return time.perf_counter() - start


def max_reruns(reports: Path) -> int:
    """The most failed attempts before the last one of any test case (from the JUnit XML)."""
    most = 0
    for path in reports.glob("junit-*.xml"):
        for case in ET.parse(path).getroot().iter("testcase"):  # nosec B314 - ours
            extra = [
                c
                for c in case
                if c.tag in ("flakyFailure", "flakyError", "rerunFailure", "rerunError")
            ]
            most = max(most, len(extra))
    return most


@dataclass
class Outcome:
    flagged_at: dict[int, set[str]]
    most_reruns: int
    seconds: float
    flaky_outcomes: int
    failed_outcomes: int
    ever_failed: set[str]  # tests that failed at least once (first attempt) in some run


def measure(seed: int, args: argparse.Namespace, work: Path) -> tuple[Suite, Outcome]:
    folder = work / f"seed-{seed}"
    suite = write_suite(folder / "suite", seed, args.stable, args.flaky, args.pairs)
    plugins = folder / "plugins"
    plugins.mkdir()
    shutil.copy(
        REPO / "amoskys" / "collect" / "pytest_probe.py", plugins / "amoskys_pytest_probe.py"
    )
    checkpoints = sorted({5, 10, args.runs} & set(range(1, args.runs + 1)))
    flagged_at: dict[int, set[str]] = {}
    most = 0
    seconds = 0.0
    flaky_outcomes = failed_outcomes = 0
    ever_failed: set[str] = set()
    os.environ.pop("AMOSKYS_DATABASE_URL", None)
    store = open_store(folder / "state")
    try:
        for run in range(1, args.runs + 1):
            reports = folder / "reports" / str(run)
            seconds += run_once(suite, plugins, reports, seed, run, args.reruns)
            most = max(most, max_reruns(reports))
            paths, _ = find_probe_reports(reports)
            results, _, _ = collect_reports(paths, root=suite.root)
            ever_failed.update(r.test_id for r in results if r.outcome != "passed")
            flaky_outcomes += sum(1 for r in results if r.outcome == "flaky")
            failed_outcomes += sum(1 for r in results if r.outcome == "failed")
            now = time.time()
            run_id = store.create_run(
                workflow="ci.yml",
                trigger="cli",
                event="push",
                ref="refs/heads/main",
                branch="main",
                sha="0" * 40,
                actor="bench",
                workflow_sha256="w",
                started=now,
                run_dir=f"runs/{run}",
            )
            job = store.record_job(
                run_id,
                key="test",
                name="test",
                job_id="test",
                matrix={},
                runner="local",
                status="success",
                conclusion="success",
                reason="",
                started=now,
                finished=now,
            )
            store.add_test_results(job, results)
            store.finish_run(run_id, status="success", finished=time.time())
            if run in checkpoints:
                flagged_at[run] = {
                    f.test_id
                    for f in store.flakiness(last_runs=args.runs)
                    if f.score > args.threshold
                }
    finally:
        store.close()
    return suite, Outcome(flagged_at, most, seconds, flaky_outcomes, failed_outcomes, ever_failed)


def baseline_seconds(seed: int, args: argparse.Namespace, work: Path) -> float:
    """The same suite without re-runs, a few runs: what the re-runs cost on top."""
    folder = work / f"plain-{seed}"
    suite = write_suite(folder / "suite", seed, args.stable, args.flaky, args.pairs)
    plugins = folder / "plugins"
    plugins.mkdir()
    shutil.copy(
        REPO / "amoskys" / "collect" / "pytest_probe.py", plugins / "amoskys_pytest_probe.py"
    )
    runs: int = min(args.runs, 5)
    total = sum(
        run_once(suite, plugins, folder / "r" / str(n), seed, n, 0) for n in range(1, runs + 1)
    )
    return float(total) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--reruns", type=int, default=2)
    parser.add_argument("--stable", type=int, default=200)
    parser.add_argument("--flaky", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1, help="repeat with this many seeds")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"suite: {args.stable} stable, {args.flaky} random-flaky (5-30%), {args.pairs} "
        f"order-dependent pairs, 1 always failing; {args.runs} runs, reruns = {args.reruns}"
    )
    shares: list[float] = []
    detectable: list[float] = []
    with tempfile.TemporaryDirectory(prefix="amoskys-bench-flaky-") as temp:
        work = Path(temp)
        for seed in range(args.seed, args.seed + args.seeds):
            suite, outcome = measure(seed, args, work)
            injected = set(suite.flaky) | set(suite.victims)
            stable = set(suite.stable) | set(suite.polluters)
            final = outcome.flagged_at[args.runs]
            print(f"\nseed {seed}:")
            for run, flagged in sorted(outcome.flagged_at.items()):
                random_hit = len(flagged & set(suite.flaky))
                order_hit = len(flagged & set(suite.victims))
                hit = len(flagged & injected)
                print(
                    f"  after {run:>2} runs: {hit}/{len(injected)} flaky flagged "
                    f"({100 * hit / len(injected):.0f}%: {random_hit}/{len(suite.flaky)} "
                    f"random, {order_hit}/{len(suite.victims)} order-dependent); "
                    f"stable flagged {len(flagged & stable)}; always-failing flagged "
                    f"{int(suite.always in flagged)}"
                )
            seen = outcome.ever_failed & injected
            print(
                f"  injected flaky tests that failed at least once in {args.runs} runs: "
                f"{len(seen)}/{len(injected)}; flagged among them: {len(final & seen)}/{len(seen)}"
            )
            missed = sorted(injected - final)
            if missed:
                print(
                    "  not flagged: "
                    + ", ".join(
                        f"{name.split('::')[1]} (rate {suite.rates.get(name, 0):.0%})"
                        for name in missed
                    )
                )
            print(
                f"  outcomes stored: {outcome.flaky_outcomes} flaky, "
                f"{outcome.failed_outcomes} failed; "
                f"most re-runs of one failure: {outcome.most_reruns} (target <= 3)"
            )
            plain = baseline_seconds(seed, args, work)
            mean = outcome.seconds / args.runs
            print(
                f"  pytest wall time per run: {mean:.2f}s with re-runs, {plain:.2f}s without "
                f"({mean / plain:.2f}x)"
            )
            shares.append(len(final & injected) / len(injected))
            detectable.append(len(seen) / len(injected))
    if len(shares) > 1:
        ordered = sorted(shares)
        print(
            f"\nflagged share over {len(shares)} seeds: min {100 * ordered[0]:.0f}%, median "
            f"{100 * ordered[len(ordered) // 2]:.0f}%, "
            f"mean {100 * sum(shares) / len(shares):.0f}% (target >= 90%); the flaky tests "
            f"that failed at all: mean {100 * sum(detectable) / len(detectable):.0f}%"
        )


if __name__ == "__main__":
    main()
