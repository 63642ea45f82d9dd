"""Flaky tests and transient step failures through the real CLI: ``amoskys run`` re-runs a
failed test, stores "flaky", quarantines it on the next run, lists it in ``stats`` and the
reports; a step whose log shows a connection reset is retried, any other failure is not."""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any, Callable

from amoskys_testing import REPO, outer_run_only

pytestmark = outer_run_only

Repo = Callable[..., Path]


def cli(cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
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


def report_json(root: Path) -> dict[str, Any]:
    target = root.parent / "report.json"
    done = cli(root, "report", "last", "--json", str(target))
    assert done.returncode == 0, done.stderr
    return json.loads(target.read_text())  # type: ignore[no-any-return]


TEST_FILE = """import os
import pathlib


def test_fine():
    pass


def test_shaky():
    path = pathlib.Path(os.environ["COUNTER"])
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    assert count > int(pathlib.Path(os.environ["FAILS"]).read_text()), "not yet"
"""


def pytest_workflow(counter: Path, fails: Path) -> str:
    return f"""
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    env:
      COUNTER: {counter}
      FAILS: {fails}
    steps:
      - run: {sys.executable} -m pytest tests -q -p no:cacheprovider
"""


def test_a_flaky_test_is_stored_flaky_then_quarantined_and_listed(
    make_repo: Repo, tmp_path: Path
) -> None:
    counter, fails = tmp_path / "counter", tmp_path / "fails"
    fails.write_text("1")
    root = make_repo(
        {
            "pyproject.toml": "[tool.amoskys.flaky]\nreruns = 2\nquarantine = true\n",
            "tests/test_shaky.py": TEST_FILE,
            ".github/workflows/ci.yml": pytest_workflow(counter, fails),
        }
    )
    first = cli(root, "run", "--no-live")
    assert first.returncode == 0, first.stdout + first.stderr  # passed on its re-run
    assert counter.read_text() == "2"
    data = report_json(root)
    assert data["summary"]["tests"]["flaky"] == 1
    (flaky,) = data["flaky_tests"]
    assert flaky["test_id"] == "tests/test_shaky.py::test_shaky"
    assert flaky["outcome"] == "flaky" and flaky["score"] > 0

    # Next run, same commit: it fails on every attempt; the history flagged it: quarantined.
    counter.unlink()
    fails.write_text("9")
    second = cli(root, "run", "--no-live", "--no-cache")  # the same inputs: run it again
    assert second.returncode == 0, second.stdout + second.stderr
    assert counter.read_text() == "3"  # the first call and 2 re-runs
    data = report_json(root)
    assert data["quarantined_tests"] == [
        {"test_id": "tests/test_shaky.py::test_shaky", "outcome": "failed"}
    ]
    page = root.parent / "report.html"
    assert cli(root, "report", "last", "--html", str(page)).returncode == 0
    html = page.read_text()
    assert "Flaky and quarantined tests" in html and "tests/test_shaky.py::test_shaky" in html

    stats = cli(root, "stats")
    assert "Flaky tests (1" in stats.stdout, stats.stdout
    assert "tests/test_shaky.py::test_shaky" in stats.stdout
    as_json = json.loads(cli(root, "stats", "--json").stdout)
    (listed,) = as_json["extra"]["flaky_tests"]
    assert listed["flaky_runs"] == 1 and listed["flips"] == 1  # flaky, then failed on one sha
    flaky_section = stats.stdout.split("Flaky tests", 1)[1]
    assert "test_fine" not in flaky_section  # a stable test is never listed


SCRIPT = """#!/bin/bash
count=$(( $(cat "$COUNTER" 2>/dev/null || echo 0) + 1 ))
echo "$count" > "$COUNTER"
if [ "$count" -le "$FAILS" ]; then
  echo "downloading https://files.pythonhosted.org/packages/x.whl"
  echo "$MESSAGE"
  exit 1
fi
echo "installed"
"""


def step_workflow(counter: Path, fails: int, message: str) -> str:
    return f"""
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: install
        env:
          COUNTER: {counter}
          FAILS: "{fails}"
          MESSAGE: "{message}"
        run: bash fetch.sh
"""


def retry_repo(make_repo: Repo, counter: Path, fails: int, message: str) -> Path:
    return make_repo(
        {
            "pyproject.toml": "[tool.amoskys.retry]\nattempts = 2\nbackoff = 0.1\n",
            "fetch.sh": SCRIPT,
            ".github/workflows/ci.yml": step_workflow(counter, fails, message),
        }
    )


def test_a_step_failing_with_a_connection_reset_is_retried_and_passes(
    make_repo: Repo, tmp_path: Path
) -> None:
    counter = tmp_path / "counter"
    root = retry_repo(make_repo, counter, 1, "curl: (56) Recv failure: Connection reset by peer")
    done = cli(root, "run", "--no-live")
    assert done.returncode == 0, done.stdout + done.stderr
    assert counter.read_text().strip() == "2"
    logs = cli(root, "logs", "last", "build", "install").stdout
    assert "retrying step install (attempt 2 of 3)" in logs
    assert "matched 'connection reset'" in logs
    assert logs.rstrip().endswith("installed")


def test_retries_are_bounded(make_repo: Repo, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    root = retry_repo(make_repo, counter, 9, "Temporary failure in name resolution")
    done = cli(root, "run", "--no-live")
    assert done.returncode == 1
    assert counter.read_text().strip() == "3"  # the first attempt and 2 retries
    logs = cli(root, "logs", "last", "build", "install").stdout
    assert "attempt 3 of 3" in logs and "attempt 4" not in logs


def test_a_step_failing_for_another_reason_is_not_retried(make_repo: Repo, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    root = retry_repo(make_repo, counter, 1, "AssertionError: the build is broken")
    done = cli(root, "run", "--no-live")
    assert done.returncode == 1
    assert counter.read_text().strip() == "1"
    assert "retrying" not in cli(root, "logs", "last", "build", "install").stdout


RESET_TEST = """import os
import pathlib


def test_reset_handling():
    path = pathlib.Path(os.environ["COUNTER"])
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    print("ConnectionResetError: [Errno 104] Connection reset by peer")
    assert count > 1, "the handler swallowed the reset"
"""


def test_a_test_failing_after_printing_a_connection_reset_is_not_retried_into_a_pass(
    make_repo: Repo, tmp_path: Path
) -> None:
    counter = tmp_path / "counter"
    root = make_repo(
        {
            "pyproject.toml": "[tool.amoskys.flaky]\nreruns = 0\n\n"
            "[tool.amoskys.retry]\nattempts = 2\nbackoff = 0.1\n",
            "tests/test_reset.py": RESET_TEST,
            ".github/workflows/ci.yml": pytest_workflow(counter, tmp_path / "unused"),
        }
    )
    done = cli(root, "run", "--no-live")
    assert done.returncode == 1, done.stdout + done.stderr  # a plain pytest fails too
    assert counter.read_text().strip() == "1"  # the step ran once
    assert "retrying" not in cli(root, "logs", "last", "test").stdout


def test_a_bad_retry_table_stops_the_run_before_anything_runs(make_repo: Repo) -> None:
    root = make_repo(
        {
            "pyproject.toml": "[tool.amoskys.retry]\nattempts = 'many'\n",
            ".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - run: echo hi\n",
        }
    )
    done = cli(root, "run", "--no-live")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pyproject.toml: tool.amoskys.retry.attempts must be a whole number" in done.stderr
    assert "Traceback" not in done.stderr
    listing = cli(root, "runs", "list", "--json")
    assert json.loads(listing.stdout) == []
