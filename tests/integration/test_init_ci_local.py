"""``amoskys init`` in a new project, then ``make ci-local`` runs its whole pipeline green.

The user's path end to end: a tiny package with one passing test, ``amoskys init``, and
``make ci-local``, which runs ``amoskys run``, which runs the generated workflow's jobs here.
Their steps ``pip install "${AMOSKYS_PIP_SPEC:-amoskys==VERSION}"``; amoskys is not on PyPI,
so the test does what a user of a checkout does: builds a wheel of this checkout, exports
AMOSKYS_PIP_SPEC=<the wheel> and lets it through to the steps with ``[tool.amoskys] pass-env``.
The security scan's offline OSV database is built once, as the generated workflow tells a
local user to (``amoskys vulndb update --from DIR`` without network).

The gates are ``amoskys lint``, ``security-scan`` and ``test``. Slow (three job venvs, each
installing amoskys).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any

import pytest
from amoskys_testing import REPO

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

pytestmark = [
    pytest.mark.skipif(
        "AMOSKYS_RUN_ID" in os.environ, reason="already inside an amoskys run of a project"
    ),
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]

PROJECT = {
    "pyproject.toml": """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tinypkg"
version = "0.1.0"
requires-python = ">=3.11"

[tool.setuptools]
packages = ["tinypkg"]

[tool.amoskys]
pass-env = ["AMOSKYS_PIP_SPEC"]
""",
    "tinypkg/__init__.py": '''"""A tiny package."""


def add(a: int, b: int) -> int:
    """The sum of ``a`` and ``b``."""
    return a + b
''',
    "tests/test_tinypkg.py": '''"""The one test."""

from tinypkg import add


def test_add() -> None:
    assert add(2, 3) == 5
''',
    ".gitignore": "__pycache__/\n*.egg-info/\n.coverage\ncoverage.xml\n",
}


OSV_RECORD = {
    "schema_version": "1.6.0",
    "id": "PYSEC-0000-1",
    "modified": "2024-01-01T00:00:00Z",
    "summary": "An advisory about a package this project does not depend on",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "not-a-dependency-of-tinypkg"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
        }
    ],
}


def build_amoskys_wheel(into: Path, env: dict[str, str]) -> Path:
    """A wheel of this checkout, built from a copy (the build leaves nothing in the repo)."""
    source = into / "amoskys-src"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(
        REPO / "amoskys", source / "amoskys", ignore=shutil.ignore_patterns("__pycache__")
    )
    wheels = into / "wheels"
    subprocess.run(  # nosec B603
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("amoskys-*.whl")
    return wheel


def launcher(folder: Path) -> Path:
    """``bin/amoskys``: this checkout's amoskys, as if it were installed."""
    folder.mkdir(parents=True)
    script = folder / "amoskys"
    script.write_text(
        f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m amoskys "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return folder


def init_and_make_ci_local(root: Path, work: Path) -> subprocess.CompletedProcess[str]:
    """``amoskys init`` then ``make ci-local`` in ``root``, with amoskys on PATH."""
    home = work / "home"  # pip in the steps keeps its cache under $HOME
    home.mkdir(parents=True)
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "PATH": f"{launcher(work / 'bin')}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
    }
    env["AMOSKYS_PIP_SPEC"] = str(build_amoskys_wheel(work, env))
    init = subprocess.run(  # nosec B603 B607
        ["amoskys", "init", "--python", PYTHON],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    assert "the gates check package tinypkg; tests: tests" in init.stdout
    # The security scan's offline database, as a user without network builds it: from a
    # folder of OSV records (here one, about a package the project does not use).
    records = work / "osv"
    records.mkdir()
    (records / "PYSEC-0000-1.json").write_text(json.dumps(OSV_RECORD), encoding="utf-8")
    update = subprocess.run(  # nosec B603 B607
        ["amoskys", "vulndb", "update", "--from", str(records)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert update.returncode == 0, update.stdout + update.stderr
    return subprocess.run(  # nosec B603 B607
        ["make", "ci-local"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def test_init_then_make_ci_local_runs_green(make_repo: Any, tmp_path: Path) -> None:
    root = make_repo(PROJECT)
    done = init_and_make_ci_local(root, tmp_path / "work")
    verdicts = [
        line
        for line in done.stdout.splitlines()
        if line.startswith("[") and "/" not in line.split("]", 1)[0] and "] started" not in line
    ]
    tail = "\n".join([*verdicts, "...", done.stdout[-4000:], done.stderr[-2000:]])
    assert done.returncode == 0, tail
    assert "[code-quality] passed" in done.stdout, tail
    assert "[security-scan] passed" in done.stdout, tail
    assert f"[test-matrix (ubuntu-latest, {PYTHON})] passed" in done.stdout, tail
    for os_label in ("windows-latest", "macOS-latest"):
        name = f"test-matrix ({os_label}, {PYTHON})"
        assert f"[{name}] not run: no runner for {os_label}" in done.stdout, tail
