"""The seed's workflow, verbatim, run by Amoskys on Amoskys itself (issue 3's acceptance).

Slow (it installs the project into one venv per Python and runs the whole test suite three
times), so it runs once per CI run. Inside that nested run this test skips itself, or it
would recurse.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404
import sys
from pathlib import Path

import pytest
from amoskys_testing import REPO, git

from amoskys.errors import AmoskysError
from amoskys.run.interpreters import find_interpreter

pytestmark = pytest.mark.skipif(
    "AMOSKYS_RUN_ID" in os.environ, reason="already inside an amoskys run of this project"
)


def _pythons_available() -> bool:
    for version in ("3.11", "3.12", "3.13"):
        try:
            find_interpreter(version, search_env=os.environ)
        except AmoskysError:
            return False
    return True


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="needs this project's git repository")
def test_seed_code_quality_and_test_matrix_pass_on_this_project(tmp_path: Path) -> None:
    if not _pythons_available():
        pytest.skip("Python 3.11, 3.12 and 3.13 are not all installed here")
    clone = tmp_path / "amoskys"
    git(tmp_path, "clone", "-q", "--no-hardlinks", str(REPO), str(clone))
    home = tmp_path / "home"  # pip in the steps keeps its cache under $HOME
    home.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home)}
    done = subprocess.run(  # nosec B603
        [
            sys.executable,
            "-m",
            "amoskys",
            "run",
            "--no-live",
            "--job",
            "code-quality",
            "--job",
            "test-matrix",
        ],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    tail = done.stdout[-6000:]
    assert done.returncode == 0, tail
    for version in ("3.11", "3.12", "3.13"):
        assert f"[test-matrix (ubuntu-latest, {version})] passed" in done.stdout, tail
    assert "[code-quality] passed" in done.stdout
    for os_label in ("windows-latest", "macOS-latest"):
        for version in ("3.11", "3.12", "3.13"):
            name = f"test-matrix ({os_label}, {version})"
            assert f"[{name}] not run: no runner for {os_label}" in done.stdout
    # Issue 4: test counts and coverage of each instance, with the workflow file unchanged.
    shown = subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", "runs", "show", "last", "--json"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    jobs = {job["name"]: job for job in json.loads(shown.stdout)["jobs"]}
    for version in ("3.11", "3.12", "3.13"):
        job = jobs[f"test-matrix (ubuntu-latest, {version})"]
        assert job["tests"].get("passed", 0) > 500, job["tests"]
        assert job["tests"].get("failed", 0) == 0
        if version == "3.11":
            # Measured by the probe with the project's own coverage settings; lower than the
            # top-level run's because tests needing ../shared skip inside the nested workspace.
            # Below 100: a toy project's coverage from an `amoskys test` that a test starts
            # must not reach the job's results (it did, through $AMOSKYS_RESULTS).
            assert 50 < job["metrics"]["coverage.line"] < 100, job["metrics"]
        else:  # matrix-coverage = "first": one instance of the matrix measures coverage
            assert "coverage.line" not in job["metrics"], job["metrics"]
    shutil.rmtree(clone, ignore_errors=True)


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="needs this project's git repository")
def test_seed_security_scan_fails_honestly_without_the_internet(tmp_path: Path) -> None:
    """Safety needs its online service; offline the job fails and says why (no fake pass)."""
    clone = tmp_path / "amoskys"
    git(tmp_path, "clone", "-q", "--no-hardlinks", str(REPO), str(clone))
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home)}
    done = subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", "run", "--no-live", "--job", "security-scan"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if "[security-scan/Run Safety] success" in done.stdout:
        pytest.skip("this machine reaches Safety's service: nothing to show offline")
    assert done.returncode == 1, done.stdout[-4000:]
    summary = done.stdout[done.stdout.index("[security-scan] failed") :]
    assert "step 'Run Safety' failed: it could not reach the network service" in summary
    assert "not run after it: Run pip-audit" in summary
