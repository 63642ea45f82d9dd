"""Every run remembered: the store, logs and reports driven through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess  # nosec B404
import sys
import time
from pathlib import Path
from typing import Any, Callable

from amoskys_testing import REPO, outer_run_only

from amoskys.store.logs import read_lines

pytestmark = outer_run_only

Repo = Callable[..., Path]


def cli(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("AMOSKYS_RUN_ID", None)
    env.pop("AMOSKYS_DATABASE_URL", None)
    return subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def show(cwd: Path, run: str = "last") -> dict[str, Any]:
    done = cli(cwd, "runs", "show", run, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


TESTED_PROJECT = {
    "pyproject.toml": (
        "[tool.coverage.run]\nsource = ['pkg']\nbranch = true\n"
        "[tool.pytest.ini_options]\naddopts = '-m \"not slow\" -p no:cacheprovider'\n"
        "markers = ['slow']\n"
    ),
    "pkg/__init__.py": "def add(a, b):\n    return a + b\n\n\ndef unused():\n    return 1\n",
    "tests/test_pkg.py": (
        "import pytest\nfrom pkg import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_broken():\n    assert add(1, 1) == 3, 'one and one'\n\n\n"
        "@pytest.mark.skip(reason='later')\ndef test_later():\n    pass\n\n\n"
        "@pytest.mark.slow\ndef test_slow():\n    pass\n"
    ),
}


def test_a_run_stores_jobs_steps_logs_tests_and_coverage(make_repo: Repo) -> None:
    python = Path(sys.executable)
    root = make_repo(
        {
            **TESTED_PROJECT,
            ".github/workflows/ci.yml": f"""
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: echo preparing
      - name: Run tests
        run: {python} -m pytest tests -q
""",
        }
    )
    done = cli(root, "run", "--no-live")
    assert done.returncode == 1, done.stdout  # test_broken fails
    data = show(root)
    assert data["status"] == "failure"
    (job,) = data["jobs"]
    assert job["tests"] == {"passed": 1, "failed": 1, "skipped": 1}
    assert job["metrics"]["tests.total"] == 3
    assert 0 < job["metrics"]["coverage.line"] < 100  # unused() never ran
    assert [s["outcome"] for s in job["steps"]] == ["success", "failure"]
    logs = cli(root, "logs", "last", "test", "Run tests")
    assert "1 failed, 1 passed, 1 skipped, 1 deselected" in logs.stdout
    listing = cli(root, "runs", "list", "--json")
    assert [r["status"] for r in json.loads(listing.stdout)] == ["failure"]
    report = root / "report.html"
    assert cli(root, "report", "last", "--html", str(report)).returncode == 0
    html = report.read_text()
    assert "test_broken" in html and "one and one" in html
    assert html.index("test_broken") < html.index("test_add")


def test_sigkill_mid_step_leaves_an_interrupted_run_with_every_flushed_line(
    make_repo: Repo,
) -> None:
    root = make_repo({".github/workflows/ci.yml": """
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - name: Print slowly
        run: for i in $(seq 1 400); do echo "line-$i"; sleep 0.05; done
"""})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("AMOSKYS_RUN_ID", None)
    env.pop("AMOSKYS_DATABASE_URL", None)
    proc = subprocess.Popen(  # nosec B603
        [sys.executable, "-m", "amoskys", "run", "--no-live"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    logs = root / ".amoskys" / "runs"
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(seen) < 40:
            assert time.monotonic() < deadline, "the step's log never filled"
            files = list(logs.rglob("*.log")) if logs.exists() else []
            seen = list(read_lines(files[0])) if files else []
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    data = show(root)  # the next command marks the run interrupted
    assert data["status"] == "interrupted"
    (job,) = data["jobs"]
    assert job["status"] == "interrupted"
    log = cli(root, "logs", "last", "slow", "Print slowly").stdout.splitlines()
    assert log[: len(seen)] == seen  # nothing flushed was lost
    assert log == [f"line-{i}" for i in range(1, len(log) + 1)]  # and nothing is garbled
    assert cli(root, "runs", "list").returncode == 0


def test_two_runs_at_once_on_one_sqlite_file_are_both_stored(make_repo: Repo) -> None:
    steps = "\n".join(f"      - run: echo step-{n}" for n in range(15))
    root = make_repo(
        {
            ".github/workflows/ci.yml": "on: push\njobs:\n"
            + "".join(
                f"  j{n}:\n    runs-on: ubuntu-latest\n    steps:\n{steps}\n" for n in range(4)
            )
        }
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("AMOSKYS_RUN_ID", None)
    env.pop("AMOSKYS_DATABASE_URL", None)
    procs = [
        subprocess.Popen(  # nosec B603
            [sys.executable, "-m", "amoskys", "run", "--no-live", "--no-cache", "-j", "4"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out
        assert "locked" not in out.lower()
    runs = json.loads(cli(root, "runs", "list", "--json").stdout)
    assert [r["status"] for r in runs] == ["success", "success"]
    for run in runs:
        detail = show(root, str(run["id"]))
        assert len(detail["jobs"]) == 4
        assert all(len(job["steps"]) == 15 for job in detail["jobs"])


def test_stats_and_gc_keep_the_summary(make_repo: Repo) -> None:
    root = make_repo(
        {
            ".github/workflows/ci.yml": (
                "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                "    steps: [{run: echo hello}]\n"
            )
        }
    )
    for _ in range(2):
        assert cli(root, "run", "--no-live", "--no-cache").returncode == 0
    stats = json.loads(cli(root, "stats", "--json").stdout)
    assert stats["runs"] == 2 and stats["success_rate"] == 1.0
    assert cli(root, "gc", "--keep-days", "0", "--keep-runs", "1").returncode == 0
    runs = json.loads(cli(root, "runs", "list", "--json").stdout)
    assert len(runs) == 2  # the rows stay
    assert "hello" in cli(root, "logs", runs[0]["id"].__str__()).stdout
    assert "hello" not in cli(root, "logs", str(runs[1]["id"])).stdout  # the old log is gone
    assert json.loads(cli(root, "stats", "--json").stdout)["runs"] == 2


def test_findings_of_checks_run_inside_a_workflow_are_stored_with_the_run(
    make_repo: Repo,
) -> None:
    from amoskys.store.db import open_store

    fake_key = "AKIA" + "QYLPMN5HHHFPZAM2"
    root = make_repo(
        {
            "settings.env": f"AWS_ACCESS_KEY_ID={fake_key}\n",
            ".github/workflows/ci.yml": f"""
on: push
jobs:
  scan:
    runs-on: ubuntu-latest
    steps:
      - env:
          PYTHONPATH: {REPO}
        run: {sys.executable} -m amoskys security-scan --secrets-only
""",
        }
    )
    done = cli(root, "run", "--no-live")
    assert done.returncode == 1  # the secrets gate failed inside the step
    assert fake_key not in done.stdout
    store = open_store(root / ".amoskys")
    try:
        run_id = store.resolve_run("last")
        assert store.count_findings(run_id) == {"secrets": 1}
        metrics = {m.name: m.value for j in store.get_run(run_id).jobs for m in j.metrics}
        assert metrics["gate.security-scan.secrets"] == 0.0
    finally:
        store.close()


def test_gc_env_cache_drops_the_cached_job_environments(make_repo: Repo) -> None:
    root = make_repo({"README.md": "x\n"})
    entry = root / ".amoskys" / "cache" / "actions" / "envs" / "k1" / "e1" / "venv" / "bin"
    entry.mkdir(parents=True)
    (entry / "python").write_text("#!/bin/sh\n")
    kept = cli(root, "gc")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert entry.exists()  # plain gc leaves the environments alone
    done = cli(root, "gc", "--env-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dropped 1 cached job environment(s)" in done.stdout
    assert not (root / ".amoskys" / "cache" / "actions" / "envs" / "k1").exists()


def test_runs_list_does_not_count_a_job_that_was_not_run_as_ok(make_repo: Repo) -> None:
    # `ok` was jobs_total - jobs_failed: a job no runner here could take (or a cancelled
    # one) was listed as ok, "2/2" next to a run whose windows job never ran.
    workflow = (
        "on: push\njobs:\n  lin:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo hi\n  win:\n    runs-on: windows-latest\n    steps:\n"
        "      - run: exit 1\n"
    )
    root = make_repo({".github/workflows/ci.yml": workflow})
    assert cli(root, "run", "--no-live", "--no-cache").returncode == 0
    listing = cli(root, "runs", "list")
    assert listing.returncode == 0, listing.stderr
    row = listing.stdout.splitlines()[1].split()
    assert row[1] == "success" and "1/2" in row and "2/2" not in row
    (only,) = json.loads(cli(root, "runs", "list", "--json").stdout)
    assert (only["jobs_total"], only["jobs_failed"], only["jobs_ok"]) == (2, 0, 1)
