"""Helpers shared by the tests (a module of its own: conftest.py names are not unique)."""

from __future__ import annotations

import os
import re
import subprocess  # nosec B404 - tests drive real git
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from amoskys.store.db import Store

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AMOSKYS_SHARED", REPO.parent / "shared"))


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity; return stdout."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    done = subprocess.run(  # nosec B603 B607
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


OUTER_RUN_VARIABLES = (
    "AMOSKYS_RUN_ID",
    "AMOSKYS_DATABASE_URL",
    "PYTEST_ADDOPTS",
    "AMOSKYS_RESULTS",
)
"""What an outer ``amoskys run`` of this project gives its steps' processes: a command or a
pytest that a test starts must not see them, or its results land in the outer job's."""


outer_run_only = pytest.mark.skipif(
    "AMOSKYS_RUN_ID" in os.environ,
    reason="starts whole amoskys runs of toy projects: the top-level test run runs it once; "
    "inside the seed's test-matrix (three Pythons on the same cores) it made CI overrun",
)
"""For the tests that drive ``amoskys run`` end to end, the heaviest of the suite."""


def outside_env(**extra: str) -> dict[str, str]:
    """This process's environment without :data:`OUTER_RUN_VARIABLES`, plus ``extra``: what a
    user's shell would give a command started by hand."""
    env = {k: v for k, v in os.environ.items() if k not in OUTER_RUN_VARIABLES}
    env.update(extra)
    return env


def amoskys_cli(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, set[str]]:
    """``python -m amoskys *args`` in ``root`` as a user runs it (no outer run's variables):
    exit code, stdout + stderr, and the names of the tests pytest's ``-v`` lines say ran."""
    env = {**outside_env(PYTHONPATH=str(REPO)), **(env or {})}
    for name in OUTER_RUN_VARIABLES:
        env.pop(name, None)
    done = subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    ran = set(re.findall(r"::(test_\w+) (?:PASSED|FAILED|ERROR)", output))
    return done.returncode, output, ran


def edit(root: Path, path: str, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) by ``new`` in ``root / path``."""
    target = root / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new))


def stored_run(store: Store, *, started: float | None = None, **fields: object) -> int:
    """A run of ``ci.yml`` on main created in ``store`` (``fields`` override); its id."""
    values: dict[str, object] = {
        "workflow": "ci.yml",
        "trigger": "cli",
        "event": "push",
        "ref": "refs/heads/main",
        "branch": "main",
        "sha": "a" * 40,
        "actor": "dev",
        "workflow_sha256": "f" * 64,
        "started": time.time() if started is None else started,
        "run_dir": "runs/x",
        **fields,
    }
    return store.create_run(**values)  # type: ignore[arg-type]


def record_test_job(store: Store, *, status: str, sha: str = "abc") -> tuple[int, int]:
    """A stored run of ``ci.yml`` with one finished job ``test``; (run id, job row id)."""
    now = time.time()
    run_id = stored_run(
        store, sha=sha, started=now, actor="me", workflow_sha256="w", run_dir="runs/1"
    )
    job = store.record_job(
        run_id,
        key="test",
        name="test",
        job_id="test",
        matrix={},
        runner="local",
        status=status,
        conclusion=status,
        reason="",
        started=now,
        finished=now,
    )
    return run_id, job


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """``path`` (a file or a folder) read-only: by its mode, and for root, whom modes do not
    stop, immutable (``chattr +i``; the test is skipped where that does not work)."""
    mode = path.stat().st_mode & 0o7777
    os.chmod(path, 0o555 if path.is_dir() else 0o444)
    immutable = os.geteuid() == 0
    if immutable:
        done = subprocess.run(  # nosec B603 B607
            ["chattr", "+i", str(path)], capture_output=True, check=False
        )
        if done.returncode != 0:
            os.chmod(path, mode)
            pytest.skip("running as root, and chattr +i does not work here")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)  # nosec B603 B607
        os.chmod(path, mode)
