"""``[tool.amoskys] matrix-coverage``: coverage measured in one instance of a matrix job, or
in every one, with the result cache keeping the two apart."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from amoskys_testing import outer_run_only
from test_history import TESTED_PROJECT, cli, show

from amoskys.plan import plan
from amoskys.platforms import LocalRunner
from amoskys.run.matrix_coverage import instances_measuring_coverage
from amoskys.workflow.events import Event
from amoskys.workflow.parse import parse_workflow_text

pytestmark = outer_run_only

Repo = Callable[..., Path]

MATRIX = """
on: push
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: "true"
  test:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [windows-latest, ubuntu-latest]
        tag: [a, b]
    steps:
      - run: "true"
"""


def test_the_first_instance_runnable_here_measures_coverage() -> None:
    workflow = parse_workflow_text(MATRIX, ".github/workflows/ci.yml")
    instances = plan([workflow], Event("push"), runner=LocalRunner("linux")).instances
    names = {i.key: i.name for i in instances}
    first = {names[k] for k in instances_measuring_coverage(instances, "first")}
    # windows-latest comes first in the matrix but cannot run here
    assert first == {"lint", "test (ubuntu-latest, a)"}
    every = {names[k] for k in instances_measuring_coverage(instances, "all")}
    assert every == set(names.values())


def _project(make_repo: Repo, setting: str = "") -> Path:
    python = Path(sys.executable)
    tests = TESTED_PROJECT["tests/test_pkg.py"].replace("assert add(1, 1) == 3", "assert True")
    return make_repo(
        {
            **TESTED_PROJECT,
            "pyproject.toml": TESTED_PROJECT["pyproject.toml"] + setting,
            "tests/test_pkg.py": tests,
            ".github/workflows/ci.yml": f"""
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        tag: [a, b, c]
    steps:
      - run: {python} -m pytest tests -q
""",
        }
    )


def _coverage_by_job(root: Path) -> dict[str, float | None]:
    jobs = show(root)["jobs"]
    return {job["name"]: job["metrics"].get("coverage.line") for job in jobs}


def test_by_default_one_instance_of_a_matrix_measures_coverage(make_repo: Repo) -> None:
    root = _project(make_repo)
    done = cli(root, "run", "--no-live", "-j", "3")
    assert done.returncode == 0, done.stdout
    measured = _coverage_by_job(root)
    assert measured["test (a)"] is not None and 0 < measured["test (a)"] < 100
    assert measured["test (b)"] is None and measured["test (c)"] is None

    # "all": every instance measures it, and none is served the cached coverage-less result
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '[tool.amoskys]\nmatrix-coverage = "all"\n')
    done = cli(root, "run", "--no-live", "-j", "3")
    assert done.returncode == 0, done.stdout
    measured = _coverage_by_job(root)
    assert all(value is not None and 0 < value < 100 for value in measured.values()), measured


def test_a_bad_matrix_coverage_value_is_exit_2_with_the_choices(make_repo: Repo) -> None:
    root = _project(make_repo, '[tool.amoskys]\nmatrix-coverage = "some"\n')
    done = cli(root, "run", "--no-live")
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "pyproject.toml" in said and "matrix-coverage" in said and '"first"' in said
    assert "Traceback" not in said
    assert not (root / ".amoskys" / "runs").exists() or not any(
        (root / ".amoskys" / "runs").iterdir()
    )
