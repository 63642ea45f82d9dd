"""Malformed workflows: each mistake is reported at its exact line and column, all in one pass."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from amoskys.errors import Location, Problem, WorkflowError
from amoskys.workflow.parse import (
    load_local_action,
    load_reusable,
    load_workflows,
    parse_action,
    parse_workflow,
    parse_workflow_text,
)


def problems_of(text: str, path: str = "w.yml") -> list[Problem]:
    with pytest.raises(WorkflowError) as info:
        parse_workflow_text(textwrap.dedent(text), path)
    return list(info.value.problems)


def write(root: Path, rel: str, text: str) -> Path:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text), encoding="utf-8")
    return target


# Each case: (id, workflow text, line, column, words the message must contain).
CASES: list[tuple[str, str, int, int, tuple[str, ...]]] = [
    (
        "unknown-top-level-key",
        """\
        nmae: CI
        on: push
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        1,
        1,
        ("unknown key 'nmae'", "did you mean 'name'"),
    ),
    (
        "unknown-job-key",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            timeout: 5
            steps: [{run: y}]
        """,
        5,
        5,
        ("unknown key 'timeout'", "timeout-minutes"),
    ),
    (
        "unknown-step-key",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - run: y
                shel: bash
        """,
        7,
        9,
        ("unknown key 'shel'", "did you mean 'shell'"),
    ),
    (
        "unknown-event-key",
        """\
        on:
          push:
            branch: [main]
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        3,
        5,
        ("unknown key 'branch'", "did you mean 'branches'"),
    ),
    (
        "runs-on-number",
        """\
        on: push
        jobs:
          a:
            runs-on: 5
            steps: [{run: y}]
        """,
        4,
        14,
        ("runs-on", "a number (5)", "runner label"),
    ),
    (
        "needs-mapping",
        """\
        on: push
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
          b:
            runs-on: x
            needs: {a: b}
            steps: [{run: y}]
        """,
        6,
        12,
        ("needs", "a mapping", "job id"),
    ),
    (
        "timeout-not-a-number",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            timeout-minutes: 'abc'
            steps: [{run: y}]
        """,
        5,
        22,
        ("timeout-minutes", "'abc'", "expected a number or an expression"),
    ),
    (
        "step-timeout-not-a-number",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - run: y
                timeout-minutes: [1]
        """,
        7,
        26,
        ("timeout-minutes", "a list", "number"),
    ),
    (
        "job-without-runs-on-or-uses",
        """\
        on: push
        jobs:
          lonely:
            steps: [{run: y}]
        """,
        3,
        3,
        ("neither 'runs-on' nor 'uses'",),
    ),
    (
        "uses-job-with-steps",
        """\
        on: push
        jobs:
          call:
            uses: ./.github/workflows/r.yml
            steps: [{run: y}]
        """,
        5,
        5,
        ("'steps' cannot be used", "reusable workflow"),
    ),
    (
        "uses-job-with-runs-on",
        """\
        on: push
        jobs:
          call:
            runs-on: ubuntu-latest
            uses: ./.github/workflows/r.yml
        """,
        4,
        5,
        ("'runs-on' cannot be used",),
    ),
    (
        "step-with-run-and-uses",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - run: echo
                uses: actions/checkout@v4
        """,
        7,
        9,
        ("both 'run' and 'uses'",),
    ),
    (
        "step-with-neither-run-nor-uses",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - name: nothing
        """,
        6,
        9,
        ("needs 'run' or 'uses'",),
    ),
    (
        "duplicate-step-id",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - id: build
                run: make
              - id: build
                run: make test
        """,
        8,
        13,
        ("duplicate step id 'build'", "line 6"),
    ),
    (
        "invalid-step-id",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - id: 1st
                run: make
        """,
        6,
        13,
        ("invalid step id '1st'", "start with a letter"),
    ),
    (
        "invalid-job-id",
        """\
        on: push
        jobs:
          build.linux:
            runs-on: x
            steps: [{run: y}]
        """,
        3,
        3,
        ("invalid job id 'build.linux'",),
    ),
    (
        "needs-unknown-job",
        """\
        on: push
        jobs:
          build: {runs-on: x, steps: [{run: y}]}
          test:
            runs-on: x
            needs: [buidl]
            steps: [{run: y}]
        """,
        6,
        13,
        ("unknown job 'buidl'", "did you mean 'build'"),
    ),
    (
        "needs-cycle",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            needs: c
            steps: [{run: y}]
          b:
            runs-on: x
            needs: a
            steps: [{run: y}]
          c:
            runs-on: x
            needs: [b]
            steps: [{run: y}]
        """,
        5,
        12,
        ("cycle", "a -> c -> b -> a"),
    ),
    (
        "invalid-cron",
        """\
        on:
          schedule:
            - cron: '0 25 * * *'
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        3,
        13,
        ("invalid cron '0 25 * * *'", "hour"),
    ),
    (
        "invalid-filter-pattern",
        """\
        on:
          push:
            branches: [main, 'release/[']
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        3,
        22,
        ("invalid pattern 'release/['",),
    ),
    (
        "branches-with-branches-ignore",
        """\
        on:
          push:
            branches: [main]
            branches-ignore: [dev]
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        4,
        5,
        ("'branches' and 'branches-ignore' cannot both be used",),
    ),
    (
        "paths-with-paths-ignore",
        """\
        on:
          pull_request:
            paths: ['src/**']
            paths-ignore: ['docs/**']
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        4,
        5,
        ("'paths' and 'paths-ignore'",),
    ),
    (
        "tags-with-tags-ignore",
        """\
        on:
          push:
            tags-ignore: ['v0*']
            tags: ['v*']
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        3,
        5,
        ("'tags' and 'tags-ignore'",),
    ),
    (
        "unknown-function-plain-scalar",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - run: echo ${{ toUpper(github.ref) }}
        """,
        6,
        23,
        ("Unrecognized function", "toUpper"),
    ),
    (
        "syntax-error-double-quoted-with-escape",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - run: "echo \\"${{ github.sha ) }}\\""
        """,
        6,
        37,
        ("Unexpected symbol: ')'",),
    ),
    (
        "syntax-error-single-quoted-with-doubled-quote",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - run: 'it''s ${{ github.sha == }}'
        """,
        6,
        39,
        ("Unexpected",),
    ),
    (
        "syntax-error-in-literal-block",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - run: |
                  echo one
                  echo ${{ steps.x.outputs.y ! }}
        """,
        8,
        38,
        ("Unexpected",),
    ),
    (
        "unknown-context-name",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            env:
              REF: ${{ gihub.ref }}
            steps: [{run: y}]
        """,
        6,
        16,
        ("Unrecognized named-value: 'gihub'", "did you mean 'github'"),
    ),
    (
        "context-not-available-here",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - run: y
                if: secrets.TOKEN != ''
        """,
        7,
        13,
        ("'secrets' context is not available", "jobs.<job_id>.steps.if"),
    ),
    (
        "bare-if-syntax-error",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            if: github.ref == 'main' &&
            steps: [{run: y}]
        """,
        5,
        32,
        ("Unexpected end of expression",),
    ),
    (
        "unclosed-expression",
        """\
        on: push
        run-name: Deploy ${{ github.actor
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        2,
        18,
        ("Unclosed expression",),
    ),
    (
        "empty-jobs",
        """\
        on: push
        jobs: {}
        """,
        2,
        1,
        ("no jobs",),
    ),
    (
        "no-on",
        """\
        name: CI
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        1,
        1,
        ("no 'on'", "on: push"),
    ),
    (
        "remote-action-without-ref",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - uses: actions/checkout
        """,
        6,
        15,
        ("has no '@ref'", "actions/checkout@<ref>"),
    ),
    (
        "remote-reusable-workflow-without-ref",
        """\
        on: push
        jobs:
          call:
            uses: org/repo/.github/workflows/deploy.yml
        """,
        4,
        11,
        ("has no '@ref'",),
    ),
    (
        "expression-in-uses",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - uses: actions/setup-python@${{ matrix.v }}
        """,
        6,
        15,
        ("expressions are not allowed in 'uses'",),
    ),
    (
        "duplicate-yaml-key",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            runs-on: y
            steps: [{run: y}]
        """,
        5,
        5,
        ("duplicate key 'runs-on'", "line 4"),
    ),
    (
        "unknown-event",
        """\
        on: [push, pull-request]
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        1,
        12,
        ("unknown event 'pull-request'", "did you mean 'pull_request'"),
    ),
    (
        "unknown-activity-type",
        """\
        on:
          pull_request:
            types: [opened, synchronized]
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        3,
        21,
        ("unknown activity type 'synchronized'", "did you mean 'synchronize'"),
    ),
    (
        "choice-input-without-options",
        """\
        on:
          workflow_dispatch:
            inputs:
              level:
                type: choice
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        4,
        7,
        ("choice input 'level' has no 'options'",),
    ),
    (
        "dispatch-input-bad-type",
        """\
        on:
          workflow_dispatch:
            inputs:
              level:
                type: integer
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        5,
        15,
        ("invalid input type", "number"),
    ),
    (
        "call-input-without-type",
        """\
        on:
          workflow_call:
            inputs:
              version:
                required: true
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        4,
        7,
        ("input 'version' has no 'type'",),
    ),
    (
        "bad-permission-level",
        """\
        on: push
        permissions:
          contents: admin
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        3,
        13,
        ("invalid permission", "'admin'", "read, write or none"),
    ),
    (
        "unknown-permission-scope",
        """\
        on: push
        permissions:
          content: read
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        3,
        3,
        ("unknown key 'content'", "did you mean 'contents'"),
    ),
    (
        "continue-on-error-not-boolean",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            continue-on-error: maybe
            steps: [{run: y}]
        """,
        5,
        24,
        ("continue-on-error", "'maybe'", "true or false"),
    ),
    (
        "matrix-axis-not-a-list",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            strategy:
              matrix:
                python: '3.12'
            steps: [{run: y}]
        """,
        7,
        17,
        ("matrix axis 'python' as a list",),
    ),
    (
        "matrix-axis-empty",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            strategy:
              matrix:
                os: []
            steps: [{run: y}]
        """,
        7,
        13,
        ("matrix axis 'os' has no values",),
    ),
    (
        "max-parallel-zero",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            strategy:
              max-parallel: 0
              matrix: {v: [1]}
            steps: [{run: y}]
        """,
        6,
        21,
        ("max-parallel", "positive whole number"),
    ),
    (
        "concurrency-without-group",
        """\
        on: push
        concurrency:
          cancel-in-progress: true
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        3,
        3,
        ("has no 'group'",),
    ),
    (
        "env-value-mapping",
        """\
        on: push
        env:
          OPTS:
            a: 1
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        4,
        5,
        ("env.OPTS", "a mapping", "a string, a number or a boolean"),
    ),
    (
        "unknown-shell",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - run: y
                shell: zsh
        """,
        7,
        16,
        ("unknown shell 'zsh'", "{0}"),
    ),
    (
        "with-on-a-steps-job",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            with:
              v: 1
            steps: [{run: y}]
        """,
        5,
        5,
        ("'with' is only used with 'uses'",),
    ),
    (
        "secrets-not-inherit",
        """\
        on: push
        jobs:
          call:
            uses: ./.github/workflows/r.yml
            secrets: all
        """,
        5,
        14,
        ("invalid secrets 'all'", "inherit"),
    ),
    (
        "environment-without-name",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            environment:
              url: https://example.com
            steps: [{run: y}]
        """,
        6,
        7,
        ("has no 'name'",),
    ),
    (
        "service-without-image",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            services:
              db:
                ports: ['5432:5432']
            steps: [{run: y}]
        """,
        7,
        9,
        ("services.db", "has no 'image'"),
    ),
    (
        "local-action-with-ref",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - uses: ./my-action@v1
        """,
        6,
        15,
        ("cannot have a '@ref'",),
    ),
    (
        "schedule-not-a-list",
        """\
        on:
          schedule:
            cron: '0 6 * * 1'
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        3,
        5,
        ("on.schedule", "a mapping", "list of {cron"),
    ),
    (
        "steps-not-a-list",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              run: y
        """,
        6,
        7,
        ("steps", "a mapping", "list of steps"),
    ),
    (
        "workflow-is-a-list",
        """\
        - on: push
        """,
        1,
        1,
        ("cannot be a list", "mapping with 'on' and 'jobs'"),
    ),
    (
        "choice-default-not-an-option",
        """\
        on:
          workflow_dispatch:
            inputs:
              level:
                type: choice
                options: [info, warn]
                default: debug
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        7,
        18,
        ("default 'debug' is not one of the options", "info, warn"),
    ),
    (
        "boolean-default-not-boolean",
        """\
        on:
          workflow_dispatch:
            inputs:
              dry-run:
                type: boolean
                default: maybe
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        6,
        18,
        ("default", "'maybe'", "type boolean"),
    ),
    (
        "runs-on-empty-list",
        """\
        on: push
        jobs:
          a:
            runs-on: []
            steps: [{run: y}]
        """,
        4,
        14,
        ("names no runner",),
    ),
    (
        "error-in-folded-block",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - run: >
                  echo one
                  && echo ${{ fromJSON( }}
        """,
        8,
        33,
        ("Unexpected",),
    ),
    (
        "expression-in-multi-line-plain-scalar",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - name: first part
                  then ${{ matrix..os }}
                run: y
        """,
        7,
        27,
        ("Unexpected",),
    ),
    (
        "workflow-run-unknown-key",
        """\
        on:
          workflow_run:
            workflow: [CI]
        jobs:
          a: {runs-on: x, steps: [{run: y}]}
        """,
        3,
        5,
        ("unknown key 'workflow'", "did you mean 'workflows'"),
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "col", "gist"),
    [pytest.param(text, line, col, gist, id=name) for name, text, line, col, gist in CASES],
)
def test_one_mistake_is_reported_exactly(
    text: str, line: int, col: int, gist: tuple[str, ...]
) -> None:
    problems = problems_of(text)
    assert len(problems) == 1, "\n".join(str(p) for p in problems)
    problem = problems[0]
    assert problem.location is not None
    assert (problem.location.path, problem.location.line, problem.location.col) == (
        "w.yml",
        line,
        col,
    ), str(problem)
    for words in gist:
        assert words in str(problem), str(problem)
    assert str(problem).startswith(f"w.yml:{line}:{col}: ")
    assert problem.hint, "every problem says what is expected"


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 35
    assert len({name for name, *_ in CASES}) == len(CASES)


def test_yaml_syntax_error_carries_ruamel_position() -> None:
    problems = problems_of("on: push\njobs:\n  a: [unclosed\n")
    assert len(problems) == 1
    assert problems[0].location == Location("w.yml", 4, 1)
    assert "invalid YAML" in problems[0].message
    problems = problems_of("on: push\njobs:\n  a: b: c\n")
    assert problems[0].location == Location("w.yml", 3, 7)


def test_yaml_tab_indentation_is_a_syntax_error() -> None:
    problems = problems_of("on: push\njobs:\n\ta: 1\n")
    assert problems[0].location == Location("w.yml", 3, 1)


def test_empty_file() -> None:
    problems = problems_of("")
    assert [str(p.location) for p in problems] == ["w.yml:1:1"]
    assert "empty" in problems[0].message


def test_every_mistake_of_a_file_is_reported_in_one_pass() -> None:
    problems = problems_of("""\
        on:
          push:
            branches: [main]
            branches-ignore: [dev]
          schedule:
            - cron: '* * *'
        jobs:
          build:
            runs-on: 5
            needs: [tset]
            steps:
              - run: echo ${{ nope() }}
                uses: actions/checkout
              - id: x
                run: a
              - id: x
                run: b
          test:
            timeout-minutes: soon
            steps: []
        """)
    where = [(p.location.line, p.location.col) for p in problems if p.location]
    assert where == [
        (4, 5),  # branches + branches-ignore
        (6, 13),  # cron
        (9, 14),  # runs-on: 5
        (10, 13),  # unknown job in needs
        (12, 23),  # unknown function
        (13, 9),  # run and uses
        (13, 15),  # no @ref
        (16, 13),  # duplicate id
        (18, 3),  # neither runs-on nor uses
        (19, 22),  # timeout-minutes
    ]
    assert all(p.location and p.location.path == "w.yml" for p in problems)


def test_a_problem_reads_path_line_col_message_hint() -> None:
    (problem,) = problems_of("on: push\njobs:\n  a:\n    runs-on: x\n    stesp: []\n")
    assert str(problem) == "w.yml:5:5: unknown key 'stesp' in job 'a'; did you mean 'steps'?"


# --- local reusable workflows and actions -------------------------------------------------------


def test_problems_in_a_local_reusable_workflow_carry_its_path(tmp_path: Path) -> None:
    write(
        tmp_path,
        ".github/workflows/reusable.yml",
        """\
        on: workflow_call
        jobs:
          inner:
            runs-on: ubuntu-latest
            steps:
              - run: echo ${{ bogus.value }}
        """,
    )
    caller = write(
        tmp_path,
        ".github/workflows/ci.yml",
        """\
        on: push
        jobs:
          call:
            uses: ./.github/workflows/reusable.yml
        """,
    )
    with pytest.raises(WorkflowError) as info:
        parse_workflow(caller, root=tmp_path)
    (problem,) = info.value.problems
    assert problem.location == Location(".github/workflows/reusable.yml", 6, 23)
    assert "bogus" in problem.message


def test_missing_reusable_workflow_is_reported_at_uses(tmp_path: Path) -> None:
    caller = write(
        tmp_path,
        ".github/workflows/ci.yml",
        """\
        on: push
        jobs:
          call:
            uses: ./.github/workflows/missing.yml
        """,
    )
    with pytest.raises(WorkflowError) as info:
        parse_workflow(caller, root=tmp_path)
    (problem,) = info.value.problems
    assert problem.location == Location(".github/workflows/ci.yml", 4, 11)
    assert "not found" in problem.message


def test_reusable_call_inputs_and_secrets_are_checked(tmp_path: Path) -> None:
    write(
        tmp_path,
        ".github/workflows/reusable.yml",
        """\
        on:
          workflow_call:
            inputs:
              version: {type: string, required: true}
              debug: {type: boolean}
            secrets:
              token: {required: true}
        jobs:
          inner: {runs-on: x, steps: [{run: y}]}
        """,
    )
    caller = write(
        tmp_path,
        ".github/workflows/ci.yml",
        """\
        on: push
        jobs:
          call:
            uses: ./.github/workflows/reusable.yml
            with:
              verison: '1'
              debug: 'yes'
        """,
    )
    with pytest.raises(WorkflowError) as info:
        parse_workflow(caller, root=tmp_path)
    messages = [(str(p.location), p.message) for p in info.value.problems]
    assert messages == [
        (".github/workflows/ci.yml:4:11", "job 'call' does not pass required input 'version'"),
        (".github/workflows/ci.yml:4:11", "job 'call' does not pass required secret 'token'"),
        (
            ".github/workflows/ci.yml:6:7",
            "job 'call' passes input 'verison' that './.github/workflows/reusable.yml' "
            "does not declare",
        ),
        (
            ".github/workflows/ci.yml:7:14",
            "input 'debug' of './.github/workflows/reusable.yml' is a boolean, "
            "not a string ('yes')",
        ),
    ]


def test_calling_a_workflow_without_workflow_call(tmp_path: Path) -> None:
    write(tmp_path, ".github/workflows/other.yml", "on: push\njobs: {a: {runs-on: x, steps: []}}\n")
    caller = write(
        tmp_path,
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  call:\n    uses: ./.github/workflows/other.yml\n",
    )
    with pytest.raises(WorkflowError) as info:
        parse_workflow(caller, root=tmp_path)
    (problem,) = info.value.problems
    assert "is not a reusable workflow" in problem.message and "workflow_call" in str(problem)


def test_reusable_workflows_calling_each_other(tmp_path: Path) -> None:
    write(
        tmp_path,
        ".github/workflows/a.yml",
        "on: workflow_call\njobs:\n  j:\n    uses: ./.github/workflows/b.yml\n",
    )
    write(
        tmp_path,
        ".github/workflows/b.yml",
        "on: workflow_call\njobs:\n  j:\n    uses: ./.github/workflows/a.yml\n",
    )
    with pytest.raises(WorkflowError) as info:
        load_workflows(tmp_path)
    assert any("loop" in p.message for p in info.value.problems)


def test_local_action_problems_carry_its_path(tmp_path: Path) -> None:
    write(
        tmp_path,
        "actions/greet/action.yml",
        """\
        name: Greet
        runs:
          using: composite
          steps:
            - run: echo hi
            - uses: actions/checkout
        """,
    )
    caller = write(
        tmp_path,
        ".github/workflows/ci.yml",
        """\
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - uses: ./actions/greet
              - uses: ./actions/missing
        """,
    )
    with pytest.raises(WorkflowError) as info:
        parse_workflow(caller, root=tmp_path)
    where = [(str(p.location), p.message) for p in info.value.problems]
    assert where == [
        (".github/workflows/ci.yml:7:15", "local action './actions/missing' not found"),
        (
            "actions/greet/action.yml:5:7",
            "a 'run' step of a composite action needs 'shell'",
        ),
        ("actions/greet/action.yml:6:13", "action 'actions/checkout' has no '@ref'"),
    ]


def test_only_composite_actions_are_supported(tmp_path: Path) -> None:
    write(tmp_path, "act/action.yml", "name: Node\nruns:\n  using: node20\n  main: index.js\n")
    with pytest.raises(WorkflowError) as info:
        parse_action(tmp_path / "act", tmp_path)
    (problem,) = info.value.problems
    assert problem.location == Location("act/action.yml", 3, 10)
    assert "only composite local actions are supported" in str(problem)


def test_load_helpers_report_at_the_given_location(tmp_path: Path) -> None:
    at = Location(".github/workflows/ci.yml", 9, 15)
    with pytest.raises(WorkflowError) as info:
        load_local_action(tmp_path, "./nowhere", at)
    assert info.value.problems[0].location == at
    with pytest.raises(WorkflowError) as info:
        load_reusable(tmp_path, "./.github/workflows/none.yml", at)
    assert info.value.problems[0].location == at
    with pytest.raises(WorkflowError) as info:
        load_reusable(tmp_path, "./../outside.yml", at)
    assert "outside the repository" in info.value.problems[0].message


def test_unreadable_workflow_file(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as info:
        parse_workflow(tmp_path / ".github/workflows/none.yml", root=tmp_path)
    assert info.value.problems[0].location == Location(".github/workflows/none.yml")
    bad = tmp_path / "bad.yml"
    bad.write_bytes(b"on: push\n\xff\xfe\n")
    with pytest.raises(WorkflowError) as info:
        parse_workflow(bad, root=tmp_path)
    assert "UTF-8" in info.value.problems[0].message
