"""``amoskys test`` as a step of ``amoskys run``: the engine's probe is already first on
PYTHONPATH, and the selection plugin lives in another folder; neither counts as project code."""

from __future__ import annotations

import os
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Callable

from amoskys_testing import REPO

from amoskys.run.local_run import install_probe


def test_coverage_leaves_out_both_plugins(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    root = make_repo(
        {
            "pkg/__init__.py": "def add(a, b):\n    return a + b\n",
            "tests/test_pkg.py": (
                "from pkg import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
            ),
            "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["."]\n',
        }
    )
    engine_probe = install_probe(tmp_path / "run")  # as the engine sets up a step
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(engine_probe)]),
        "PYTEST_ADDOPTS": "-p amoskys_pytest_probe",
        "AMOSKYS_REPORT_DIR": str(tmp_path / "run" / "reports"),
    }
    done = subprocess.run(  # nosec B603
        [sys.executable, "-P", "-m", "amoskys", "test"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "coverage 100.0%" in done.stdout
