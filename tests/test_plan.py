"""The planner: matrix expansion as GitHub documents it, instance names, the DAG, runs-on."""

from __future__ import annotations

from pathlib import Path

import pytest
from amoskys_testing import SHARED

from amoskys.errors import Location, WorkflowError
from amoskys.model import InputSpec, Job, Matrix, RunsOn, Strategy, Trigger, Workflow
from amoskys.plan import expand_matrix, matrix_suffix, plan
from amoskys.platforms import LocalRunner
from amoskys.workflow.events import Event
from amoskys.workflow.parse import load_reusable, parse_workflow, parse_workflow_text

LINUX = LocalRunner("linux")


def test_include_example_from_githubs_documentation() -> None:
    combos = expand_matrix(
        [("fruit", ["apple", "pear"]), ("animal", ["cat", "dog"])],
        include=[
            {"color": "green"},
            {"color": "pink", "animal": "cat"},
            {"fruit": "apple", "shape": "circle"},
            {"fruit": "banana"},
            {"fruit": "banana", "animal": "cat"},
        ],
    )
    assert combos == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_include_extends_only_the_matching_combination() -> None:
    combos = expand_matrix(
        [("os", ["windows-latest", "ubuntu-latest"]), ("node", [14, 16])],
        include=[{"os": "windows-latest", "node": 16, "npm": 6}],
    )
    assert combos == [
        {"os": "windows-latest", "node": 14},
        {"os": "windows-latest", "node": 16, "npm": 6},
        {"os": "ubuntu-latest", "node": 14},
        {"os": "ubuntu-latest", "node": 16},
    ]


def test_include_never_overwrites_original_values_but_may_overwrite_added_ones() -> None:
    combos = expand_matrix(
        [("py", ["3.11", "3.12"])],
        include=[{"extra": "a"}, {"py": "3.12", "extra": "b"}, {"py": "3.13"}],
    )
    assert combos == [
        {"py": "3.11", "extra": "a"},
        {"py": "3.12", "extra": "b"},
        {"py": "3.13"},
    ]


def test_exclude_applies_before_include_and_matches_partially() -> None:
    combos = expand_matrix(
        [
            ("os", ["macos-latest", "windows-latest"]),
            ("version", [12, 14, 16]),
            ("environment", ["staging", "production"]),
        ],
        exclude=[
            {"os": "macos-latest", "version": 12, "environment": "production"},
            {"os": "windows-latest", "version": 16},
        ],
    )
    assert len(combos) == 9
    assert {"os": "windows-latest", "version": 16, "environment": "staging"} not in combos
    excluded_then_included = expand_matrix(
        [("py", ["3.11", "3.12"])], include=[{"py": "3.11", "x": 1}], exclude=[{"py": "3.11"}]
    )
    assert excluded_then_included == [{"py": "3.12"}, {"py": "3.11", "x": 1}]


def test_matrix_of_objects_and_include_only() -> None:
    assert expand_matrix([], include=[{"a": 1}, {"a": 2}]) == [{"a": 1}, {"a": 2}]
    combos = expand_matrix([("cfg", [{"n": 1}, {"n": 2}])], exclude=[{"cfg": {"n": 1}}])
    assert combos == [{"cfg": {"n": 2}}]


def test_matrix_suffix_follows_githubs_naming() -> None:
    assert matrix_suffix({"os": "ubuntu-latest", "python-version": "3.12"}) == (
        "(ubuntu-latest, 3.12)"
    )
    assert matrix_suffix({"py": 3.1, "flag": True}) == "(3.1, true)"


def _seed() -> Path:
    path = SHARED / "seed" / "ci-cd.yml"
    if not path.is_file():
        pytest.skip(f"the seed workflow is not at {path}")
    return path


def test_seed_push_to_main_plans_eleven_instances_in_order() -> None:
    workflow = parse_workflow(_seed())
    result = plan([workflow], Event("push", ref="refs/heads/main"), runner=LINUX)
    names = [i.name for i in result.instances]
    assert len(names) == 11
    assert names[:2] == ["code-quality", "security-scan"]
    assert "test-matrix (ubuntu-latest, 3.12)" in names
    assert names[2] == "test-matrix (ubuntu-latest, 3.11)"
    runnable = [i.name for i in result.instances if i.runnable]
    assert runnable == [
        "code-quality",
        "security-scan",
        "test-matrix (ubuntu-latest, 3.11)",
        "test-matrix (ubuntu-latest, 3.12)",
        "test-matrix (ubuntu-latest, 3.13)",
    ]
    windows = [i for i in result.instances if i.matrix.get("os") == "windows-latest"]
    assert {i.reason for i in windows} == {"no runner for windows-latest"}
    assert [i.strategy_index for i in result.instances if i.job_id == "test-matrix"] == list(
        range(9)
    )


@pytest.mark.parametrize(
    "event, count",
    [
        (Event("push", ref="refs/heads/main"), 11),
        (Event("push", ref="refs/heads/develop"), 11),
        (Event("schedule", ref="refs/heads/main", cron="0 6 * * 1"), 11),
        (Event("push", ref="refs/heads/feature/x"), 0),
        (Event("push", ref="refs/tags/v1.0.0"), 0),
        (Event("pull_request", ref="refs/heads/feature/x", base_ref="refs/heads/main"), 11),
        (Event("pull_request", ref="refs/heads/feature/x", base_ref="refs/heads/develop"), 0),
        (Event("workflow_dispatch", ref="refs/heads/main"), 0),
    ],
)
def test_seed_triggers(event: Event, count: int) -> None:
    result = plan([parse_workflow(_seed())], event, runner=LINUX)
    assert len(result.instances) == count
    assert result.decisions[0].decision.triggered is (count > 0)


def test_runs_on_labels_need_every_label_and_custom_labels_map_locally() -> None:
    job = Job(id="j", runs_on=RunsOn(labels=("self-hosted", "linux")))
    workflow = Workflow(path="w.yml", triggers=(Trigger("push"),), jobs=(job,))
    event = Event("push", ref="refs/heads/main")
    alone = plan([workflow], event, runner=LINUX).instances[0]
    assert (alone.runnable, alone.reason) == (False, "no runner for self-hosted")
    mapped = plan([workflow], event, runner=LocalRunner("linux", frozenset({"self-hosted"})))
    assert mapped.instances[0].runnable


def test_expression_matrix_and_runs_on_are_evaluated() -> None:
    job = Job(
        id="t",
        runs_on=RunsOn(labels=("${{ matrix.os }}",)),
        strategy=Strategy(
            matrix=Matrix(expression="${{ fromJSON(inputs.m) }}"),
            max_parallel="${{ fromJSON('2') }}",
        ),
    )
    workflow = Workflow(
        path="w.yml",
        triggers=(Trigger("workflow_dispatch", inputs=(InputSpec("m"),)),),
        jobs=(job,),
    )
    result = plan(
        [workflow],
        Event(
            "workflow_dispatch",
            inputs={"m": '{"os": ["ubuntu-22.04", "macos-14"], "include": [{"os": "x", "k": 1}]}'},
        ),
        runner=LINUX,
    )
    assert [(i.name, i.runnable) for i in result.instances] == [
        ("t (ubuntu-22.04)", True),
        ("t (macos-14)", False),
        ("t (x)", False),
    ]
    assert {i.max_parallel for i in result.instances} == {2}


def test_matrix_errors_point_at_the_job() -> None:
    job = Job(
        id="t",
        runs_on=RunsOn(labels=("ubuntu-latest",)),
        strategy=Strategy(matrix=Matrix(axes=(("py", []),))),
        location=Location("w.yml", 4, 3),
    )
    workflow = Workflow(path="w.yml", triggers=(Trigger("push"),), jobs=(job,))
    with pytest.raises(WorkflowError) as err:
        plan([workflow], Event("push"), runner=LINUX)
    assert str(err.value) == "w.yml:4:3: matrix vector 'py' does not contain any values"


def test_needs_wait_for_every_instance_and_named_jobs_with_matrix_keep_their_name() -> None:
    text = """
on: push
jobs:
  build:
    name: Build on ${{ matrix.os }}
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu-latest, ubuntu-22.04]
    steps:
      - run: echo hi
  test:
    name: Test
    needs: build
    runs-on: ubuntu-latest
    strategy:
      matrix:
        py: ['3.11']
    steps:
      - run: echo hi
"""
    workflow = parse_workflow_text(text, ".github/workflows/ci.yml")
    result = plan([workflow], Event("push"), runner=LINUX)
    names = [i.name for i in result.instances]
    assert names == ["Build on ubuntu-latest", "Build on ubuntu-22.04", "Test (3.11)"]
    build_keys = {i.key for i in result.instances if i.job_id == "build"}
    assert set(result.instances[2].needs_keys) == build_keys


def test_local_reusable_workflow_expands_into_its_jobs(make_repo) -> None:
    root = make_repo(
        {
            ".github/workflows/ci.yml": """
on: push
jobs:
  lint:
    runs-on: ubuntu-latest
    steps: [{run: echo lint}]
  call:
    needs: lint
    uses: ./.github/workflows/reusable.yml
    with:
      python: '3.12'
  after:
    needs: call
    runs-on: ubuntu-latest
    steps: [{run: echo after}]
""",
            ".github/workflows/reusable.yml": """
on:
  workflow_call:
    inputs:
      python:
        type: string
        required: true
jobs:
  one:
    runs-on: ubuntu-latest
    steps: [{run: echo one}]
  two:
    needs: one
    name: Two on ${{ inputs.python }}
    runs-on: ubuntu-latest
    steps: [{run: echo two}]
""",
        }
    )
    workflow = parse_workflow(root / ".github/workflows/ci.yml", root=root)
    result = plan(
        [workflow],
        Event("push"),
        runner=LINUX,
        load_reusable=lambda uses, at: load_reusable(root, uses, at),
    )
    by_id = {i.job_id: i for i in result.instances}
    assert list(by_id) == ["lint", "call/one", "call/two", "after"]
    assert by_id["call/two"].name == "call / Two on 3.12"
    assert by_id["call/one"].needs_keys == (by_id["lint"].key,)
    assert by_id["call/two"].needs_keys == (by_id["call/one"].key,)
    assert set(by_id["after"].needs_keys) == {by_id["call/one"].key, by_id["call/two"].key}


def test_remote_reusable_workflow_is_planned_as_not_runnable() -> None:
    text = """
on: push
jobs:
  call:
    uses: octo-org/repo/.github/workflows/ci.yml@v1
"""
    result = plan([parse_workflow_text(text, "ci.yml")], Event("push"), runner=LINUX)
    (inst,) = result.instances
    assert not inst.runnable
    assert "not available offline" in inst.reason
