"""Parsing valid workflows into the model: the seed workflow and every documented feature."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from amoskys.errors import Location, WorkflowError
from amoskys.model import Concurrency, Environment, RunDefaults, RunsOn, Workflow
from amoskys.workflow.parse import (
    discover_workflows,
    load_local_action,
    load_reusable,
    load_workflows,
    parse_action,
    parse_workflow,
    parse_workflow_text,
)
from amoskys.workflow.yaml_source import load_yaml

SHARED = Path(
    os.environ.get("AMOSKYS_SHARED", Path(__file__).resolve().parents[2].parent / "shared")
)
SEED = SHARED / "seed" / "ci-cd.yml"
JOBS = """
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo hi
"""


def parse(text: str, path: str = "w.yml", *, jobs: bool = False) -> Workflow:
    """Parse dedented ``text``, with a minimal valid ``jobs:`` appended when ``jobs``."""
    return parse_workflow_text(textwrap.dedent(text) + (JOBS if jobs else ""), path)


def write(root: Path, rel: str, text: str) -> Path:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text), encoding="utf-8")
    return target


# --- the seed ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed() -> Workflow:
    if not SEED.is_file():
        pytest.skip(f"seed workflow not found at {SEED}")
    return parse_workflow(SEED, root=SHARED)


def test_seed_name_path_and_jobs(seed: Workflow) -> None:
    assert seed.name == "AMOSKYS CI/CD Pipeline"
    assert seed.path == "seed/ci-cd.yml"
    assert [job.id for job in seed.jobs] == ["code-quality", "security-scan", "test-matrix"]
    assert len(seed.text_sha256) == 64


def test_seed_triggers(seed: Workflow) -> None:
    assert [t.event for t in seed.triggers] == ["push", "pull_request", "schedule"]
    push, pull_request, schedule = seed.triggers
    assert push.branches == ("main", "develop")
    assert pull_request.branches == ("main",)
    assert schedule.crons == ("0 6 * * 1",)
    assert push.location == Location("seed/ci-cd.yml", 3, 3)


def test_seed_matrix_axes_in_order(seed: Workflow) -> None:
    job = seed.job("test-matrix")
    assert job is not None and job.strategy is not None and job.strategy.matrix is not None
    axes = job.strategy.matrix.axes
    assert [name for name, _ in axes] == ["os", "python-version"]
    assert axes[0][1] == ["ubuntu-latest", "windows-latest", "macOS-latest"]
    assert axes[1][1] == ["3.11", "3.12", "3.13"]
    assert job.runs_on == RunsOn(expression="${{ matrix.os }}")
    assert job.strategy.fail_fast is True
    assert job.location == Location("seed/ci-cd.yml", 52, 3)


def test_seed_steps(seed: Workflow) -> None:
    quality = seed.job("code-quality")
    assert quality is not None
    assert quality.runs_on == RunsOn(labels=("ubuntu-latest",))
    assert len(quality.steps) == 7
    first, setup = quality.steps[0], quality.steps[1]
    assert first.uses == "actions/checkout@v4" and first.display_name == "Run actions/checkout@v4"
    assert setup.name == "Set up Python" and setup.with_ == {"python-version": "3.12"}
    install = quality.steps[2]
    assert install.run is not None and install.run.startswith("python -m pip install")
    assert install.location.line == 19
    assert [s.index for s in quality.steps] == list(range(7))


# --- on: --------------------------------------------------------------------------------------


def test_on_as_string_and_list() -> None:
    assert [
        t.event for t in parse("on: push\njobs: {a: {runs-on: x, steps: [{run: y}]}}").triggers
    ] == ["push"]
    wf = parse("on: [push, pull_request, workflow_dispatch]\njobs: {a: {runs-on: x, steps: []}}")
    assert [t.event for t in wf.triggers] == ["push", "pull_request", "workflow_dispatch"]
    assert wf.triggers[0].branches is None


def test_push_and_pull_request_filters() -> None:
    wf = parse(
        """
        on:
          push:
            branches-ignore: ['releases/**']
            tags: ['v*']
            paths: ['src/**', '!src/docs/**']
          pull_request:
            branches: [main]
            paths-ignore: ['docs/**']
            types: [opened, labeled]
          pull_request_target:
            types: [closed]
        """,
        jobs=True,
    )
    push = wf.trigger("push")
    assert push is not None
    assert push.branches is None and push.branches_ignore == ("releases/**",)
    assert push.tags == ("v*",) and push.tags_ignore is None
    assert push.paths == ("src/**", "!src/docs/**")
    pr = wf.trigger("pull_request")
    assert pr is not None and pr.types == ("opened", "labeled")
    assert pr.paths_ignore == ("docs/**",) and pr.branches == ("main",)
    target = wf.trigger("pull_request_target")
    assert target is not None and target.types == ("closed",)


def test_empty_event_and_other_events() -> None:
    wf = parse(
        """
        on:
          push:
          issues:
            types: [opened, labeled]
          release:
            types: [published]
          repository_dispatch:
            types: [my-custom-type]
          workflow_run:
            workflows: [CI]
            types: [completed]
            branches: [main]
          merge_group:
          watch:
        """,
        jobs=True,
    )
    assert [t.event for t in wf.triggers] == [
        "push",
        "issues",
        "release",
        "repository_dispatch",
        "workflow_run",
        "merge_group",
        "watch",
    ]
    run = wf.trigger("workflow_run")
    assert run is not None
    assert run.workflows == ("CI",) and run.types == ("completed",) and run.branches == ("main",)
    assert wf.triggers[3].types == ("my-custom-type",)


def test_schedule_with_several_crons() -> None:
    wf = parse(
        """
        on:
          schedule:
            - cron: '0 6 * * 1'
            - cron: '*/15 0-5 * * MON-FRI'
        """,
        jobs=True,
    )
    trigger = wf.trigger("schedule")
    assert trigger is not None and trigger.crons == ("0 6 * * 1", "*/15 0-5 * * MON-FRI")


def test_workflow_dispatch_typed_inputs() -> None:
    wf = parse(
        """
        on:
          workflow_dispatch:
            inputs:
              name:
                description: Who to greet
                required: true
                default: World
              debug:
                type: boolean
                default: false
              count:
                type: number
                default: 3
              level:
                type: choice
                options: [info, warning, error]
                default: warning
              target:
                type: environment
        """,
        jobs=True,
    )
    trigger = wf.trigger("workflow_dispatch")
    assert trigger is not None
    inputs = {spec.name: spec for spec in trigger.inputs}
    assert list(inputs) == ["name", "debug", "count", "level", "target"]
    assert inputs["name"].type == "string" and inputs["name"].required is True
    assert inputs["name"].default == "World" and inputs["name"].description == "Who to greet"
    assert inputs["debug"].type == "boolean" and inputs["debug"].default is False
    assert inputs["count"].default == 3
    assert inputs["level"].options == ("info", "warning", "error")
    assert inputs["target"].type == "environment"
    assert inputs["debug"].location.line == 9


def test_workflow_call_inputs_outputs_secrets() -> None:
    wf = parse(
        """
        on:
          workflow_call:
            inputs:
              version:
                type: string
                required: true
              dry-run:
                type: boolean
                default: ${{ github.event_name != 'push' }}
            outputs:
              artifact:
                description: The built file
                value: ${{ jobs.a.outputs.file }}
            secrets:
              token:
                required: true
              optional:
        """,
        jobs=True,
    )
    trigger = wf.trigger("workflow_call")
    assert trigger is not None
    assert [(i.name, i.type, i.required) for i in trigger.inputs] == [
        ("version", "string", True),
        ("dry-run", "boolean", False),
    ]
    assert trigger.outputs[0].value == "${{ jobs.a.outputs.file }}"
    assert trigger.outputs[0].description == "The built file"
    assert [(s.name, s.required) for s in trigger.secrets] == [("token", True), ("optional", False)]


# --- workflow-level keys ----------------------------------------------------------------------


def test_workflow_level_keys() -> None:
    wf = parse(
        """
        name: Build
        run-name: Build by @${{ github.actor }}
        on: push
        env:
          CI: true
          RETRIES: 3
          RATIO: 1.5
          TOKEN: ${{ secrets.TOKEN }}
          EMPTY:
        defaults:
          run:
            shell: bash
            working-directory: ./src
        concurrency: ci-${{ github.ref }}
        permissions: read-all
        """,
        jobs=True,
    )
    assert wf.name == "Build" and wf.run_name == "Build by @${{ github.actor }}"
    assert wf.env == {
        "CI": True,
        "RETRIES": 3,
        "RATIO": 1.5,
        "TOKEN": "${{ secrets.TOKEN }}",
        "EMPTY": "",
    }
    assert wf.defaults == RunDefaults(shell="bash", working_directory="./src")
    assert wf.concurrency == Concurrency(group="ci-${{ github.ref }}")
    assert wf.permissions == "read-all"
    assert wf.display_name == "Build"


def test_concurrency_mapping_and_permission_scopes() -> None:
    wf = parse(
        """
        on: push
        concurrency:
          group: ${{ github.workflow }}-${{ github.ref }}
          cancel-in-progress: true
        permissions:
          contents: read
          pull-requests: write
          id-token: write
          issues: none
        """,
        jobs=True,
    )
    assert wf.concurrency == Concurrency("${{ github.workflow }}-${{ github.ref }}", True)
    assert wf.permissions == {
        "contents": "read",
        "pull-requests": "write",
        "id-token": "write",
        "issues": "none",
    }
    assert parse("on: push\npermissions: {}\n" + JOBS).permissions == {}


# --- jobs -------------------------------------------------------------------------------------


def test_job_keys() -> None:
    wf = parse("""
        on: push
        jobs:
          build:
            runs-on: ubuntu-latest
            outputs:
              version: ${{ steps.v.outputs.version }}
            steps:
              - id: v
                run: echo "version=1" >> "$GITHUB_OUTPUT"
          deploy:
            name: Deploy ${{ matrix.target }}
            needs: build
            if: github.ref == 'refs/heads/main'
            runs-on: [self-hosted, linux]
            env:
              STAGE: prod
            defaults:
              run:
                shell: pwsh
            timeout-minutes: 30
            continue-on-error: ${{ matrix.experimental }}
            environment:
              name: production
              url: ${{ steps.deploy.outputs.url }}
            concurrency:
              group: deploy
              cancel-in-progress: ${{ github.ref != 'refs/heads/main' }}
            permissions:
              deployments: write
            strategy:
              matrix:
                target: [eu, us]
                experimental: [false]
            steps:
              - id: deploy
                run: ./deploy.sh
          notify:
            needs: [build, deploy]
            if: ${{ always() }}
            runs-on:
              group: ubuntu-runners
              labels: ubuntu-20.04-16core
            environment: staging
            timeout-minutes: 2.5
            continue-on-error: true
            steps:
              - run: echo done
        """)
    build, deploy, notify = wf.jobs
    assert build.outputs == {"version": "${{ steps.v.outputs.version }}"}
    assert build.timeout_minutes == 360 and build.continue_on_error is False
    assert deploy.name == "Deploy ${{ matrix.target }}"
    assert deploy.needs == ("build",)
    assert deploy.if_ == "github.ref == 'refs/heads/main'"
    assert deploy.runs_on == RunsOn(labels=("self-hosted", "linux"))
    assert deploy.env == {"STAGE": "prod"}
    assert deploy.defaults == RunDefaults(shell="pwsh")
    assert deploy.timeout_minutes == 30
    assert deploy.continue_on_error == "${{ matrix.experimental }}"
    assert deploy.environment == Environment("production", "${{ steps.deploy.outputs.url }}")
    assert deploy.concurrency == Concurrency("deploy", "${{ github.ref != 'refs/heads/main' }}")
    assert deploy.permissions == {"deployments": "write"}
    assert notify.needs == ("build", "deploy")
    assert notify.if_ == "${{ always() }}"
    assert notify.runs_on == RunsOn(labels=("ubuntu-20.04-16core",), group="ubuntu-runners")
    assert notify.environment == Environment("staging")
    assert notify.timeout_minutes == 2.5 and notify.continue_on_error is True
    assert not notify.is_reusable_call


def test_strategy_matrix_include_exclude_and_limits() -> None:
    wf = parse("""
        on: push
        jobs:
          test:
            runs-on: ${{ matrix.os }}
            strategy:
              fail-fast: false
              max-parallel: 2
              matrix:
                python: ['3.11', '3.12']
                os: [ubuntu-latest, windows-latest]
                include:
                  - python: '3.13'
                    os: ubuntu-latest
                    experimental: true
                exclude:
                  - python: '3.11'
                    os: windows-latest
            steps:
              - run: pytest
        """)
    strategy = wf.jobs[0].strategy
    assert strategy is not None and strategy.matrix is not None
    assert strategy.fail_fast is False and strategy.max_parallel == 2
    matrix = strategy.matrix
    assert [k for k, _ in matrix.axes] == ["python", "os"]
    assert matrix.include == ({"python": "3.13", "os": "ubuntu-latest", "experimental": True},)
    assert matrix.exclude == ({"python": "3.11", "os": "windows-latest"},)
    assert matrix.expression is None


def test_expression_valued_matrices() -> None:
    wf = parse("""
        on: push
        jobs:
          setup:
            runs-on: ubuntu-latest
            outputs:
              matrix: ${{ steps.m.outputs.matrix }}
            steps:
              - id: m
                run: echo 'matrix={}' >> "$GITHUB_OUTPUT"
          whole:
            needs: setup
            runs-on: ubuntu-latest
            strategy:
              matrix: ${{ fromJSON(needs.setup.outputs.matrix) }}
              fail-fast: ${{ github.event_name == 'push' }}
              max-parallel: ${{ fromJSON('3') }}
            steps:
              - run: echo
          axis:
            needs: setup
            runs-on: ubuntu-latest
            strategy:
              matrix:
                version: ${{ fromJSON(needs.setup.outputs.matrix).versions }}
                include: ${{ fromJSON(needs.setup.outputs.matrix).include }}
            steps:
              - run: echo
        """)
    whole = wf.jobs[1].strategy
    assert whole is not None and whole.matrix is not None
    assert whole.matrix.expression == "${{ fromJSON(needs.setup.outputs.matrix) }}"
    assert whole.fail_fast == "${{ github.event_name == 'push' }}"
    assert whole.max_parallel == "${{ fromJSON('3') }}"
    axis = wf.jobs[2].strategy
    assert axis is not None and axis.matrix is not None
    assert axis.matrix.axes == (
        ("version", "${{ fromJSON(needs.setup.outputs.matrix).versions }}"),
    )
    assert axis.matrix.include == "${{ fromJSON(needs.setup.outputs.matrix).include }}"


def test_services_and_container() -> None:
    wf = parse("""
        on: push
        jobs:
          a:
            runs-on: ubuntu-latest
            container: python:3.12
            services:
              redis:
                image: redis:7
                ports: ['6379:6379']
                options: --health-cmd "redis-cli ping"
              db:
                image: postgres:16
                env:
                  POSTGRES_PASSWORD: ${{ secrets.DB_PASSWORD }}
                credentials:
                  username: ${{ github.actor }}
                  password: ${{ secrets.GITHUB_TOKEN }}
            steps:
              - run: echo
          b:
            runs-on: ubuntu-latest
            container:
              image: node:20
              env:
                NODE_ENV: test
              volumes: [/data:/data]
            steps:
              - run: echo
        """)
    a, b = wf.jobs
    assert a.container == {"image": "python:3.12"}
    assert set(a.services) == {"redis", "db"}
    assert a.services["redis"]["ports"] == ["6379:6379"]
    assert a.services["db"]["env"] == {"POSTGRES_PASSWORD": "${{ secrets.DB_PASSWORD }}"}
    assert b.container["image"] == "node:20" and b.container["volumes"] == ["/data:/data"]


def test_reusable_workflow_call_jobs() -> None:
    wf = parse("""
        on: push
        jobs:
          call-local:
            uses: ./.github/workflows/reusable.yml
            with:
              version: '1.2'
              debug: true
              count: 3
            secrets: inherit
          call-remote:
            needs: call-local
            if: success()
            uses: octo-org/example-repo/.github/workflows/deploy.yml@v1
            strategy:
              matrix:
                target: [dev, prod]
            with:
              target: ${{ matrix.target }}
            secrets:
              token: ${{ secrets.DEPLOY_TOKEN }}
            permissions:
              contents: read
            concurrency: deploy-${{ matrix.target }}
        """)
    local, remote = wf.jobs
    assert local.is_reusable_call and local.uses == "./.github/workflows/reusable.yml"
    assert local.with_ == {"version": "1.2", "debug": True, "count": 3}
    assert local.secrets == "inherit"
    assert local.runs_on is None and local.steps == ()
    assert remote.secrets == {"token": "${{ secrets.DEPLOY_TOKEN }}"}
    assert remote.with_ == {"target": "${{ matrix.target }}"}
    assert remote.if_ == "success()"


def test_step_keys_and_scalars_kept_as_yaml_gave_them() -> None:
    wf = parse("""
        on: push
        jobs:
          a:
            runs-on: ubuntu-latest
            steps:
              - id: setup_py
                name: Setup
                if: ${{ matrix.os == 'linux' }}
                uses: actions/setup-python@v5
                with:
                  python-version: 3.10
                  cache: true
                  retries: 2
                  note: ~
                env:
                  DEBUG: false
                continue-on-error: true
                timeout-minutes: 5
              - name: Script
                if: success() && steps.setup_py.outcome == 'success'
                run: |
                  echo one
                  echo two
                shell: bash -e {0}
                working-directory: ./app
                continue-on-error: ${{ matrix.experimental }}
                timeout-minutes: ${{ fromJSON(env.T) }}
              - uses: docker://alpine:3.20
                with:
                  args: echo hi
              - uses: ./.github/actions/local
              - uses: actions/aws/ec2@main
        """)
    first, second, third, fourth, fifth = wf.jobs[0].steps
    assert first.id == "setup_py" and first.name == "Setup"
    assert first.if_ == "${{ matrix.os == 'linux' }}"
    assert first.with_ == {"python-version": 3.1, "cache": True, "retries": 2, "note": ""}
    assert first.env == {"DEBUG": False}
    assert first.continue_on_error is True and first.timeout_minutes == 5
    assert second.run == "echo one\necho two\n" and second.shell == "bash -e {0}"
    assert second.working_directory == "./app"
    assert second.continue_on_error == "${{ matrix.experimental }}"
    assert second.timeout_minutes == "${{ fromJSON(env.T) }}"
    assert second.display_name == "Script"
    assert third.uses == "docker://alpine:3.20" and third.with_ == {"args": "echo hi"}
    assert fourth.uses == "./.github/actions/local"
    assert fifth.uses == "actions/aws/ec2@main" and fifth.display_name == "Run actions/aws/ec2@main"
    assert second.location == Location("w.yml", 20, 9)


def test_anchors_aliases_and_merge_keys() -> None:
    wf2 = parse("""
        on: push
        env: &env
          A: '1'
        jobs:
          a:
            runs-on: &runner ubuntu-latest
            env: *env
            steps: &steps
              - run: echo a
          b:
            runs-on: *runner
            env:
              <<: *env
              B: '2'
            steps: *steps
        """)
    a, b = wf2.jobs
    assert a.env == {"A": "1"} and b.env == {"A": "1", "B": "2"}
    assert b.runs_on == RunsOn(labels=("ubuntu-latest",))
    assert [s.run for s in b.steps] == ["echo a"]


def test_merge_key_fills_a_job() -> None:
    wf = parse("""
        on: push
        jobs:
          a: &job
            runs-on: ubuntu-latest
            timeout-minutes: 10
            steps:
              - run: echo a
          b:
            <<: *job
            timeout-minutes: 20
        """)
    a, b = wf.jobs
    assert a.timeout_minutes == 10 and b.timeout_minutes == 20
    assert b.runs_on == a.runs_on and [s.run for s in b.steps] == ["echo a"]


# --- the YAML layer ---------------------------------------------------------------------------


def test_yaml_source_locations_and_types() -> None:
    doc = load_yaml("on: push\nkey:\n  - 'it''s'\n  - \"a\\\"b\"\nyes: no\nn: 0x1F\n", "f.yml")
    assert doc.data == {"on": "push", "key": ["it's", 'a"b'], "yes": "no", "n": 31}
    assert doc.key_location(("key",)) == Location("f.yml", 2, 1)
    assert doc.location(("key", 1)) == Location("f.yml", 4, 5)
    assert doc.offset_location(("key", 0), 3) == Location("f.yml", 3, 10)
    assert doc.offset_location(("key", 1), 1) == Location("f.yml", 4, 7)
    assert doc.offset_location(("key", 1), 2) == Location("f.yml", 4, 9)
    assert doc.location(("missing", "deeper")) == Location("f.yml", 1, 1)


def test_yaml_source_block_scalar_offsets() -> None:
    doc = load_yaml("run: |\n  one\n  two ${{ x }}\nfold: >\n  a\n  b ${{ y }}\n", "f.yml")
    run = doc.data["run"]
    assert doc.offset_location(("run",), run.index("${{")) == Location("f.yml", 3, 7)
    fold = doc.data["fold"]
    assert doc.offset_location(("fold",), fold.index("${{")) == Location("f.yml", 6, 5)


def test_yaml_source_reports_duplicate_keys_as_problems() -> None:
    doc = load_yaml("a: 1\nb: 2\na: 3\n", "f.yml")
    assert doc.data == {"a": 1, "b": 2}
    assert [str(p.location) for p in doc.problems] == ["f.yml:3:1"]


# --- files, roots, local references ------------------------------------------------------------


def test_discover_and_load_workflows(tmp_path: Path) -> None:
    write(tmp_path, ".github/workflows/b.yaml", "on: push\n" + JOBS)
    write(tmp_path, ".github/workflows/a.yml", "on: pull_request\n" + JOBS)
    write(tmp_path, ".github/workflows/notes.txt", "not a workflow")
    found = discover_workflows(tmp_path)
    assert [p.name for p in found] == ["a.yml", "b.yaml"]
    workflows = load_workflows(tmp_path)
    assert [w.path for w in workflows] == [".github/workflows/a.yml", ".github/workflows/b.yaml"]
    assert workflows[0].location == Location(".github/workflows/a.yml", 1, 1)
    assert discover_workflows(tmp_path / "nowhere") == []


def test_load_workflows_reports_every_file_at_once(tmp_path: Path) -> None:
    write(tmp_path, ".github/workflows/a.yml", "on: pushh\n" + JOBS)
    write(tmp_path, ".github/workflows/b.yml", "on: push\njobs: {}\n")
    with pytest.raises(WorkflowError) as info:
        load_workflows(tmp_path)
    paths = [p.location.path for p in info.value.problems if p.location]
    assert paths == [".github/workflows/a.yml", ".github/workflows/b.yml"]
    assert info.value.exit_code == 2


def test_local_reusable_workflow_and_action_are_read(tmp_path: Path) -> None:
    write(
        tmp_path,
        ".github/workflows/reusable.yml",
        """
        on:
          workflow_call:
            inputs:
              version: {type: string, required: true}
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - uses: ./.github/actions/hello
                with:
                  who: ${{ inputs.version }}
        """,
    )
    write(
        tmp_path,
        ".github/actions/hello/action.yml",
        """
        name: Hello
        description: Says hello
        inputs:
          who:
            description: Who
            required: true
            default: world
        outputs:
          greeting:
            description: The greeting
            value: ${{ steps.say.outputs.greeting }}
        runs:
          using: composite
          steps:
            - id: say
              run: echo "greeting=hello ${{ inputs.who }}" >> "$GITHUB_OUTPUT"
              shell: bash
        """,
    )
    caller = write(
        tmp_path,
        ".github/workflows/ci.yml",
        """
        on: push
        jobs:
          call:
            uses: ./.github/workflows/reusable.yml
            with:
              version: '1.0'
        """,
    )
    workflow = parse_workflow(caller, root=tmp_path)
    assert workflow.path == ".github/workflows/ci.yml"
    at = Location(workflow.path, 5, 11)
    called = load_reusable(tmp_path, "./.github/workflows/reusable.yml", at)
    assert called.path == ".github/workflows/reusable.yml"
    assert called is load_reusable(tmp_path, "./.github/workflows/reusable.yml", at)  # cached
    action = load_local_action(tmp_path, "./.github/actions/hello", at)
    assert action.path == ".github/actions/hello/action.yml"
    assert action.name == "Hello" and action.description == "Says hello"
    assert action.inputs[0].name == "who" and action.inputs[0].default == "world"
    assert action.inputs[0].required is True
    assert action.outputs == {"greeting": "${{ steps.say.outputs.greeting }}"}
    assert [s.id for s in action.steps] == ["say"] and action.steps[0].shell == "bash"
    assert parse_action(tmp_path / ".github/actions/hello", tmp_path) == action


def test_action_yaml_extension_is_found(tmp_path: Path) -> None:
    write(
        tmp_path,
        "act/action.yaml",
        "name: A\nruns:\n  using: composite\n  steps:\n    - run: echo\n      shell: sh\n",
    )
    action = parse_action(tmp_path / "act", tmp_path)
    assert action.path == "act/action.yaml" and action.steps[0].run == "echo"


def test_workflow_error_exit_code_is_two() -> None:
    with pytest.raises(WorkflowError) as info:
        parse("on: push\njobs: {}\n")
    assert info.value.exit_code == 2
