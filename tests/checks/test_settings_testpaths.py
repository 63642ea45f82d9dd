"""``amoskys test`` runs the tests a plain ``pytest`` runs: pytest's own ``testpaths`` are the
default test folders (real pytest through the probe for the verdict)."""

from __future__ import annotations

import subprocess  # nosec B404
import sys
from pathlib import Path

import pytest
from amoskys_testing import outside_env

from amoskys.checks.commands import run_tests
from amoskys.checks.output import render_text
from amoskys.checks.settings import load_settings, pytest_testpaths

GATES = "[tool.amoskys.gates]\ncoverage = false\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_failing_test_under_pytests_testpaths_fails_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AMOSKYS_DATABASE_URL", raising=False)
    root = write(
        tmp_path,
        {
            "pyproject.toml": GATES + '[tool.pytest.ini_options]\ntestpaths = ["tests", "src"]\n',
            "tests/test_a.py": "def test_ok():\n    pass\n",
            "src/pkg/test_inner.py": "def test_inner():\n    assert False\n",
        },
    )
    plain = subprocess.run(  # nosec B603
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        env=outside_env(),  # inside an outer amoskys run its failure would count there
        capture_output=True,
    )
    assert plain.returncode == 1  # the truth: plain pytest runs src/ too
    settings = load_settings(root)
    assert settings.tests == ("tests", "src")
    assert settings.paths == ("tests",)  # what the linters check is as it was
    outcome = run_tests(settings, show=lambda _: None)
    assert outcome.tests is not None and outcome.tests.failed == 1
    assert not outcome.passed, render_text(outcome)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, None),
        ({"pyproject.toml": "[project]\nname = 'x'\n"}, None),
        ({"pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["a", "b"]\n'}, ("a", "b")),
        ({"pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = "a b"\n'}, ("a", "b")),
        ({"pyproject.toml": '[tool.pytest]\ntestpaths = ["native"]\n'}, ("native",)),
        ({"pytest.ini": "[pytest]\ntestpaths = one\n    two\n"}, ("one", "two")),
        # pytest.ini wins even without testpaths (and even without its section)
        (
            {
                "pytest.ini": "[pytest]\naddopts = -q\n",
                "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["a"]\n',
            },
            None,
        ),
        ({"pytest.ini": "", "tox.ini": "[pytest]\ntestpaths = t\n"}, None),
        # a pyproject.toml without pytest's table is not pytest's file: tox.ini is
        ({"pyproject.toml": "[project]\n", "tox.ini": "[pytest]\ntestpaths = t\n"}, ("t",)),
        ({"setup.cfg": "[tool:pytest]\ntestpaths = s\n"}, ("s",)),
        ({"setup.cfg": "[flake8]\nmax-line-length = 100\n"}, None),
        (
            {"pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["pkg*/tests"]\n'},
            ("pkg1/tests", "pkg2/tests"),
        ),
    ],
)
def test_pytest_testpaths_come_from_the_file_pytest_reads(
    tmp_path: Path, files: dict[str, str], expected: tuple[str, ...] | None
) -> None:
    (tmp_path / "pkg2/tests").mkdir(parents=True)
    (tmp_path / "pkg1/tests").mkdir(parents=True)
    write(tmp_path, files)
    assert pytest_testpaths(tmp_path) == expected


def test_tests_of_the_amoskys_table_win_over_testpaths(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.amoskys]\ntests = ["mine"]\n'
            '[tool.pytest.ini_options]\ntestpaths = ["theirs"]\n'
        },
    )
    assert load_settings(tmp_path).tests == ("mine",)
