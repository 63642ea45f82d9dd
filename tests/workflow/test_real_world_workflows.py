"""Workflows in the style of popular Python projects' CI, planned as GitHub would plan them.

Every workflow here was written for these tests in the shape popular projects use (python x OS
matrices with include/exclude, needs chains, path filters, tag triggers, reusable workflows,
composite actions, SHA-pinned actions, concurrency, permissions); none is a copy of a real
file. For each one the expectations were worked out by hand from GitHub's documentation:

* which events trigger it (branch, tag and path filters; PR base branches; schedule; dispatch);
* the job instances GitHub creates, in order, with GitHub's names: ``job (v1, v2)`` for a matrix
  job without a ``name``, the ``name`` plus the matrix values when ``name`` has no expression,
  the evaluated ``name`` alone when it has one, ``caller / inner`` for reusable workflows
  (``caller (v1) / inner (v2)`` when both have a matrix);
* the matrix of particular instances (cartesian product in key order, then ``exclude``, then
  ``include``), what each instance waits for, ``fail-fast`` and ``max-parallel``;
* which instances a Linux machine can run, and why not the others;
* that the model keeps concurrency, permissions, environments and pinned ``uses`` as written.

The planner does not evaluate ``if:`` (that needs results known only while running), so jobs
guarded by ``if:`` are planned; where a test checks a condition it evaluates it separately.

The tests at the end pin down details where the planner once differed from GitHub (a
matrix from needs outputs, the 256-job limit, arm64 labels, job names built from the
matrix's own keys, key-by-key exclude of object values); each states its evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pytest

from amoskys.contexts import RepoFacts, github_context
from amoskys.errors import AmoskysError, WorkflowError
from amoskys.model import Concurrency, Environment, Job, Workflow
from amoskys.plan import JobInstance, Plan, plan
from amoskys.platforms import LocalRunner
from amoskys.workflow.events import Event, trigger_decision
from amoskys.workflow.expressions import EvalContext, evaluate_condition, evaluate_value
from amoskys.workflow.parse import (
    load_local_action,
    load_reusable,
    load_workflows,
    parse_workflow,
    parse_workflow_text,
)

LINUX = LocalRunner("linux")

CHECKOUT = "actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11"
SETUP_PYTHON = "actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c"
PYPI_PUBLISH = "pypa/gh-action-pypi-publish@76f52bc884231f62b9a034ebfe128415bbaabdfc"
ALLS_GREEN = "re-actors/alls-green@05ac9388f0aebcb5727afa17fcccfecd6f8ec5fe"
CIBUILDWHEEL = "pypa/cibuildwheel@d04cacbc9866d432033b1d09142936e6a0e2121a"

PY_39_TO_313 = ("3.9", "3.10", "3.11", "3.12", "3.13")
SRC_CHANGE = ("src/pkg/core.py", "tests/test_core.py")
DOCS_CHANGE = ("docs/index.rst", "docs/conf.py")

#: The events every workflow is checked against (workflows add their own where it matters).
EVENTS: dict[str, Event] = {
    "push main": Event("push", ref="refs/heads/main", changed_paths=SRC_CHANGE),
    "push main, docs only": Event("push", ref="refs/heads/main", changed_paths=DOCS_CHANGE),
    "push feature": Event("push", ref="refs/heads/feature/faster-parser", changed_paths=SRC_CHANGE),
    "push tag v1.2.3": Event("push", ref="refs/tags/v1.2.3"),
    "PR into main": Event(
        "pull_request",
        ref="refs/heads/feature/faster-parser",
        base_ref="refs/heads/main",
        changed_paths=SRC_CHANGE,
    ),
    "PR into main, docs only": Event(
        "pull_request",
        ref="refs/heads/fix-typo",
        base_ref="refs/heads/main",
        changed_paths=DOCS_CHANGE,
    ),
    "schedule": Event("schedule", ref="refs/heads/main"),
    "workflow_dispatch": Event("workflow_dispatch", ref="refs/heads/main"),
}
PUSH_MAIN = EVENTS["push main"]
TAG = EVENTS["push tag v1.2.3"]


# --------------------------------------------------------------------------- helpers


def fired(workflow: Workflow, extra: Mapping[str, Event] | None = None) -> set[str]:
    """The labels of the events (standard ones plus ``extra``) that trigger ``workflow``."""
    events = {**EVENTS, **(extra or {})}
    return {label for label, event in events.items() if trigger_decision(workflow, event).triggered}


def plan_one(workflow: Workflow, event: Event = PUSH_MAIN, **kwargs: Any) -> Plan:
    result = plan([workflow], event, runner=LINUX, **kwargs)
    assert [d.decision.triggered for d in result.decisions] == [True]
    return result


def names(result: Plan) -> list[str]:
    return [i.name for i in result.instances]


def instance(result: Plan, name: str) -> JobInstance:
    (found,) = [i for i in result.instances if i.name == name]
    return found


def not_runnable(result: Plan) -> dict[str, str]:
    """``{instance name: reason}`` for the instances this Linux machine cannot run."""
    return {i.name: i.reason for i in result.instances if not i.runnable}


def waits_for(result: Plan, name: str) -> list[str]:
    """The names of the instances ``name`` waits for, in plan order."""
    keys = set(instance(result, name).needs_keys)
    return [i.name for i in result.instances if i.key in keys]


def job(workflow: Workflow, job_id: str) -> Job:
    found = workflow.job(job_id)
    assert found is not None
    return found


def condition(text: str | None, event: Event, **contexts: Any) -> bool:
    """What an ``if:`` evaluates to for ``event`` (before any job ran)."""
    assert text is not None
    github = github_context(event, RepoFacts(repository="example/project"))
    ctx = EvalContext(contexts={"github": github, "inputs": {}, "vars": {}, **contexts})
    return evaluate_condition(text, ctx)


def ci(text: str, path: str = ".github/workflows/ci.yml") -> Workflow:
    return parse_workflow_text(text, path)


CONCURRENCY_PER_REF = Concurrency(
    group="${{ github.workflow }}-${{ github.ref }}", cancel_in_progress=True
)


# --------------------------------------------------------------------------- 1. pip style

PIP_STYLE = """
name: CI

on:
  push:
    branches: [main]
    tags: ["*"]
  pull_request:
  schedule:
    - cron: "0 0 * * MON"  # every Monday, to catch breakage from new releases

permissions:
  contents: read

concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: true

jobs:
  docs:
    name: docs
    runs-on: ubuntu-22.04
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
        with:
          python-version: "3.x"
      - run: pipx run nox -s docs

  determine-changes:
    runs-on: ubuntu-22.04
    outputs:
      tests: ${{ steps.filter.outputs.tests }}
      vendoring: ${{ steps.filter.outputs.vendoring }}
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - uses: dorny/paths-filter@de90cc6fb38fc0963ad72b210f1f284cd68cea36  # v3.0.2
        id: filter
        with:
          filters: |
            tests:
              - ".github/workflows/ci.yml"
              - "src/**"
              - "tests/**"
            vendoring:
              - "src/pkg/_vendor/**"

  vendoring:
    name: vendoring
    needs: [determine-changes]
    if: >-
      needs.determine-changes.outputs.vendoring == 'true' ||
      github.event_name != 'pull_request'
    runs-on: ubuntu-22.04
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: pipx run nox -s vendoring

  tests-unix:
    name: tests / ${{ matrix.python }} / ${{ matrix.os }}
    runs-on: ${{ matrix.os }}-latest
    needs: [determine-changes]
    if: >-
      needs.determine-changes.outputs.tests == 'true' ||
      github.event_name != 'pull_request'
    strategy:
      fail-fast: true
      matrix:
        os: [Ubuntu, MacOS]
        python:
          - "3.9"
          - "3.10"
          - "3.11"
          - "3.12"
          - "3.13"
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
        with:
          python-version: ${{ matrix.python }}
          allow-prereleases: true
      - run: pipx run nox -s test-${{ matrix.python }} -- -n auto

  tests-windows:
    name: tests / ${{ matrix.python }} / ${{ matrix.os }} / ${{ matrix.group.number }}
    runs-on: ${{ matrix.os }}-latest
    needs: [determine-changes]
    strategy:
      fail-fast: true
      matrix:
        os: [Windows]
        python: ["3.9", "3.13"]
        group:
          - { number: 1, pytest-filter: "not test_install" }
          - { number: 2, pytest-filter: "test_install" }
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: pipx run nox -s test-${{ matrix.python }} -- -k "${{ matrix.group.pytest-filter }}"

  check:  # does nothing itself: the one job branch protection has to require
    if: always()
    needs:
      - determine-changes
      - docs
      - tests-unix
      - tests-windows
      - vendoring
    runs-on: ubuntu-latest
    steps:
      - name: Decide whether the needed jobs succeeded or failed
        uses: re-actors/alls-green@05ac9388f0aebcb5727afa17fcccfecd6f8ec5fe  # v1.2.2
        with:
          allowed-skips: vendoring
          jobs: ${{ toJSON(needs) }}
"""


def test_pip_style_triggers() -> None:
    workflow = ci(PIP_STYLE)
    # branches: [main] + tags: ["*"]; pull_request without filters; a weekly cron.
    assert fired(workflow) == {
        "push main",
        "push main, docs only",
        "push tag v1.2.3",
        "PR into main",
        "PR into main, docs only",
        "schedule",
    }
    feature = trigger_decision(workflow, EVENTS["push feature"])
    assert feature.reason == "push to refs/heads/feature/faster-parser: branch not in [main]"


def test_pip_style_plan() -> None:
    workflow = ci(PIP_STYLE)
    result = plan_one(workflow)
    unix = [f"tests / {py} / {os}" for os in ("Ubuntu", "MacOS") for py in PY_39_TO_313]
    windows = [
        "tests / 3.9 / Windows / 1",
        "tests / 3.9 / Windows / 2",
        "tests / 3.13 / Windows / 1",
        "tests / 3.13 / Windows / 2",
    ]
    assert names(result) == ["docs", "determine-changes", "vendoring", *unix, *windows, "check"]
    # Runner labels are case-insensitive: "Ubuntu-latest" is ubuntu-latest.
    assert instance(result, "tests / 3.12 / Ubuntu").runs_on == ("Ubuntu-latest",)
    assert not_runnable(result) == {
        **{f"tests / {py} / MacOS": "no runner for MacOS-latest" for py in PY_39_TO_313},
        **{name: "no runner for Windows-latest" for name in windows},
    }
    assert instance(result, "tests / 3.9 / Windows / 2").matrix == {
        "os": "Windows",
        "python": "3.9",
        "group": {"number": 2, "pytest-filter": "test_install"},
    }
    assert waits_for(result, "vendoring") == ["determine-changes"]
    assert waits_for(result, "tests / 3.13 / MacOS") == ["determine-changes"]
    assert waits_for(result, "check") == names(result)[:-1]
    assert instance(result, "check").needs == (
        "determine-changes",
        "docs",
        "tests-unix",
        "tests-windows",
        "vendoring",
    )
    unix_instances = [i for i in result.instances if i.job_id == "tests-unix"]
    assert [i.strategy_index for i in unix_instances] == list(range(10))
    assert {(i.strategy_total, i.fail_fast, i.max_parallel) for i in unix_instances} == {
        (10, True, None)
    }
    assert workflow.concurrency == CONCURRENCY_PER_REF
    assert workflow.permissions == {"contents": "read"}
    assert [s.uses for s in job(workflow, "docs").steps[:2]] == [CHECKOUT, SETUP_PYTHON]
    assert job(workflow, "check").steps[0].uses == ALLS_GREEN
    assert job(workflow, "determine-changes").outputs == {
        "tests": "${{ steps.filter.outputs.tests }}",
        "vendoring": "${{ steps.filter.outputs.vendoring }}",
    }


def test_pip_style_job_conditions_are_kept_and_mean_what_github_means() -> None:
    workflow = ci(PIP_STYLE)
    guard = job(workflow, "vendoring").if_
    assert guard == (
        "needs.determine-changes.outputs.vendoring == 'true' ||"
        " github.event_name != 'pull_request'"
    )
    no_vendoring = {"determine-changes": {"outputs": {"vendoring": "false"}, "result": "success"}}
    assert condition(guard, PUSH_MAIN, needs=no_vendoring) is True
    assert condition(guard, EVENTS["PR into main"], needs=no_vendoring) is False
    assert job(workflow, "check").if_ == "always()"


# --------------------------------------------------------------------------- 2. attrs style

ATTRS_STYLE = """
---
name: CI

on:
  merge_group:
  push:
    branches: [main]
    tags: ["*"]
  pull_request:
  workflow_dispatch:

env:
  FORCE_COLOR: "1"
  PIP_DISABLE_PIP_VERSION_CHECK: "1"

permissions: {}

jobs:
  build-package:
    name: Build & verify package
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
        with:
          fetch-depth: 0
          persist-credentials: false
      - uses: hynek/build-and-inspect-python-package@f01e4d047aadcc0c054c95ec9900da3ec3fc7a0f

  tests:
    name: Tests on ${{ matrix.python-version }}
    needs: build-package
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        python-version:
          - "3.9"
          - "3.10"
          - "3.11"
          - "3.12"
          - "3.13"
          - "pypy-3.10"
    steps:
      - name: Download pre-built packages
        uses: actions/download-artifact@fa0a91b85d4f404e444e00e005971372dc801d16  # v4.1.8
        with:
          name: Packages
          path: dist
      - run: tar xf dist/*.tar.gz --strip-components=1
      - uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
        with:
          python-version: ${{ matrix.python-version }}
          allow-prereleases: true
      - run: python -Im tox run -f py$(echo ${{ matrix.python-version }} | tr -d .)

  coverage:
    name: Combine & check coverage
    needs: tests
    runs-on: ubuntu-latest
    steps:
      - run: python -Im coverage combine && python -Im coverage report --fail-under=100

  install-dev:
    name: Verify dev env
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu-latest, windows-latest]
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: python -Im pip install -e .[dev]

  required-checks-pass:
    name: Ensure everything required is passing for branch protection
    if: always()
    needs: [coverage, install-dev]
    runs-on: ubuntu-latest
    steps:
      - uses: re-actors/alls-green@05ac9388f0aebcb5727afa17fcccfecd6f8ec5fe  # v1.2.2
        with:
          jobs: ${{ toJSON(needs) }}
"""


def test_attrs_style_triggers() -> None:
    workflow = ci(ATTRS_STYLE)
    assert fired(workflow, {"merge queue": Event("merge_group", ref="refs/heads/main")}) == {
        "merge queue",
        "push main",
        "push main, docs only",
        "push tag v1.2.3",
        "PR into main",
        "PR into main, docs only",
        "workflow_dispatch",
    }


def test_attrs_style_plan() -> None:
    workflow = ci(ATTRS_STYLE)
    result = plan_one(workflow, TAG)
    tests = [f"Tests on {py}" for py in (*PY_39_TO_313, "pypy-3.10")]
    assert names(result) == [
        "Build & verify package",
        *tests,
        "Combine & check coverage",
        # A name without an expression gets the matrix values appended.
        "Verify dev env (ubuntu-latest)",
        "Verify dev env (windows-latest)",
        "Ensure everything required is passing for branch protection",
    ]
    assert not_runnable(result) == {
        "Verify dev env (windows-latest)": "no runner for windows-latest"
    }
    assert [i.job_id for i in result.instances] == [
        "build-package",
        *["tests"] * 6,
        "coverage",
        "install-dev",
        "install-dev",
        "required-checks-pass",
    ]
    assert waits_for(result, "Tests on pypy-3.10") == ["Build & verify package"]
    assert waits_for(result, "Combine & check coverage") == tests
    assert waits_for(result, "Ensure everything required is passing for branch protection") == [
        "Combine & check coverage",
        "Verify dev env (ubuntu-latest)",
        "Verify dev env (windows-latest)",
    ]
    assert {(i.fail_fast, i.strategy_total) for i in result.instances if i.job_id == "tests"} == {
        (False, 6)
    }
    # fail-fast defaults to true when a strategy does not set it.
    assert instance(result, "Verify dev env (windows-latest)").fail_fast is True
    assert workflow.permissions == {}
    assert job(workflow, "build-package").permissions == {"contents": "read"}
    assert workflow.env == {"FORCE_COLOR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    assert job(workflow, "build-package").steps[0].uses == CHECKOUT


# --------------------------------------------------------------------------- 3. requests style

REQUESTS_STYLE = """
name: Tests

on: [push, pull_request]

permissions:
  contents: read

jobs:
  build:
    runs-on: ${{ matrix.os }}
    timeout-minutes: 10
    strategy:
      fail-fast: false
      max-parallel: 6
      matrix:
        python-version: ["3.9", "3.10", "3.11", "3.12", "3.13", "pypy-3.10"]
        os: [ubuntu-22.04, macOS-latest, windows-latest]
        # PyPy is slow on macOS and Windows: test it on Linux only.
        exclude:
          - python-version: pypy-3.10
            os: macOS-latest
          - python-version: pypy-3.10
            os: windows-latest
        include:
          - python-version: "3.12"
            os: ubuntu-22.04
            coverage: true

    steps:
    - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
    - name: Set up Python ${{ matrix.python-version }}
      uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
      with:
        python-version: ${{ matrix.python-version }}
        cache: 'pip'
        allow-prereleases: true
    - name: Install dependencies
      run: |
        make
    - name: Run tests
      run: |
        make ci

  no_chardet:
    name: "No Character Detection"
    runs-on: ${{ matrix.os }}
    strategy:
      fail-fast: true
      matrix:
        # Unquoted, 3.10 is the YAML number 3.1: GitHub shows (and installs) "3.1".
        python-version: [3.10]
        os: [ubuntu-latest, macOS-latest, windows-latest]
    steps:
    - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
    - run: python -m pip uninstall -y "charset_normalizer" "chardet" && make ci
"""


def test_requests_style_triggers() -> None:
    # on: [push, pull_request]: every push (branch or tag) and every pull request.
    assert fired(ci(REQUESTS_STYLE)) == set(EVENTS) - {"schedule", "workflow_dispatch"}


REQUESTS_CELLS = [
    (py, os)
    for py in ("3.9", "3.10", "3.11", "3.12", "3.13", "pypy-3.10")
    for os in ("ubuntu-22.04", "macOS-latest", "windows-latest")
    if py != "pypy-3.10" or os == "ubuntu-22.04"
]


def test_requests_style_plan() -> None:
    workflow = ci(REQUESTS_STYLE)
    result = plan_one(workflow, EVENTS["PR into main"])
    build = [i for i in result.instances if i.job_id == "build"]
    # The first key is the outer loop; exclude removes PyPy on macOS and Windows.
    assert [(i.matrix["python-version"], i.matrix["os"]) for i in build] == REQUESTS_CELLS
    assert len(build) == 16
    # include adds coverage to the one combination it matches, and creates none.
    assert [i.matrix for i in build if "coverage" in i.matrix] == [
        {"python-version": "3.12", "os": "ubuntu-22.04", "coverage": True}
    ]
    assert [i.name for i in build if "coverage" not in i.matrix] == [
        f"build ({py}, {os})" for py, os in REQUESTS_CELLS if (py, os) != ("3.12", "ubuntu-22.04")
    ]
    assert names(result)[16:] == [
        "No Character Detection (3.1, ubuntu-latest)",
        "No Character Detection (3.1, macOS-latest)",
        "No Character Detection (3.1, windows-latest)",
    ]
    assert instance(result, "No Character Detection (3.1, macOS-latest)").matrix == {
        "python-version": 3.1,
        "os": "macOS-latest",
    }
    assert [(i.job_id, i.matrix["os"]) for i in result.instances if i.runnable] == [
        *[("build", "ubuntu-22.04")] * 6,
        ("no_chardet", "ubuntu-latest"),
    ]
    assert {i.reason for i in result.instances if i.matrix["os"] == "macOS-latest"} == {
        "no runner for macOS-latest"
    }
    assert {(i.strategy_total, i.fail_fast, i.max_parallel) for i in build} == {(16, False, 6)}
    assert job(workflow, "build").timeout_minutes == 10
    assert job(workflow, "build").steps[1].display_name == (
        "Set up Python ${{ matrix.python-version }}"
    )


# --------------------------------------------------------------------------- 4. Django-style docs

DJANGO_DOCS = """
name: Docs

on:
  pull_request:
    paths:
      - 'docs/**'
      - '.github/workflows/docs.yml'
  push:
    branches:
      - main
    paths:
      - 'docs/**'
      - '.github/workflows/docs.yml'

concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: true

permissions:
  contents: read

jobs:
  docs:
    # The OS must match the one the documentation server builds on.
    runs-on: ubuntu-24.04
    name: spelling
    steps:
      - name: Checkout
        uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
        with:
          persist-credentials: false
      - name: Set up Python
        uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
        with:
          python-version: '3.12'
          cache: 'pip'
          cache-dependency-path: 'docs/requirements.txt'
      - run: python -m pip install -r docs/requirements.txt
      - name: Build docs
        run: |
          cd docs
          sphinx-build -b spelling -n -q -W --keep-going -d _build/doctrees . _build/spelling

  blacken-docs:
    runs-on: ubuntu-latest
    name: blacken-docs
    steps:
      - name: Checkout
        uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: python -m pip install blacken-docs
      - name: Build docs
        run: |
          cd docs
          make black
"""


def test_django_style_docs_triggers_follow_the_path_filters() -> None:
    workflow = ci(DJANGO_DOCS, ".github/workflows/docs.yml")
    extra = {
        "PR into stable branch, docs only": Event(
            "pull_request",
            ref="refs/heads/backport-docs",
            base_ref="refs/heads/stable/5.1.x",
            changed_paths=("docs/releases/5.1.4.txt",),
        ),
        "PR changing only this workflow": Event(
            "pull_request",
            ref="refs/heads/ci",
            base_ref="refs/heads/main",
            changed_paths=(".github/workflows/docs.yml",),
        ),
        "push feature, docs only": Event(
            "push", ref="refs/heads/docs-rewrite", changed_paths=DOCS_CHANGE
        ),
    }
    # Branch filters only: tag pushes never trigger it. The PR has no branch filter.
    assert fired(workflow, extra) == {
        "push main, docs only",
        "PR into main, docs only",
        "PR into stable branch, docs only",
        "PR changing only this workflow",
    }
    code_pr = trigger_decision(workflow, EVENTS["PR into main"])
    assert code_pr.reason == (
        "pull_request into refs/heads/main: no changed file matches paths"
        " [docs/**, .github/workflows/docs.yml]"
    )
    tag = trigger_decision(workflow, TAG)
    assert tag.reason == "push to refs/tags/v1.2.3: only branch filters are set, tags never match"


def test_django_style_docs_plan() -> None:
    workflow = ci(DJANGO_DOCS, ".github/workflows/docs.yml")
    result = plan_one(workflow, EVENTS["PR into main, docs only"])
    assert names(result) == ["spelling", "blacken-docs"]
    assert [i.job_id for i in result.instances] == ["docs", "blacken-docs"]
    assert [i.runs_on for i in result.instances] == [("ubuntu-24.04",), ("ubuntu-latest",)]
    assert all(i.runnable and not i.needs_keys and not i.matrix for i in result.instances)
    assert workflow.concurrency == CONCURRENCY_PER_REF
    assert workflow.permissions == {"contents": "read"}
    assert job(workflow, "docs").steps[0].uses == CHECKOUT


# --------------------------------------------------------------------------- 5. pytest style

PYTEST_STYLE = """
name: test

on:
  push:
    branches:
      - main
      - "[0-9]+.[0-9]+.x"
      - "test-me-*"
    tags:
      - "[0-9]+.[0-9]+.[0-9]+"
      - "[0-9]+.[0-9]+.[0-9]+rc[0-9]+"

  pull_request:
    branches:
      - main
      - "[0-9]+.[0-9]+.x"

env:
  PYTEST_ADDOPTS: "--color=yes"

# Cancel running jobs for the same workflow and branch.
concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: true

# Permissions are set per job.
permissions: {}

jobs:
  package:
    runs-on: ubuntu-latest
    timeout-minutes: 10
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
        with:
          fetch-depth: 0
          persist-credentials: false
      - uses: hynek/build-and-inspect-python-package@f01e4d047aadcc0c054c95ec9900da3ec3fc7a0f

  build:
    needs: [package]

    runs-on: ${{ matrix.os }}
    timeout-minutes: 45
    permissions:
      contents: read

    strategy:
      fail-fast: false
      matrix:
        name: [
          "windows-py39-unittestextras",
          "windows-py313",
          "ubuntu-py39-lsof-numpy-pexpect",
          "ubuntu-py313-pexpect",
          "ubuntu-pypy3-xdist",
          "macos-py312",
          "doctesting",
        ]

        include:
          - name: "windows-py39-unittestextras"
            python: "3.9"
            os: windows-latest
            tox_env: "py39-unittestextras"
            use_coverage: true
          - name: "windows-py313"
            python: "3.13"
            os: windows-latest
            tox_env: "py313"
          - name: "ubuntu-py39-lsof-numpy-pexpect"
            python: "3.9"
            os: ubuntu-latest
            tox_env: "py39-lsof-numpy-pexpect"
            use_coverage: true
          - name: "ubuntu-py313-pexpect"
            python: "3.13"
            os: ubuntu-latest
            tox_env: "py313-pexpect"
          - name: "ubuntu-pypy3-xdist"
            python: "pypy-3.10"
            os: ubuntu-latest
            tox_env: "pypy3-xdist"
          - name: "macos-py312"
            python: "3.12"
            os: macos-latest
            tox_env: "py312-xdist"
          - name: "doctesting"
            python: "3.9"
            os: ubuntu-latest
            tox_env: "doctesting"
            use_coverage: true

    continue-on-error: >-
      ${{
        contains(fromJSON('["windows-py313"]'), matrix.name) && true || false
      }}

    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
        with:
          fetch-depth: 0
          persist-credentials: false
      - name: Set up Python
        uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
        with:
          python-version: ${{ matrix.python }}
          check-latest: ${{ endsWith(matrix.python, '-dev') }}
      - name: Test with coverage
        if: "matrix.use_coverage"
        run: tox run -e ${{ matrix.tox_env }}-coverage --installpkg `find dist/*.tar.gz`
      - name: Test without coverage
        if: "! matrix.use_coverage"
        run: tox run -e ${{ matrix.tox_env }} --installpkg `find dist/*.tar.gz`

  check:  # the single job branch protection requires
    if: always()
    needs:
      - build
    runs-on: ubuntu-latest
    steps:
      - name: Decide whether the needed jobs succeeded or failed
        uses: re-actors/alls-green@05ac9388f0aebcb5727afa17fcccfecd6f8ec5fe  # v1.2.2
        with:
          jobs: ${{ toJSON(needs) }}
"""


def test_pytest_style_triggers_with_release_branch_and_tag_patterns() -> None:
    workflow = ci(PYTEST_STYLE, ".github/workflows/test.yml")
    extra = {
        "push 8.3.x": Event("push", ref="refs/heads/8.3.x"),
        "push test-me-windows": Event("push", ref="refs/heads/test-me-windows"),
        "push 8.x": Event("push", ref="refs/heads/8.x"),
        "tag 8.3.4": Event("push", ref="refs/tags/8.3.4"),
        "tag 8.4.0rc1": Event("push", ref="refs/tags/8.4.0rc1"),
        "tag 8.4.0.dev1": Event("push", ref="refs/tags/8.4.0.dev1"),
        "PR into 8.3.x": Event(
            "pull_request", ref="refs/heads/backport", base_ref="refs/heads/8.3.x"
        ),
        "PR into a feature branch": Event(
            "pull_request", ref="refs/heads/sub", base_ref="refs/heads/feature/faster-parser"
        ),
    }
    assert fired(workflow, extra) == {
        "push main",
        "push main, docs only",
        "push 8.3.x",
        "push test-me-windows",
        "tag 8.3.4",
        "tag 8.4.0rc1",
        "PR into main",
        "PR into main, docs only",
        "PR into 8.3.x",
    }
    assert trigger_decision(workflow, TAG).reason == (
        "push to refs/tags/v1.2.3: tag not in"
        " [[0-9]+.[0-9]+.[0-9]+, [0-9]+.[0-9]+.[0-9]+rc[0-9]+]"
    )


PYTEST_CELLS = [
    ("windows-py39-unittestextras", "3.9", "windows-latest", "py39-unittestextras", True),
    ("windows-py313", "3.13", "windows-latest", "py313", None),
    ("ubuntu-py39-lsof-numpy-pexpect", "3.9", "ubuntu-latest", "py39-lsof-numpy-pexpect", True),
    ("ubuntu-py313-pexpect", "3.13", "ubuntu-latest", "py313-pexpect", None),
    ("ubuntu-pypy3-xdist", "pypy-3.10", "ubuntu-latest", "pypy3-xdist", None),
    ("macos-py312", "3.12", "macos-latest", "py312-xdist", None),
    ("doctesting", "3.9", "ubuntu-latest", "doctesting", True),
]


def test_pytest_style_plan_include_completes_each_named_cell() -> None:
    workflow = ci(PYTEST_STYLE, ".github/workflows/test.yml")
    result = plan_one(workflow)
    build = [i for i in result.instances if i.job_id == "build"]
    assert [i.job_id for i in result.instances] == ["package", *["build"] * 7, "check"]
    # Each include entry matches one 'name' and adds its values to that combination only.
    expected = []
    for name, python, os, tox_env, coverage in PYTEST_CELLS:
        cell = {"name": name, "python": python, "os": os, "tox_env": tox_env}
        expected.append({**cell, "use_coverage": True} if coverage else cell)
    assert [i.matrix for i in build] == expected
    assert [(i.matrix["name"], i.reason) for i in build if not i.runnable] == [
        ("windows-py39-unittestextras", "no runner for windows-latest"),
        ("windows-py313", "no runner for windows-latest"),
        ("macos-py312", "no runner for macos-latest"),
    ]
    assert all(waits_for(result, i.name) == ["package"] for i in build)
    assert waits_for(result, "check") == [i.name for i in build]
    assert {(i.fail_fast, i.strategy_total) for i in build} == {(False, 7)}
    assert [i.strategy_index for i in build] == list(range(7))
    assert workflow.permissions == {}
    assert job(workflow, "build").permissions == {"contents": "read"}
    assert workflow.concurrency == CONCURRENCY_PER_REF
    # continue-on-error is evaluated per instance when it runs; kept as written here.
    flag = job(workflow, "build").continue_on_error
    assert isinstance(flag, str) and flag.startswith("${{")
    flags = [evaluate_value(flag, EvalContext(contexts={"matrix": dict(i.matrix)})) for i in build]
    assert flags == [False, True, False, False, False, False, False]


# --------------------------------------------------------------------------- 6. black style

BLACK_STYLE = """
name: Test

on:
  push:
    paths-ignore:
      - "docs/**"
      - "*.md"

  pull_request:
    paths-ignore:
      - "docs/**"
      - "*.md"

permissions:
  contents: read

concurrency:
  group: ${{ github.workflow }}-${{ github.event.pull_request.number || github.sha }}
  cancel-in-progress: true

jobs:
  main:
    # Run on external PRs but not on internal ones: those run for the push to their branch.
    if:
      github.event_name == 'push' ||
      github.event.pull_request.head.repo.full_name != github.repository

    runs-on: ${{ matrix.os }}
    strategy:
      fail-fast: false
      matrix:
        python-version: ["3.9", "3.10", "3.11", "3.12.4", "3.13", "pypy-3.9"]
        os: [ubuntu-latest, macOS-latest, windows-latest]

    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - name: Set up Python ${{ matrix.python-version }}
        uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
        with:
          python-version: ${{ matrix.python-version }}
          allow-prereleases: true
      - name: Install tox
        run: |
          python -m pip install --upgrade pip
          python -m pip install --upgrade tox
      - name: Unit tests
        if: "!startsWith(matrix.python-version, 'pypy')"
        run: tox -e ci-py$(echo ${{ matrix.python-version }} | tr -d '.') -- -v --color=yes
      - name: Unit tests (pypy)
        if: "startsWith(matrix.python-version, 'pypy')"
        run: tox -e ci-pypy3 -- -v --color=yes

  coveralls-finish:
    needs: main
    if: github.repository == 'example/blackish'
    runs-on: ubuntu-latest
    steps:
      - uses: AndreMiras/coveralls-python-action@ac868b9540fad490f7ca82b8ca00480fd751ed19
        with:
          parallel-finished: true

  uvloop:
    if:
      github.event_name == 'push' ||
      github.event.pull_request.head.repo.full_name != github.repository
    runs-on: ${{ matrix.os }}
    strategy:
      fail-fast: false
      matrix:
        os: [ubuntu-latest, macOS-latest]
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: python -m pip install -e ".[uvloop]" && python -m pytest -k uvloop
"""


def test_black_style_paths_ignore_triggers() -> None:
    workflow = ci(BLACK_STYLE, ".github/workflows/test.yml")
    extra = {
        "PR changing CHANGES.md and docs": Event(
            "pull_request",
            ref="refs/heads/changelog",
            base_ref="refs/heads/main",
            changed_paths=("CHANGES.md", "docs/change_log.md"),
        ),
        # '*' does not match '/': a Markdown file below the root is not ignored.
        "PR changing scripts/README.md": Event(
            "pull_request",
            ref="refs/heads/scripts",
            base_ref="refs/heads/main",
            changed_paths=("scripts/README.md",),
        ),
        # Path filters are not evaluated for tag pushes.
        "tag push, docs-only diff": Event(
            "push", ref="refs/tags/24.1.0", changed_paths=("docs/index.md",)
        ),
    }
    assert fired(workflow, extra) == {
        "push main",
        "push feature",
        "push tag v1.2.3",
        "PR into main",
        "PR changing scripts/README.md",
        "tag push, docs-only diff",
    }
    assert trigger_decision(workflow, EVENTS["push main, docs only"]).reason == (
        "push to refs/heads/main: every changed file matches paths-ignore [docs/**, *.md]"
    )


def test_black_style_plan() -> None:
    workflow = ci(BLACK_STYLE, ".github/workflows/test.yml")
    result = plan_one(workflow, EVENTS["push feature"])
    pythons = ("3.9", "3.10", "3.11", "3.12.4", "3.13", "pypy-3.9")
    systems = ("ubuntu-latest", "macOS-latest", "windows-latest")
    # The first key is the outer loop: every OS for 3.9, then every OS for 3.10...
    main = [f"main ({py}, {os})" for py in pythons for os in systems]
    assert len(main) == 18
    assert names(result) == [
        *main,
        "coveralls-finish",
        "uvloop (ubuntu-latest)",
        "uvloop (macOS-latest)",
    ]
    assert [i.name for i in result.instances if i.runnable] == [
        *[f"main ({py}, ubuntu-latest)" for py in pythons],
        "coveralls-finish",
        "uvloop (ubuntu-latest)",
    ]
    assert instance(result, "main (pypy-3.9, windows-latest)").reason == (
        "no runner for windows-latest"
    )
    assert waits_for(result, "coveralls-finish") == main
    assert waits_for(result, "uvloop (macOS-latest)") == []
    assert [i.strategy_index for i in result.instances if i.job_id == "main"] == list(range(18))
    assert workflow.concurrency == Concurrency(
        group="${{ github.workflow }}-${{ github.event.pull_request.number || github.sha }}",
        cancel_in_progress=True,
    )
    guard = job(workflow, "main").if_
    assert guard == (
        "github.event_name == 'push' ||"
        " github.event.pull_request.head.repo.full_name != github.repository"
    )
    assert condition(guard, EVENTS["push feature"]) is True


# --------------------------------------------------------------------------- 7. httpx style

HTTPX_STYLE = """
---
name: Test Suite

on:
  push:
    branches: ["master"]
  pull_request:
    branches: ["master", "version-*"]

jobs:
  tests:
    name: "Python ${{ matrix.python-version }}"
    runs-on: "ubuntu-latest"

    strategy:
      matrix:
        python-version: ["3.9", "3.10", "3.11", "3.12", "3.13"]

    steps:
      - uses: "actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11"
      - uses: "actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c"
        with:
          python-version: "${{ matrix.python-version }}"
          allow-prereleases: true
      - name: "Install dependencies"
        run: "scripts/install"
      - name: "Run linting checks"
        run: "scripts/check"
      - name: "Build package & docs"
        run: "scripts/build"
      - name: "Run tests"
        run: "scripts/test"
      - name: "Enforce coverage"
        run: "scripts/coverage"
"""


def test_httpx_style_master_branch_triggers() -> None:
    workflow = ci(HTTPX_STYLE, ".github/workflows/test-suite.yml")
    extra = {
        "push master": Event("push", ref="refs/heads/master"),
        "PR into master": Event("pull_request", ref="refs/heads/x", base_ref="refs/heads/master"),
        "PR into version-1.0": Event(
            "pull_request", ref="refs/heads/x", base_ref="refs/heads/version-1.0"
        ),
        "PR into version/1.0": Event(
            "pull_request", ref="refs/heads/x", base_ref="refs/heads/version/1.0"
        ),
    }
    # '*' does not match '/'; nothing targets main in this project.
    assert fired(workflow, extra) == {"push master", "PR into master", "PR into version-1.0"}


def test_httpx_style_plan() -> None:
    workflow = ci(HTTPX_STYLE, ".github/workflows/test-suite.yml")
    result = plan_one(workflow, Event("push", ref="refs/heads/master"))
    assert names(result) == [f"Python {py}" for py in PY_39_TO_313]
    assert [i.matrix for i in result.instances] == [{"python-version": py} for py in PY_39_TO_313]
    assert all(i.runnable and i.runs_on == ("ubuntu-latest",) for i in result.instances)
    assert {(i.fail_fast, i.max_parallel, i.strategy_total) for i in result.instances} == {
        (True, None, 5)
    }
    steps = job(workflow, "tests").steps
    assert steps[0].uses == CHECKOUT
    assert steps[1].uses == SETUP_PYTHON
    assert [s.display_name for s in steps[2:]] == [
        "Install dependencies",
        "Run linting checks",
        "Build package & docs",
        "Run tests",
        "Enforce coverage",
    ]


# --------------------------------------------------------------------------- 8. poetry style

POETRY_STYLE = """
name: Tests

on:
  push:
    paths-ignore:
      - 'docs/**'
      - '.cirrus.yml'
    branches:
      - main
  pull_request:
    paths-ignore:
      - 'docs/**'
      - '.cirrus.yml'
    branches:
      - '**'
  workflow_dispatch:

concurrency:
  group: tests-${{ github.head_ref || github.ref }}
  cancel-in-progress: ${{ github.event_name == 'pull_request' }}

defaults:
  run:
    shell: bash

jobs:
  tests:
    name: ${{ matrix.os }} / ${{ matrix.python-version }}
    runs-on: ${{ matrix.image }}
    strategy:
      matrix:
        os: [Ubuntu, macOS, Windows]
        python-version: ["3.9", "3.13"]
        include:
          - os: Ubuntu
            image: ubuntu-22.04
          - os: Windows
            image: windows-2022
          - os: macOS
            image: macos-14
      fail-fast: false
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - name: Set up Python ${{ matrix.python-version }}
        uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
        with:
          python-version: ${{ matrix.python-version }}
      - name: Get full Python version
        id: full-python-version
        run: echo version=$(python -c "import sys; print(sys.version)") >> $GITHUB_OUTPUT
      - name: Install the project
        run: pipx run poetry install --with github-actions
      - name: Run pytest
        run: pipx run poetry run pytest -n auto
"""


def test_poetry_style_triggers() -> None:
    workflow = ci(POETRY_STYLE, ".github/workflows/tests.yml")
    extra = {
        "PR into a feature branch": Event(
            "pull_request",
            ref="refs/heads/sub",
            base_ref="refs/heads/feature/installer",
            changed_paths=SRC_CHANGE,
        ),
        "PR changing only .cirrus.yml": Event(
            "pull_request",
            ref="refs/heads/ci",
            base_ref="refs/heads/main",
            changed_paths=(".cirrus.yml",),
        ),
    }
    assert fired(workflow, extra) == {
        "push main",
        "PR into main",
        "PR into a feature branch",
        "workflow_dispatch",
    }


def test_poetry_style_plan_include_adds_the_runner_image_per_os() -> None:
    workflow = ci(POETRY_STYLE, ".github/workflows/tests.yml")
    result = plan_one(workflow, EVENTS["workflow_dispatch"])
    assert names(result) == [
        "Ubuntu / 3.9",
        "Ubuntu / 3.13",
        "macOS / 3.9",
        "macOS / 3.13",
        "Windows / 3.9",
        "Windows / 3.13",
    ]
    assert [i.runs_on for i in result.instances] == [
        ("ubuntu-22.04",),
        ("ubuntu-22.04",),
        ("macos-14",),
        ("macos-14",),
        ("windows-2022",),
        ("windows-2022",),
    ]
    assert instance(result, "Windows / 3.13").matrix == {
        "os": "Windows",
        "python-version": "3.13",
        "image": "windows-2022",
    }
    assert not_runnable(result) == {
        "macOS / 3.9": "no runner for macos-14",
        "macOS / 3.13": "no runner for macos-14",
        "Windows / 3.9": "no runner for windows-2022",
        "Windows / 3.13": "no runner for windows-2022",
    }
    assert {i.fail_fast for i in result.instances} == {False}
    assert workflow.defaults.shell == "bash"
    assert workflow.concurrency == Concurrency(
        group="tests-${{ github.head_ref || github.ref }}",
        cancel_in_progress="${{ github.event_name == 'pull_request' }}",
    )


# --------------------------------------------------------------------------- 9. pydantic style

PYDANTIC_STYLE = """
name: CI

on:
  push:
    branches:
      - main
    tags:
      - '**'
  pull_request: {}

env:
  COLUMNS: 150
  FORCE_COLOR: 1

jobs:
  lint:
    runs-on: ubuntu-latest
    name: Lint ${{ matrix.python-version }}
    strategy:
      fail-fast: false
      matrix:
        python-version: ['3.9', '3.10', '3.11', '3.12', '3.13']
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - uses: astral-sh/setup-uv@887a942a15af3a7626099df99e897a18d9e5ab3a  # v5.1.0
        with:
          python-version: ${{ matrix.python-version }}
      - run: uv run pre-commit run --all-files --verbose

  docs-build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: uv run mkdocs build

  test:
    name: test ${{ matrix.os }} / ${{ matrix.python-version }}
    strategy:
      fail-fast: false
      matrix:
        os: [ubuntu-latest, macos-13, macos-latest, windows-latest]
        python-version: ['3.9', '3.10', '3.11', '3.12', '3.13']
        include:
          # PyPy only on Linux: it is too slow elsewhere.
          - os: ubuntu-latest
            python-version: 'pypy3.9'
          - os: ubuntu-latest
            python-version: 'pypy3.10'
        exclude:
          # 3.9 and 3.10 are not available on Apple silicon images.
          - os: macos-latest
            python-version: '3.9'
          - os: macos-latest
            python-version: '3.10'
          # The Intel image only runs the old versions.
          - os: macos-13
            python-version: '3.11'
          - os: macos-13
            python-version: '3.12'
          - os: macos-13
            python-version: '3.13'
    env:
      OS: ${{ matrix.os }}
    runs-on: ${{ matrix.os }}
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: uv run --python ${{ matrix.python-version }} pytest

  coverage-combine:
    needs: [test]
    runs-on: ubuntu-latest
    steps:
      - run: uv run coverage combine

  test-fastapi:
    needs: [lint]
    runs-on: ubuntu-latest
    steps:
      - run: ./tests/test_fastapi.sh

  check:
    if: always()
    outputs:
      result: ${{ steps.all-green.outputs.result }}
    needs:
      - lint
      - docs-build
      - test
      - coverage-combine
      - test-fastapi
    runs-on: ubuntu-latest
    steps:
      - name: Decide whether the needed jobs succeeded or failed
        uses: re-actors/alls-green@05ac9388f0aebcb5727afa17fcccfecd6f8ec5fe  # v1.2.2
        id: all-green
        with:
          jobs: ${{ toJSON(needs) }}
          allowed-failures: test-fastapi

  release:
    needs: [check]
    if: needs.check.outputs.result == 'success' && startsWith(github.ref, 'refs/tags/')
    runs-on: ubuntu-latest
    environment: release
    permissions:
      id-token: write
    outputs:
      version: ${{ steps.check-tag.outputs.VERSION }}
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - id: check-tag
        run: echo "VERSION=${GITHUB_REF_NAME#v}" >> $GITHUB_OUTPUT
      - run: uv build
      - uses: pypa/gh-action-pypi-publish@76f52bc884231f62b9a034ebfe128415bbaabdfc  # v1.12.4

  announce:
    needs: [release]
    if: needs.release.result == 'success'
    runs-on: ubuntu-latest
    steps:
      - run: echo "released ${{ needs.release.outputs.version }}"
"""


def test_pydantic_style_triggers() -> None:
    workflow = ci(PYDANTIC_STYLE)
    assert fired(workflow) == {
        "push main",
        "push main, docs only",
        "push tag v1.2.3",
        "PR into main",
        "PR into main, docs only",
    }


def test_pydantic_style_plan_with_include_exclude_and_a_needs_chain() -> None:
    workflow = ci(PYDANTIC_STYLE)
    result = plan_one(workflow, TAG)
    lint = [f"Lint {py}" for py in PY_39_TO_313]
    # 4 x 5 = 20, minus the 5 excluded macOS combinations, plus 2 PyPy ones added at the end.
    test = [
        *[f"test ubuntu-latest / {py}" for py in PY_39_TO_313],
        "test macos-13 / 3.9",
        "test macos-13 / 3.10",
        "test macos-latest / 3.11",
        "test macos-latest / 3.12",
        "test macos-latest / 3.13",
        *[f"test windows-latest / {py}" for py in PY_39_TO_313],
        "test ubuntu-latest / pypy3.9",
        "test ubuntu-latest / pypy3.10",
    ]
    assert names(result) == [
        *lint,
        "docs-build",
        *test,
        "coverage-combine",
        "test-fastapi",
        "check",
        "release",
        "announce",
    ]
    assert instance(result, "test ubuntu-latest / pypy3.10").matrix == {
        "os": "ubuntu-latest",
        "python-version": "pypy3.10",
    }
    assert [i.strategy_index for i in result.instances if i.job_id == "test"] == list(range(17))
    assert {i.strategy_total for i in result.instances if i.job_id == "test"} == {17}
    assert not_runnable(result) == {
        **{name: "no runner for macos-13" for name in test[5:7]},
        **{name: "no runner for macos-latest" for name in test[7:10]},
        **{name: "no runner for windows-latest" for name in test[10:15]},
    }
    assert waits_for(result, "coverage-combine") == test
    assert waits_for(result, "test-fastapi") == lint
    assert waits_for(result, "check") == [*lint, "docs-build", *test, "coverage-combine"] + [
        "test-fastapi"
    ]
    assert waits_for(result, "release") == ["check"]
    assert waits_for(result, "announce") == ["release"]
    release = job(workflow, "release")
    assert release.environment == Environment(name="release")
    assert release.permissions == {"id-token": "write"}
    assert release.outputs == {"version": "${{ steps.check-tag.outputs.VERSION }}"}
    assert release.steps[-1].uses == PYPI_PUBLISH
    assert workflow.env == {"COLUMNS": 150, "FORCE_COLOR": 1}


def test_pydantic_style_release_condition_needs_a_tag() -> None:
    guard = job(ci(PYDANTIC_STYLE), "release").if_
    green = {"check": {"result": "success", "outputs": {"result": "success"}}}
    assert condition(guard, TAG, needs=green) is True
    assert condition(guard, PUSH_MAIN, needs=green) is False


# --------------------------------------------------------------------------- 10. Sphinx style

SPHINX_STYLE = """
name: Test

on:
  push:
    paths-ignore:
      - "doc/**"
      - "CHANGES.rst"
  pull_request:
    paths-ignore:
      - "doc/**"
      - "CHANGES.rst"
  schedule:
    - cron: "17 3 * * *"  # nightly, against the newest CPython
  workflow_dispatch:

permissions:
  contents: read

concurrency:
  group: ${{ github.workflow }}-${{ github.head_ref || github.run_id }}
  cancel-in-progress: true

env:
  FORCE_COLOR: "1"
  PYTHONDEVMODE: "1"
  PYTHONWARNDEFAULTENCODING: "1"

jobs:
  ubuntu:
    runs-on: ubuntu-latest
    name: Python ${{ matrix.python }} (Docutils ${{ matrix.docutils }})
    continue-on-error: ${{ matrix.experimental }}
    timeout-minutes: 15
    strategy:
      fail-fast: false
      matrix:
        python: ["3.11", "3.12", "3.13"]
        docutils: ["0.20", "0.21"]
        experimental: [false]
        include:
          - python: "3.14-dev"
            docutils: "0.21"
            experimental: true
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
        with:
          python-version: ${{ matrix.python }}
          allow-prereleases: true
      - run: python -m pip install "docutils~=${{ matrix.docutils }}.0" -e .[test]
      - run: python -m pytest -vv --durations 25

  deadsnakes:
    runs-on: ubuntu-latest
    name: Python ${{ matrix.python }} (deadsnakes)
    if: github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'
    strategy:
      fail-fast: false
      matrix:
        python: ["3.15-dev"]
    steps:
      - uses: deadsnakes/action@e640ac8743173a67cca4d7d77cd837e514bf98e8  # v3.2.0
        with:
          python-version: ${{ matrix.python }}
      - run: python -m pytest -vv

  windows:
    runs-on: windows-2022
    name: Windows
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: python -m pytest -vv

  docutils-latest:
    runs-on: ubuntu-latest
    name: Docutils HEAD
    continue-on-error: true
    steps:
      - run: python -m pip install "docutils @ git+https://repo.example/docutils"

  coverage:
    if: github.event_name == 'push' && github.repository_owner == 'example'
    runs-on: ubuntu-latest
    steps:
      - run: python -m pytest --cov=sphinxish
"""


def test_sphinx_style_triggers() -> None:
    workflow = ci(SPHINX_STYLE, ".github/workflows/main.yml")
    extra = {
        "push main, doc/ only": Event(
            "push", ref="refs/heads/main", changed_paths=("doc/usage/quickstart.rst",)
        ),
        "PR changing CHANGES.rst only": Event(
            "pull_request",
            ref="refs/heads/news",
            base_ref="refs/heads/main",
            changed_paths=("CHANGES.rst",),
        ),
    }
    # The filters name doc/, not docs/: a change under docs/ is not ignored.
    assert fired(workflow, extra) == set(EVENTS)


def test_sphinx_style_plan_with_an_experimental_include() -> None:
    workflow = ci(SPHINX_STYLE, ".github/workflows/main.yml")
    result = plan_one(workflow, EVENTS["schedule"])
    ubuntu = [
        f"Python {py} (Docutils {du})" for py in ("3.11", "3.12", "3.13") for du in ("0.20", "0.21")
    ]
    assert names(result) == [
        *ubuntu,
        # python 3.14-dev matches no original combination: a combination of its own
        "Python 3.14-dev (Docutils 0.21)",
        "Python 3.15-dev (deadsnakes)",
        "Windows",
        "Docutils HEAD",
        "coverage",
    ]
    assert instance(result, "Python 3.14-dev (Docutils 0.21)").matrix == {
        "python": "3.14-dev",
        "docutils": "0.21",
        "experimental": True,
    }
    assert instance(result, "Python 3.12 (Docutils 0.20)").matrix == {
        "python": "3.12",
        "docutils": "0.20",
        "experimental": False,
    }
    assert not_runnable(result) == {"Windows": "no runner for windows-2022"}
    flag = job(workflow, "ubuntu").continue_on_error
    assert flag == "${{ matrix.experimental }}"
    flags = [
        evaluate_value(flag, EvalContext(contexts={"matrix": dict(i.matrix)}))
        for i in result.instances
        if i.job_id == "ubuntu"
    ]
    assert flags == [False] * 6 + [True]
    assert job(workflow, "docutils-latest").continue_on_error is True
    assert job(workflow, "ubuntu").timeout_minutes == 15
    assert {(i.strategy_total, i.fail_fast) for i in result.instances if i.job_id == "ubuntu"} == {
        (7, False)
    }
    deadsnakes = job(workflow, "deadsnakes").if_
    assert condition(deadsnakes, EVENTS["schedule"]) is True
    assert condition(deadsnakes, PUSH_MAIN) is False


# --------------------------------------------------------------------------- 11. NumPy wheels

NUMPY_WHEELS = """
name: Wheel builder

on:
  schedule:
    #        ┌───────────── minute
    #        │  ┌───────────── hour
    #        │  │ ┌───────────── day of the month
    #        │  │ │ ┌───────────── month
    #        │  │ │ │ ┌───────────── day of the week
    - cron: "42 2 * * SUN,WED"
  pull_request:
    branches:
      - main
      - maintenance/**
  push:
    tags:
      - v*
  workflow_dispatch:
    inputs:
      upload:
        description: Upload the wheels to the nightly index
        type: boolean
        default: false

concurrency:
  group: ${{ github.workflow }}-${{ github.head_ref || github.run_id }}
  cancel-in-progress: true

permissions:
  contents: read

jobs:
  get_commit_message:
    name: Get commit message
    runs-on: ubuntu-latest
    if: github.repository == 'example/fastnum'
    outputs:
      message: ${{ steps.commit_message.outputs.message }}
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
        with:
          fetch-depth: 2
      - id: commit_message
        run: echo "message=$(git log --format=%B -n 1 HEAD^2)" >> $GITHUB_OUTPUT

  build_wheels:
    name: Build wheel ${{ matrix.python }}-${{ matrix.buildplat[1] }}-${{ matrix.buildplat[2] }}
    needs: get_commit_message
    if: >-
      contains(needs.get_commit_message.outputs.message, '[wheel build]') ||
      github.event_name == 'schedule' ||
      github.event_name == 'workflow_dispatch' ||
      (github.event_name == 'pull_request' &&
      contains(github.event.pull_request.labels.*.name, 'Build wheels')) ||
      (github.event_name == 'push' && startsWith(github.ref, 'refs/tags/v'))
    runs-on: ${{ matrix.buildplat[0] }}
    strategy:
      fail-fast: false
      matrix:
        buildplat:
          - [ubuntu-22.04, manylinux_x86_64, ""]
          - [ubuntu-22.04, musllinux_x86_64, ""]
          - [macos-13, macosx_x86_64, openblas]
          - [macos-14, macosx_arm64, accelerate]
          - [windows-2019, win_amd64, ""]
        python: ["cp312", "cp313", "pp310"]
        exclude:
          # no PyPy wheels for Windows or Apple silicon
          - buildplat: [windows-2019, win_amd64, ""]
            python: "pp310"
          - buildplat: [macos-14, macosx_arm64, accelerate]
            python: "pp310"
    env:
      IS_SCHEDULE_DISPATCH: ${{ github.event_name == 'schedule' }}
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
        with:
          submodules: true
      - name: Build wheels
        uses: pypa/cibuildwheel@d04cacbc9866d432033b1d09142936e6a0e2121a  # v2.23.2
        env:
          CIBW_BUILD: ${{ matrix.python }}-${{ matrix.buildplat[1] }}
      - uses: actions/upload-artifact@b4b15b8c7c6ac21ea08fcf65892d2ee8f75cf882  # v4.4.3
        with:
          name: ${{ matrix.python }}-${{ matrix.buildplat[1] }}-${{ matrix.buildplat[2] }}
          path: ./wheelhouse/*.whl

  build_sdist:
    name: Build sdist
    needs: get_commit_message
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: python -m build --sdist

  upload_pypi:
    name: Upload to PyPI
    needs: [build_wheels, build_sdist]
    runs-on: ubuntu-latest
    if: github.event_name == 'push' && startsWith(github.ref, 'refs/tags/')
    environment:
      name: pypi
      url: https://pypi.org/p/fastnum
    permissions:
      id-token: write
    steps:
      - uses: actions/download-artifact@fa0a91b85d4f404e444e00e005971372dc801d16  # v4.1.8
        with:
          path: dist
          merge-multiple: true
      - uses: pypa/gh-action-pypi-publish@76f52bc884231f62b9a034ebfe128415bbaabdfc  # v1.12.4
"""

WHEEL_PLATFORMS = (
    ("ubuntu-22.04", "manylinux_x86_64", ""),
    ("ubuntu-22.04", "musllinux_x86_64", ""),
    ("macos-13", "macosx_x86_64", "openblas"),
    ("macos-14", "macosx_arm64", "accelerate"),
    ("windows-2019", "win_amd64", ""),
)


def test_numpy_style_wheels_triggers() -> None:
    workflow = ci(NUMPY_WHEELS, ".github/workflows/wheels.yml")
    extra = {
        "PR into maintenance/2.2.x": Event(
            "pull_request", ref="refs/heads/backport", base_ref="refs/heads/maintenance/2.2.x"
        ),
        "PR into a feature branch": Event(
            "pull_request", ref="refs/heads/sub", base_ref="refs/heads/feature/simd"
        ),
        "tag 2.2.0": Event("push", ref="refs/tags/2.2.0"),
    }
    assert fired(workflow, extra) == {
        "push tag v1.2.3",
        "PR into main",
        "PR into main, docs only",
        "PR into maintenance/2.2.x",
        "schedule",
        "workflow_dispatch",
    }
    assert trigger_decision(workflow, PUSH_MAIN).reason == (
        "push to refs/heads/main: only tag filters are set, branches never match"
    )


def test_numpy_style_wheels_plan() -> None:
    workflow = ci(NUMPY_WHEELS, ".github/workflows/wheels.yml")
    result = plan_one(workflow, TAG)
    # Matrix values that are lists take part in exclude matching as whole values.
    combos = [
        (plat, py)
        for plat in WHEEL_PLATFORMS
        for py in ("cp312", "cp313", "pp310")
        if not (py == "pp310" and plat[0] in ("windows-2019", "macos-14"))
    ]
    wheels = [f"Build wheel {py}-{plat[1]}-{plat[2]}" for plat, py in combos]
    assert len(wheels) == 13
    assert names(result) == ["Get commit message", *wheels, "Build sdist", "Upload to PyPI"]
    assert [i.matrix for i in result.instances if i.job_id == "build_wheels"] == [
        {"buildplat": list(plat), "python": py} for plat, py in combos
    ]
    assert [i.runs_on for i in result.instances if i.job_id == "build_wheels"] == [
        (plat[0],) for plat, _ in combos
    ]
    assert not_runnable(result) == {
        wheel: f"no runner for {plat[0]}"
        for wheel, (plat, _) in zip(wheels, combos)
        if not plat[0].startswith("ubuntu")
    }
    assert waits_for(result, wheels[0]) == ["Get commit message"]
    assert waits_for(result, "Upload to PyPI") == [*wheels, "Build sdist"]
    upload = job(workflow, "upload_pypi")
    assert upload.environment == Environment(name="pypi", url="https://pypi.org/p/fastnum")
    assert upload.permissions == {"id-token": "write"}
    assert upload.steps[-1].uses == PYPI_PUBLISH
    assert job(workflow, "build_wheels").steps[1].uses == CIBUILDWHEEL
    assert workflow.permissions == {"contents": "read"}
    assert workflow.concurrency == Concurrency(
        group="${{ github.workflow }}-${{ github.head_ref || github.run_id }}",
        cancel_in_progress=True,
    )
    assert upload.if_ == "github.event_name == 'push' && startsWith(github.ref, 'refs/tags/')"
    assert condition(upload.if_, TAG) is True
    assert condition(upload.if_, EVENTS["PR into main"]) is False


NUMPY_ARM_WHEELS = """
name: Wheel builder
on:
  push:
    tags: [v*]
jobs:
  build_wheels:
    name: Build wheels on ${{ matrix.os }}
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        # ubuntu-24.04-arm is GitHub's hosted arm64 Linux runner
        os: [ubuntu-latest, ubuntu-24.04-arm]
    steps:
      - uses: pypa/cibuildwheel@d04cacbc9866d432033b1d09142936e6a0e2121a  # v2.23.2
"""


def test_arm_runner_label_is_not_served_by_an_x64_linux_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("amoskys.platforms._platform.machine", lambda: "x86_64")
    result = plan_one(ci(NUMPY_ARM_WHEELS, ".github/workflows/wheels.yml"), TAG)
    assert names(result) == [
        "Build wheels on ubuntu-latest",
        "Build wheels on ubuntu-24.04-arm",
    ]
    assert not_runnable(result) == {
        "Build wheels on ubuntu-24.04-arm": "no runner for ubuntu-24.04-arm"
    }


# --------------------------------------------------------------------------- 12. release on tag

RELEASE_ON_TAG = """
name: Release

on:
  push:
    tags:
      - "v[0-9]+.[0-9]+.[0-9]+"
      - "v[0-9]+.[0-9]+.[0-9]+rc[0-9]+"

permissions:
  contents: read

jobs:
  build:
    name: Build distribution
    runs-on: ubuntu-latest
    outputs:
      version: ${{ steps.version.outputs.version }}
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
        with:
          persist-credentials: false
      - uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
        with:
          python-version: "3.x"
      - id: version
        run: echo "version=${GITHUB_REF_NAME#v}" >> "$GITHUB_OUTPUT"
      - run: python -m pip install build && python -m build
      - uses: actions/upload-artifact@b4b15b8c7c6ac21ea08fcf65892d2ee8f75cf882  # v4.4.3
        with:
          name: python-package-distributions
          path: dist/

  publish-to-pypi:
    name: Publish to PyPI
    if: github.event_name == 'push' && startsWith(github.ref, 'refs/tags/')
    needs: [build]
    runs-on: ubuntu-latest
    environment:
      name: pypi
      url: https://pypi.org/p/example-package
    permissions:
      id-token: write  # mandatory for trusted publishing
    steps:
      - uses: actions/download-artifact@fa0a91b85d4f404e444e00e005971372dc801d16  # v4.1.8
        with:
          name: python-package-distributions
          path: dist/
      - uses: pypa/gh-action-pypi-publish@76f52bc884231f62b9a034ebfe128415bbaabdfc  # v1.12.4

  github-release:
    name: Sign and upload to GitHub Release
    needs: [build, publish-to-pypi]
    runs-on: ubuntu-latest
    permissions:
      contents: write
      id-token: write
    steps:
      - run: gh release create "$GITHUB_REF_NAME" --notes "v${{ needs.build.outputs.version }}"
        env:
          GITHUB_TOKEN: ${{ github.token }}
"""


def test_release_on_tag_triggers_only_for_version_tags() -> None:
    workflow = ci(RELEASE_ON_TAG, ".github/workflows/release.yml")
    extra = {
        "tag v1.2.3rc1": Event("push", ref="refs/tags/v1.2.3rc1"),
        "tag v10.20.30": Event("push", ref="refs/tags/v10.20.30"),
        "tag v1.2": Event("push", ref="refs/tags/v1.2"),
        "tag v1.2.3.post1": Event("push", ref="refs/tags/v1.2.3.post1"),
        "tag 1.2.3": Event("push", ref="refs/tags/1.2.3"),
    }
    assert fired(workflow, extra) == {"push tag v1.2.3", "tag v1.2.3rc1", "tag v10.20.30"}
    assert trigger_decision(workflow, PUSH_MAIN).reason == (
        "push to refs/heads/main: only tag filters are set, branches never match"
    )


def test_release_on_tag_plan() -> None:
    workflow = ci(RELEASE_ON_TAG, ".github/workflows/release.yml")
    result = plan_one(workflow, TAG)
    assert names(result) == [
        "Build distribution",
        "Publish to PyPI",
        "Sign and upload to GitHub Release",
    ]
    assert all(i.runnable and not i.matrix for i in result.instances)
    assert waits_for(result, "Publish to PyPI") == ["Build distribution"]
    assert waits_for(result, "Sign and upload to GitHub Release") == [
        "Build distribution",
        "Publish to PyPI",
    ]
    assert instance(result, "Sign and upload to GitHub Release").needs == (
        "build",
        "publish-to-pypi",
    )
    publish = job(workflow, "publish-to-pypi")
    assert publish.environment == Environment(name="pypi", url="https://pypi.org/p/example-package")
    assert publish.permissions == {"id-token": "write"}
    assert [s.uses for s in publish.steps] == [
        "actions/download-artifact@fa0a91b85d4f404e444e00e005971372dc801d16",
        PYPI_PUBLISH,
    ]
    assert job(workflow, "github-release").permissions == {
        "contents": "write",
        "id-token": "write",
    }
    assert workflow.permissions == {"contents": "read"}
    assert job(workflow, "build").outputs == {"version": "${{ steps.version.outputs.version }}"}
    assert condition(publish.if_, TAG) is True


# --------------------------------------------------------------------------- 13. mypy_primer style

MYPY_PRIMER_STYLE = """
name: Run mypy_primer

on:
  # Only on PRs: the output is a diff against the base branch.
  pull_request:
    paths:
      - 'mypy/**'
      - 'mypyc/**'
      - 'mypy_self_check.ini'
      - '!mypy/test/**'
      - '!mypy/stubgen.py'
      - '!mypyc/test-data/**'
      - '!mypyc/test/**'

permissions:
  contents: read

concurrency:
  group: ${{ github.workflow }}-${{ github.head_ref || github.run_id }}
  cancel-in-progress: true

jobs:
  mypy_primer:
    name: Run mypy_primer
    runs-on: ubuntu-latest
    permissions:
      contents: read
    strategy:
      matrix:
        shard-index: [0, 1, 2, 3, 4]
      fail-fast: false
    timeout-minutes: 60
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
        with:
          path: mypy_to_test
          fetch-depth: 0
      - run: >-
          mypy_primer --repo mypy_to_test --new $GITHUB_SHA --old base_commit
          --num-shards 5 --shard-index ${{ matrix.shard-index }} --output concise
"""


def _pr(*paths: str, action: str | None = None) -> Event:
    return Event(
        "pull_request",
        ref="refs/heads/narrowing",
        base_ref="refs/heads/master",
        changed_paths=paths,
        action=action,
    )


def test_mypy_primer_style_negated_path_filters() -> None:
    workflow = ci(MYPY_PRIMER_STYLE, ".github/workflows/mypy_primer.yml")
    extra = {
        "PR changing the checker": _pr("mypy/checker.py"),
        "PR changing only tests": _pr("mypy/test/testcheck.py", "mypyc/test/test_run.py"),
        "PR changing stubgen only": _pr("mypy/stubgen.py"),
        "PR changing a test and the checker": _pr("mypy/test/testcheck.py", "mypy/checker.py"),
        "PR changing the self-check config": _pr("mypy_self_check.ini"),
        "PR closed": _pr("mypy/checker.py", action="closed"),
        "PR labeled": _pr("mypy/checker.py", action="labeled"),
        "PR reopened": _pr("mypy/checker.py", action="reopened"),
    }
    assert fired(workflow, extra) == {
        "PR changing the checker",
        "PR changing a test and the checker",
        "PR changing the self-check config",
        "PR reopened",
    }
    assert trigger_decision(workflow, extra["PR closed"]).reason == (
        "pull_request (closed) into refs/heads/master:"
        " activity 'closed' not in default types [opened, synchronize, reopened]"
    )


def test_mypy_primer_style_plan() -> None:
    workflow = ci(MYPY_PRIMER_STYLE, ".github/workflows/mypy_primer.yml")
    result = plan_one(workflow, _pr("mypy/checker.py"))
    assert names(result) == [f"Run mypy_primer ({n})" for n in range(5)]
    assert [i.matrix for i in result.instances] == [{"shard-index": n} for n in range(5)]
    assert {(i.strategy_total, i.fail_fast, i.runnable) for i in result.instances} == {
        (5, False, True)
    }
    assert job(workflow, "mypy_primer").timeout_minutes == 60
    assert job(workflow, "mypy_primer").permissions == {"contents": "read"}


# --------------------------------------------------------------------------- 14. dispatch matrix

DISPATCH_MATRIX = """
name: Compatibility matrix
run-name: Compatibility on ${{ inputs.python-versions }} (${{ inputs.os }})

on:
  workflow_dispatch:
    inputs:
      python-versions:
        description: JSON list of Python versions
        type: string
        default: '["3.12", "3.13"]'
      os:
        description: Runner image
        type: choice
        options: [ubuntu-latest, windows-latest, macos-latest]
        default: ubuntu-latest
      matrix:
        description: A whole matrix as JSON, for the custom job
        type: string
        default: ""
      max-parallel:
        type: number
        default: 3
      fail-fast:
        type: boolean
        default: false

permissions:
  contents: read

jobs:
  test:
    runs-on: ${{ inputs.os }}
    strategy:
      fail-fast: ${{ inputs.fail-fast }}
      max-parallel: ${{ inputs.max-parallel }}
      matrix:
        python-version: ${{ fromJSON(inputs.python-versions) }}
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
        with:
          python-version: ${{ matrix.python-version }}
      - run: python -m pytest

  custom:
    needs: test
    runs-on: ${{ matrix.os }}
    continue-on-error: ${{ matrix.experimental || false }}
    strategy:
      matrix: ${{ fromJSON(inputs.matrix || '{"os":["ubuntu-latest"]}') }}
    steps:
      - run: python -m pytest
"""


def test_dispatch_matrix_triggers_only_on_dispatch() -> None:
    workflow = ci(DISPATCH_MATRIX, ".github/workflows/compat.yml")
    assert fired(workflow) == {"workflow_dispatch"}


def test_dispatch_matrix_with_default_inputs() -> None:
    workflow = ci(DISPATCH_MATRIX, ".github/workflows/compat.yml")
    result = plan_one(workflow, EVENTS["workflow_dispatch"])
    assert names(result) == ["test (3.12)", "test (3.13)", "custom (ubuntu-latest)"]
    tests = [i for i in result.instances if i.job_id == "test"]
    assert {(i.fail_fast, i.max_parallel, i.strategy_total) for i in tests} == {(False, 3, 2)}
    assert all(i.runnable for i in result.instances)
    assert waits_for(result, "custom (ubuntu-latest)") == ["test (3.12)", "test (3.13)"]
    assert instance(result, "test (3.13)").inputs == {
        "python-versions": '["3.12", "3.13"]',
        "os": "ubuntu-latest",
        "matrix": "",
        "max-parallel": 3,
        "fail-fast": False,
    }
    assert workflow.run_name == (
        "Compatibility on ${{ inputs.python-versions }} (${{ inputs.os }})"
    )


def test_dispatch_matrix_with_given_inputs() -> None:
    workflow = ci(DISPATCH_MATRIX, ".github/workflows/compat.yml")
    matrix = (
        '{"os": ["ubuntu-latest", "macos-latest"], "python": ["3.12"],'
        ' "exclude": [{"os": "macos-latest"}],'
        ' "include": [{"os": "ubuntu-latest", "python": "3.14-dev"}]}'
    )
    event = Event(
        "workflow_dispatch",
        ref="refs/heads/main",
        inputs={
            "python-versions": '["3.9", "3.13"]',
            "os": "windows-latest",
            "fail-fast": "true",
            "max-parallel": "1",
            "matrix": matrix,
        },
    )
    result = plan_one(workflow, event)
    assert names(result) == [
        "test (3.9)",
        "test (3.13)",
        "custom (ubuntu-latest, 3.12)",
        # python 3.14-dev fits no combination that is left: a combination of its own
        "custom (ubuntu-latest, 3.14-dev)",
    ]
    assert not_runnable(result) == {
        "test (3.9)": "no runner for windows-latest",
        "test (3.13)": "no runner for windows-latest",
    }
    tests = [i for i in result.instances if i.job_id == "test"]
    assert {(i.fail_fast, i.max_parallel) for i in tests} == {(True, 1)}
    assert instance(result, "custom (ubuntu-latest, 3.14-dev)").matrix == {
        "os": "ubuntu-latest",
        "python": "3.14-dev",
    }


def test_dispatch_matrix_rejects_an_option_that_is_not_offered() -> None:
    workflow = ci(DISPATCH_MATRIX, ".github/workflows/compat.yml")
    event = Event("workflow_dispatch", ref="refs/heads/main", inputs={"os": "ubuntu-20.04"})
    with pytest.raises(AmoskysError, match="input 'os' of workflow_dispatch must be one of"):
        plan([workflow], event, runner=LINUX)


# ------------------------------------------------- 15. reusable workflow + composite action

REUSABLE_REPO = {
    ".github/workflows/ci.yml": """
name: CI

on:
  push:
    branches: [main]
  pull_request:
    branches: [main]
  workflow_dispatch:

concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: true

permissions:
  contents: read

jobs:
  lint:
    name: Lint
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - uses: ./.github/actions/setup
        with:
          python-version: "3.12"
      - run: nox -s lint

  linux:
    name: Linux
    needs: lint
    uses: ./.github/workflows/_tests.yml
    with:
      os: ubuntu-latest
      python-versions: '["3.11", "3.12", "3.13"]'
    secrets: inherit

  windows:
    needs: lint
    uses: ./.github/workflows/_tests.yml
    with:
      os: windows-latest
      python-versions: '["3.12"]'
      coverage: false

  compat:
    needs: lint
    strategy:
      fail-fast: false
      matrix:
        django: ["4.2", "5.1"]
    uses: ./.github/workflows/_tests.yml
    with:
      os: ubuntu-latest
      python-versions: '["3.12"]'
      extras: django==${{ matrix.django }}

  shared-lint:
    uses: example-org/ci/.github/workflows/lint.yml@6d3f2c1e0b9a8f7e6d5c4b3a2918171615141312
    permissions:
      contents: read

  report:
    needs: [linux, windows, compat]
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "coverage ${{ needs.linux.outputs.coverage }}"
""",
    ".github/workflows/_tests.yml": """
name: Tests (reusable)

on:
  workflow_call:
    inputs:
      os:
        type: string
        required: true
      python-versions:
        type: string
        default: '["3.12"]'
      coverage:
        type: boolean
        default: true
      extras:
        type: string
        default: ""
    outputs:
      coverage:
        description: Total coverage
        value: ${{ jobs.combine.outputs.total }}
    secrets:
      CODECOV_TOKEN:
        required: false

jobs:
  pytest:
    runs-on: ${{ inputs.os }}
    strategy:
      fail-fast: false
      max-parallel: 2
      matrix:
        python: ${{ fromJSON(inputs.python-versions) }}
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - uses: ./.github/actions/setup
        with:
          python-version: ${{ matrix.python }}
          extras: ${{ inputs.extras }}
      - run: python -m pytest

  combine:
    if: inputs.coverage
    needs: pytest
    runs-on: ubuntu-latest
    outputs:
      total: ${{ steps.total.outputs.total }}
    steps:
      - id: total
        run: echo "total=97" >> "$GITHUB_OUTPUT"
""",
    ".github/actions/setup/action.yml": """
name: Set up the project
description: Install Python and the project with its test dependencies
inputs:
  python-version:
    description: The Python version to install
    required: true
  extras:
    description: More requirements to install
    default: ""
outputs:
  cache-hit:
    description: Whether the pip cache was restored
    value: ${{ steps.cache.outputs.cache-hit }}
runs:
  using: composite
  steps:
    - uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c  # v5.0.0
      with:
        python-version: ${{ inputs.python-version }}
    - id: cache
      uses: actions/cache@1bd1e32a3bdc45362d1e726936510720a7c30a57  # v4.2.0
      with:
        path: ~/.cache/pip
        key: pip-${{ runner.os }}-${{ inputs.python-version }}-${{ hashFiles('pyproject.toml') }}
    - run: python -m pip install -e ".[test]" ${{ inputs.extras }}
      shell: bash
""",
    "pyproject.toml": '[project]\nname = "example"\nversion = "0"\n',
}

SHARED_LINT = (
    "example-org/ci/.github/workflows/lint.yml" "@6d3f2c1e0b9a8f7e6d5c4b3a2918171615141312"
)


def _reusable(root: Path, event: Event = PUSH_MAIN) -> tuple[Workflow, Plan]:
    workflow = parse_workflow(root / ".github/workflows/ci.yml", root=root)
    result = plan_one(workflow, event, load_reusable=lambda uses, at: load_reusable(root, uses, at))
    return workflow, result


def test_reusable_caller_and_callee_triggers(make_repo) -> None:
    root = make_repo(REUSABLE_REPO)
    caller, callee = sorted(
        load_workflows(root), key=lambda w: w.path != ".github/workflows/ci.yml"
    )
    assert (caller.path, callee.path) == (
        ".github/workflows/ci.yml",
        ".github/workflows/_tests.yml",
    )
    assert fired(caller) == {
        "push main",
        "push main, docs only",
        "PR into main",
        "PR into main, docs only",
        "workflow_dispatch",
    }
    # A workflow that only has workflow_call runs only when called.
    assert fired(callee) == set()
    assert trigger_decision(callee, PUSH_MAIN).reason == (
        "push: not among the workflow's events [workflow_call]"
    )


def test_reusable_workflow_jobs_are_named_caller_slash_inner(make_repo) -> None:
    root = make_repo(REUSABLE_REPO)
    workflow, result = _reusable(root)
    assert names(result) == [
        "Lint",
        "Linux / pytest (3.11)",
        "Linux / pytest (3.12)",
        "Linux / pytest (3.13)",
        "Linux / combine",
        "windows / pytest (3.12)",
        "windows / combine",
        "compat (4.2) / pytest (3.12)",
        "compat (4.2) / combine",
        "compat (5.1) / pytest (3.12)",
        "compat (5.1) / combine",
        "shared-lint",
        "report",
    ]
    assert [i.job_id for i in result.instances] == [
        "lint",
        "linux/pytest",
        "linux/pytest",
        "linux/pytest",
        "linux/combine",
        "windows/pytest",
        "windows/combine",
        "compat/pytest",
        "compat/combine",
        "compat/pytest",
        "compat/combine",
        "shared-lint",
        "report",
    ]
    assert not_runnable(result) == {
        "windows / pytest (3.12)": "no runner for windows-latest",
        "shared-lint": f"remote reusable workflow {SHARED_LINT} is not available offline",
    }
    # Inner jobs without needs wait for what the calling job needs.
    assert waits_for(result, "Linux / pytest (3.11)") == ["Lint"]
    assert waits_for(result, "compat (5.1) / pytest (3.12)") == ["Lint"]
    assert waits_for(result, "Linux / combine") == [
        "Linux / pytest (3.11)",
        "Linux / pytest (3.12)",
        "Linux / pytest (3.13)",
    ]
    assert waits_for(result, "compat (4.2) / combine") == ["compat (4.2) / pytest (3.12)"]
    # A job needing a caller waits for every job of the called workflow.
    assert waits_for(result, "report") == names(result)[1:11]
    pytest_linux = [i for i in result.instances if i.job_id == "linux/pytest"]
    assert {(i.strategy_total, i.fail_fast, i.max_parallel) for i in pytest_linux} == {
        (3, False, 2)
    }
    assert instance(result, "Linux / pytest (3.12)").inputs == {
        "os": "ubuntu-latest",
        "python-versions": '["3.11", "3.12", "3.13"]',
        "coverage": True,
        "extras": "",
    }
    assert instance(result, "windows / combine").inputs["coverage"] is False
    assert instance(result, "compat (5.1) / pytest (3.12)").inputs["extras"] == "django==5.1"
    assert instance(result, "Linux / combine").workflow == ".github/workflows/_tests.yml"
    assert instance(result, "Lint").workflow == ".github/workflows/ci.yml"
    assert job(workflow, "linux").secrets == "inherit"
    assert job(workflow, "shared-lint").uses == SHARED_LINT
    assert job(workflow, "shared-lint").permissions == {"contents": "read"}
    assert workflow.concurrency == CONCURRENCY_PER_REF
    callee = load_reusable(root, "./.github/workflows/_tests.yml", job(workflow, "linux").location)
    call = callee.trigger("workflow_call")
    assert call is not None
    assert [(o.name, o.value) for o in call.outputs] == [
        ("coverage", "${{ jobs.combine.outputs.total }}")
    ]
    assert [(s.name, s.required) for s in call.secrets] == [("CODECOV_TOKEN", False)]


def test_local_composite_action_is_read_with_the_workflow(make_repo) -> None:
    root = make_repo(REUSABLE_REPO)
    workflow, _ = _reusable(root)
    lint = job(workflow, "lint")
    assert [s.uses for s in lint.steps[:2]] == [CHECKOUT, "./.github/actions/setup"]
    assert lint.steps[1].with_ == {"python-version": "3.12"}
    action = load_local_action(root, "./.github/actions/setup", lint.steps[1].location)
    assert action.path == ".github/actions/setup/action.yml"
    assert action.name == "Set up the project"
    assert [(i.name, i.required, i.default) for i in action.inputs] == [
        ("python-version", True, None),
        ("extras", False, ""),
    ]
    assert action.outputs == {"cache-hit": "${{ steps.cache.outputs.cache-hit }}"}
    assert [(s.uses, s.shell) for s in action.steps] == [
        (SETUP_PYTHON, None),
        ("actions/cache@1bd1e32a3bdc45362d1e726936510720a7c30a57", None),
        (None, "bash"),
    ]
    assert action.steps[1].id == "cache"


# --------------------------------------------------------------------------- disagreements

HYNEK_DYNAMIC_MATRIX = """
name: CI
on:
  push:
    branches: [main]
jobs:
  build-package:
    name: Build & verify package
    runs-on: ubuntu-latest
    outputs:
      python-versions: ${{ steps.baipp.outputs.supported_python_classifiers_json_array }}
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - uses: hynek/build-and-inspect-python-package@f01e4d047aadcc0c054c95ec9900da3ec3fc7a0f
        id: baipp

  tests:
    name: Tests on ${{ matrix.python-version }}
    needs: build-package
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        # The versions come from the package's trove classifiers, known after the build.
        python-version: ${{ fromJSON(needs.build-package.outputs.python-versions) }}
    steps:
      - run: python -Im tox run -e py
"""


def test_matrix_from_a_needed_jobs_output_is_planned() -> None:
    result = plan_one(ci(HYNEK_DYNAMIC_MATRIX))
    assert names(result)[0] == "Build & verify package"
    assert all(waits_for(result, name) == ["Build & verify package"] for name in names(result)[1:])


BIG_COMPAT_MATRIX = """
name: Compatibility
on: [push]
jobs:
  compat:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python: ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]
        django: ["4.2", "5.0", "5.1", "5.2", "main"]
        database: [sqlite, postgres, mysql, mariadb, oracle]
        extras: [none, all]
    steps:
      - run: tox -e py-django${{ matrix.django }}-${{ matrix.database }}
"""


def test_a_matrix_of_more_than_256_jobs_is_rejected() -> None:
    with pytest.raises(WorkflowError, match="256"):
        plan([ci(BIG_COMPAT_MATRIX)], PUSH_MAIN, runner=LINUX)


MATRIX_BUILDER = "actions/runner src/Sdk/DTPipelines/Pipelines/ObjectTemplating/MatrixBuilder.cs"


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(
            REQUESTS_STYLE,
            [f"build ({py}, {os})" for py, os in REQUESTS_CELLS],
            id="requests-coverage-flag",
        ),
        pytest.param(
            PYTEST_STYLE,
            ["package", *[f"build ({cell[0]})" for cell in PYTEST_CELLS], "check"],
            id="pytest-named-cells",
        ),
    ],
)
def test_default_names_leave_out_the_values_include_adds(text: str, expected: list[str]) -> None:
    result = plan_one(ci(text), EVENTS["PR into main"])
    assert names(result)[: len(expected)] == expected


AIOHTTP_STYLE = """
name: CI

on:
  push:
    branches: [master, "[0-9].[0-9]+"]
  pull_request:
    branches: [master, "[0-9].[0-9]+"]

jobs:
  test:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    strategy:
      matrix:
        pyver: ["3.12", "3.13"]
        no-extensions: ["", "Y"]
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: python -m pytest
        env:
          AIOHTTP_NO_EXTENSIONS: ${{ matrix.no-extensions }}
"""


def test_default_names_skip_empty_matrix_values() -> None:
    result = plan_one(ci(AIOHTTP_STYLE), Event("push", ref="refs/heads/master"))
    assert names(result) == ["test (3.12)", "test (3.12, Y)", "test (3.13)", "test (3.13, Y)"]


WHEELS_DEFAULT_NAMES = """
name: Wheels
on:
  push:
    tags: ["v*"]
jobs:
  build_wheels:
    runs-on: ${{ matrix.buildplat[0] }}
    strategy:
      matrix:
        buildplat:
          - [ubuntu-22.04, manylinux_x86_64]
          - [macos-14, macosx_arm64]
        python: ["cp312", "cp313"]
    steps:
      - uses: pypa/cibuildwheel@d04cacbc9866d432033b1d09142936e6a0e2121a  # v2.23.2
"""


def test_default_names_show_the_items_of_list_values() -> None:
    result = plan_one(ci(WHEELS_DEFAULT_NAMES), TAG)
    assert names(result) == [
        "build_wheels (ubuntu-22.04, manylinux_x86_64, cp312)",
        "build_wheels (ubuntu-22.04, manylinux_x86_64, cp313)",
        "build_wheels (macos-14, macosx_arm64, cp312)",
        "build_wheels (macos-14, macosx_arm64, cp313)",
    ]


CRYPTOGRAPHY_STYLE = """
name: CI

on:
  pull_request: {}
  push:
    branches: [main, "*.*.x"]
    tags: ["*.*", "*.*.*"]

permissions:
  contents: read

concurrency:
  group: ${{ github.workflow }}-${{ github.head_ref || github.run_id }}
  cancel-in-progress: true

jobs:
  tests:
    runs-on: ${{ matrix.os }}
    name: "${{ matrix.PYTHON.NOXSESSION }} on ${{ matrix.PYTHON.VERSION }} (${{ matrix.os }})"
    strategy:
      fail-fast: false
      matrix:
        os: [ubuntu-latest, windows-latest]
        PYTHON:
          - {VERSION: "3.9", NOXSESSION: "tests"}
          - {VERSION: "3.13", NOXSESSION: "tests"}
          - {VERSION: "3.13", NOXSESSION: "docs"}
        exclude:
          # The docs are only built on Linux.
          - os: windows-latest
            PYTHON: {NOXSESSION: docs}
    timeout-minutes: 15
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1
      - run: nox -v --install-only -s ${{ matrix.PYTHON.NOXSESSION }}
"""


def test_cryptography_style_triggers() -> None:
    workflow = ci(CRYPTOGRAPHY_STYLE)
    extra = {
        "push 44.0.x": Event("push", ref="refs/heads/44.0.x"),
        "tag 44.0.1": Event("push", ref="refs/tags/44.0.1"),
    }
    assert fired(workflow, extra) == {
        "push main",
        "push main, docs only",
        "push tag v1.2.3",
        "PR into main",
        "PR into main, docs only",
        "push 44.0.x",
        "tag 44.0.1",
    }


def test_exclude_matches_part_of_an_object_value() -> None:
    result = plan_one(ci(CRYPTOGRAPHY_STYLE), EVENTS["PR into main"])
    assert names(result) == [
        "tests on 3.9 (ubuntu-latest)",
        "tests on 3.13 (ubuntu-latest)",
        "docs on 3.13 (ubuntu-latest)",
        "tests on 3.9 (windows-latest)",
        "tests on 3.13 (windows-latest)",
    ]


def test_every_workflow_here_parses_and_has_a_distinct_shape() -> None:
    texts = [
        PIP_STYLE,
        ATTRS_STYLE,
        REQUESTS_STYLE,
        DJANGO_DOCS,
        PYTEST_STYLE,
        BLACK_STYLE,
        HTTPX_STYLE,
        POETRY_STYLE,
        PYDANTIC_STYLE,
        SPHINX_STYLE,
        NUMPY_WHEELS,
        RELEASE_ON_TAG,
        MYPY_PRIMER_STYLE,
        DISPATCH_MATRIX,
        REUSABLE_REPO[".github/workflows/ci.yml"],
        REUSABLE_REPO[".github/workflows/_tests.yml"],
        HYNEK_DYNAMIC_MATRIX,
        NUMPY_ARM_WHEELS,
        BIG_COMPAT_MATRIX,
        AIOHTTP_STYLE,
        WHEELS_DEFAULT_NAMES,
        CRYPTOGRAPHY_STYLE,
    ]
    workflows = [ci(text) for text in texts]
    assert len({w.text_sha256 for w in workflows}) == len(texts)
    assert all(w.jobs for w in workflows)
