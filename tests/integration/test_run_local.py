"""``amoskys run`` end to end: the real CLI on real git repositories made in a temp folder."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess  # nosec B404
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Callable

from amoskys_testing import REPO, outer_run_only

pytestmark = outer_run_only

Repo = Callable[..., Path]


def run_cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("AMOSKYS_RUN_ID", None)
    return subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", "run", "--no-live", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def workflow_repo(make_repo: Repo, text: str, **files: str) -> Path:
    return make_repo({".github/workflows/ci.yml": text, **files})


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(path: Path, seconds: float = 30) -> str:
    """The file's first complete line, once a writer has finished it."""
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text().endswith("\n")):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text().splitlines()[0]


def test_needs_order_outputs_env_files_and_python_shell(make_repo: Repo) -> None:
    root = workflow_repo(
        make_repo,
        """
on: push
env: {GREETING: hello}
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      version: ${{ steps.v.outputs.version }}
      notes: ${{ steps.v.outputs.notes }}
    steps:
      - uses: actions/checkout@v4
      - id: v
        run: |
          echo "version=1.2.3" >> "$GITHUB_OUTPUT"
          { echo "notes<<END"; echo "first"; echo "second"; echo "END"; } >> "$GITHUB_OUTPUT"
          { echo "MULTI<<EOF"; echo "a=1"; echo "b"; echo "EOF"; } >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin"
          printf '#!/bin/sh\\necho tool-from-path\\n' > "$RUNNER_TEMP/bin/mytool"
          chmod +x "$RUNNER_TEMP/bin/mytool"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
      - run: |
          test "$MULTI" = "$(printf 'a=1\\nb')"
          test "$GREETING" = hello
          mytool
      - shell: python
        run: |
          import os
          print("python sees", os.environ["GITHUB_REF"], os.environ["CI"])
      - working-directory: sub
        run: test "$(basename "$PWD")" = sub && cat data.txt
  after:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: |
          test "${{ needs.build.outputs.version }}" = 1.2.3
          test "${{ needs.build.result }}" = success
          echo "notes: ${{ needs.build.outputs.notes }}"
""",
        **{"sub/data.txt": "in-sub\n"},
    )
    done = run_cli(root)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "tool-from-path" in out
    assert "python sees refs/heads/main true" in out
    assert "in-sub" in out
    assert "notes: first" in out
    assert out.index("[build] passed") < out.index("[after] started")


def test_every_step_starts_with_empty_workflow_command_files(make_repo: Repo) -> None:
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  files:
    runs-on: ubuntu-latest
    outputs:
      second: ${{ steps.two.outputs.value }}
    steps:
      - id: one
        run: |
          echo "value=first" >> "$GITHUB_OUTPUT"
          echo "FROM_ONE=1" >> "$GITHUB_ENV"
          echo "# summary one" >> "$GITHUB_STEP_SUMMARY"
      - id: two
        run: |
          for f in "$GITHUB_ENV" "$GITHUB_OUTPUT" "$GITHUB_PATH" "$GITHUB_STATE" \
                   "$GITHUB_STEP_SUMMARY"; do test -f "$f" && test ! -s "$f"; done
          test "$FROM_ONE" = 1
          rm "$GITHUB_ENV"
      - run: |
          test -f "$GITHUB_ENV" && test ! -s "$GITHUB_ENV"
          echo "FROM_THREE=3" >> "$GITHUB_ENV"
      - run: |
          test "$FROM_THREE" = 3
          echo "one: ${{ steps.one.outputs.value }} two: [${{ steps.two.outputs.value }}]"
""",
    )
    done = run_cli(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "one: first two: []" in done.stdout
    summaries = list((root / ".amoskys" / "runs").glob("*/summaries/*.md"))
    assert [s.read_text() for s in summaries] == ["# summary one\n"]


def test_a_slow_job_does_not_delay_an_unrelated_ready_job(make_repo: Repo, tmp_path: Path) -> None:
    mark = tmp_path / "after-fast-ran"
    root = workflow_repo(
        make_repo,
        f"""
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: for i in $(seq 1 300); do test -f {mark} && exit 0; sleep 0.1; done; exit 1
  fast:
    runs-on: ubuntu-latest
    steps: [{{run: 'true'}}]
  after-fast:
    needs: fast
    runs-on: ubuntu-latest
    steps: [{{run: touch {mark}}}]
""",
    )
    done = run_cli(root, "-j", "2")
    assert done.returncode == 0, done.stdout
    assert "[slow] passed" in done.stdout


def test_a_second_run_starts_the_job_that_took_longest_first(
    make_repo: Repo, tmp_path: Path
) -> None:
    """-j 1: the first run has no history and keeps the workflow's order; the second knows
    from the store that slow took longest and starts it first."""
    order = tmp_path / "order"
    root = workflow_repo(
        make_repo,
        f"""
on: push
jobs:
  quick:
    runs-on: ubuntu-latest
    steps: [{{run: echo quick >> {order}}}]
  slow:
    runs-on: ubuntu-latest
    steps: [{{run: echo slow >> {order}; sleep 1}}]
""",
    )
    for expected in (["quick", "slow"], ["slow", "quick"]):
        order.unlink(missing_ok=True)
        done = run_cli(root, "-j", "1", "--no-cache")
        assert done.returncode == 0, done.stdout
        assert order.read_text().split() == expected, done.stdout


def test_matrix_instances_run_in_parallel(make_repo: Repo, tmp_path: Path) -> None:
    root = workflow_repo(
        make_repo,
        f"""
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    strategy:
      matrix: {{n: [a, b]}}
    steps:
      - run: |
          touch {tmp_path}/${{{{ matrix.n }}}}
          for i in $(seq 1 300); do
            test -f {tmp_path}/a -a -f {tmp_path}/b && exit 0; sleep 0.1
          done
          exit 1
""",
    )
    done = run_cli(root, "-j", "2")
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("passed in") == 2


def test_fail_fast_cancels_a_running_sibling_and_max_parallel_holds(
    make_repo: Repo, tmp_path: Path
) -> None:
    started = tmp_path / "sibling-started"
    root = workflow_repo(
        make_repo,
        f"""
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    strategy:
      matrix: {{n: [1, 2]}}
    steps:
      - if: matrix.n == 1
        run: for i in $(seq 1 300); do test -f {started} && exit 1; sleep 0.1; done
      - if: matrix.n == 2
        run: touch {started}; sleep 60
  serial:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 1
      matrix: {{n: [1, 2, 3]}}
    steps:
      - run: |
          if ! mkdir {tmp_path}/running; then
            echo "two"'-at-once'; exit 1
          fi
          sleep 0.3
          rmdir {tmp_path}/running
""",
    )
    done = run_cli(root, "-j", "3", timeout=50)
    assert done.returncode == 1
    assert "[t (1)] failed" in done.stdout
    assert "[t (2)] cancelled" in done.stdout
    assert "two-at-once" not in done.stdout
    assert done.stdout.count("[serial (") and "[serial (3)] passed" in done.stdout


def test_step_and_job_timeouts_kill_grandchildren(make_repo: Repo, tmp_path: Path) -> None:
    step_pid, job_pid = tmp_path / "step.pid", tmp_path / "job.pid"
    root = workflow_repo(
        make_repo,
        f"""
on: push
jobs:
  step-timeout:
    runs-on: ubuntu-latest
    steps:
      - timeout-minutes: 0.05
        run: bash -c 'sleep 300 & echo $! > {step_pid}; wait'
      - if: always()
        run: echo after-timeout
  job-timeout:
    runs-on: ubuntu-latest
    timeout-minutes: 0.05
    steps:
      - run: bash -c 'sleep 300 & echo $! > {job_pid}; wait'
      - run: echo never
""",
    )
    done = run_cli(root, "-j", "2", timeout=60)
    assert done.returncode == 1
    assert "timed_out" in done.stdout
    assert "after-timeout" in done.stdout
    assert "[job-timeout/Run echo never]" not in done.stdout
    assert "exceeded its timeout" in done.stdout
    for pidfile in (step_pid, job_pid):
        assert not alive(int(pidfile.read_text())), f"{pidfile.name}: the grandchild survived"


def test_continue_on_error_and_status_functions(make_repo: Repo) -> None:
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  steps:
    runs-on: ubuntu-latest
    steps:
      - id: flaky
        continue-on-error: true
        run: exit 3
      - run: |
          test "${{ steps.flaky.outcome }}" = failure
          test "${{ steps.flaky.conclusion }}" = success
      - id: broken
        run: exit 4
      - run: echo should-not-run
      - if: failure()
        run: echo failure-handler
      - if: always()
        run: echo always-handler
      - if: success()
        run: echo success-handler
  allowed:
    runs-on: ubuntu-latest
    continue-on-error: ${{ true }}
    steps: [{run: exit 1}]
""",
    )
    done = run_cli(root)
    out = done.stdout
    assert done.returncode == 1
    assert "] should-not-run" not in out  # the step's output never appeared
    assert "not run after it: Run echo should-not-run" in out
    assert "failure-handler" in out and "always-handler" in out
    assert "[steps/Run echo success-handler]" not in out
    assert "Process completed with exit code 4." in out
    assert "failed (continue-on-error)" in out


def test_a_step_whose_if_cannot_be_evaluated_fails_despite_continue_on_error(
    make_repo: Repo,
) -> None:
    """GitHub's runner fails a step whose ``if:`` errors without looking at its
    continue-on-error (that fix-up is applied only to a step that ran); Amoskys applied it and
    the job passed. A timed-out step that continues on error still passes, as on GitHub."""
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  broken-if:
    runs-on: ubuntu-latest
    steps:
      - continue-on-error: true
        if: ${{ fromJSON('{not json') }}
        run: echo never
      - if: always()
        run: echo "after ${{ job.status }}"
  slow:
    runs-on: ubuntu-latest
    steps:
      - continue-on-error: true
        timeout-minutes: 0.01
        run: sleep 5
""",
    )
    done = run_cli(root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "after failure" in done.stdout
    assert "[broken-if] failed" in done.stdout and "[slow] passed" in done.stdout


CALLED_NEEDS_TOKEN = """
on:
  workflow_call:
    secrets:
      DEPLOY_TOKEN: {required: false}
      RENAMED: {required: false}
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "token=${#DEPLOY_TOKEN} renamed=${#RENAMED} other=${#OTHER}"
          test -n "$DEPLOY_TOKEN"
        env:
          DEPLOY_TOKEN: ${{ secrets.DEPLOY_TOKEN }}
          RENAMED: ${{ secrets.RENAMED }}
          OTHER: ${{ secrets.OTHER }}
"""


def test_a_called_workflow_sees_only_the_secrets_its_caller_passes(make_repo: Repo) -> None:
    """GitHub gives a called workflow no secret unless the caller passes it (``secrets:``
    by name, or ``secrets: inherit``); Amoskys gave every job every secret, so a call that
    forgot to pass its token PASSED here and fails on GitHub."""
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  forgot:
    uses: ./.github/workflows/called.yml
  named:
    uses: ./.github/workflows/called.yml
    secrets:
      DEPLOY_TOKEN: ${{ secrets.OTHER }}
      RENAMED: ${{ secrets.DEPLOY_TOKEN }}
  inherited:
    uses: ./.github/workflows/called.yml
    secrets: inherit
""",
        **{".github/workflows/called.yml": CALLED_NEEDS_TOKEN},
    )
    done = run_cli(
        root, "--secret", "DEPLOY_TOKEN=deploy-secret-1", "--secret", "OTHER=other-secret-222"
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "[forgot / deploy/Run echo" in out and "token=0 renamed=0 other=0" in out
    assert "[forgot / deploy] failed" in out
    assert "token=16 renamed=15 other=0" in out and "[named / deploy] passed" in out
    assert "token=15 renamed=0 other=16" in out and "[inherited / deploy] passed" in out


def test_a_called_workflows_outputs_reach_the_jobs_that_need_its_caller(make_repo: Repo) -> None:
    """``needs.<caller>.outputs`` are the ``on.workflow_call.outputs`` of the called workflow
    (expressions over its ``jobs``), also through a nested call; they were empty, so a check
    like ``test -z "${{ needs.lint.outputs.errors }}"`` PASSED here and fails on GitHub."""
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  lint:
    uses: ./.github/workflows/lint.yml
  gate:
    needs: lint
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "errors=[${{ needs.lint.outputs.errors }}] nested=[${{ needs.lint.outputs.deep }}]"
          echo "inner name=[${{ needs.lint.outputs.count }}]"
          test -z "${{ needs.lint.outputs.errors }}"
""",
        **{
            ".github/workflows/lint.yml": """
on:
  workflow_call:
    outputs:
      errors:
        value: ${{ jobs.check.outputs.found }}
      deep:
        value: ${{ jobs.inner.outputs.level }}-${{ jobs.check.result }}
jobs:
  check:
    runs-on: ubuntu-latest
    outputs:
      found: ${{ steps.s.outputs.found }}
      count: "2"
    steps:
      - id: s
        run: echo "found=E501 line too long" >> "$GITHUB_OUTPUT"
  inner:
    uses: ./.github/workflows/inner.yml
""",
            ".github/workflows/inner.yml": """
on:
  workflow_call:
    outputs:
      level:
        value: ${{ jobs.leaf.outputs.v }}
jobs:
  leaf:
    runs-on: ubuntu-latest
    outputs:
      v: two
    steps: [{run: 'true'}]
""",
        },
    )
    done = run_cli(root)
    out = done.stdout
    assert "errors=[E501 line too long] nested=[two-success]" in out, out + done.stderr
    assert "inner name=[]" in out  # a job's own output is not an output of the workflow
    assert done.returncode == 1 and "[gate] failed" in out


def test_job_outputs_are_set_as_githubs_runner_sets_them(make_repo: Repo) -> None:
    """The runner evaluates job outputs when the job ends, failed or not; skips an output that
    holds a secret (it is not passed on as '***'); and fails the job when one cannot be
    evaluated. Amoskys passed '***' on (a ``test -n`` of it PASSED here and fails on
    GitHub), ignored the error (the job PASSED) and dropped a failed job's outputs."""
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  leaky:
    runs-on: ubuntu-latest
    outputs:
      token: ${{ secrets.TOKEN }}
      plain: visible
    steps: [{run: 'true'}]
  uses-it:
    needs: leaky
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "token=[${{ needs.leaky.outputs.token }}] plain=[${{ needs.leaky.outputs.plain }}]"
          test -n "${{ needs.leaky.outputs.token }}"
  bad-output:
    runs-on: ubuntu-latest
    outputs:
      parsed: ${{ fromJSON(steps.s.outputs.json).x }}
    steps:
      - id: s
        run: echo 'json={not json' >> "$GITHUB_OUTPUT"
  failed:
    runs-on: ubuntu-latest
    outputs:
      stage: ${{ steps.s.outputs.stage }}
    steps:
      - id: s
        run: echo "stage=compile" >> "$GITHUB_OUTPUT"
      - run: exit 1
  report:
    needs: failed
    if: always()
    runs-on: ubuntu-latest
    steps: [{run: 'echo "failed at [${{ needs.failed.outputs.stage }}]"'}]
""",
    )
    done = run_cli(root, "--secret", f"TOKEN={SECRET}")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "token=[] plain=[visible]" in out and "[uses-it] failed" in out
    assert "[bad-output] failed" in out
    assert "failed at [compile]" in out


def test_hash_files_works_in_a_jobs_steps(make_repo: Repo) -> None:
    """hashFiles() hashes files of the job's workspace (GITHUB_WORKSPACE); in a step's run:,
    if: and env: it failed with 'needs a workspace folder', so the step failed."""
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - if: hashFiles('data.txt') != ''
        env: {H: "${{ hashFiles('data.txt') }}"}
        run: echo "hash=$H none=[${{ hashFiles('missing/*.txt') }}]"
""",
        **{"data.txt": "x\n"},
    )
    done = run_cli(root)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = hashlib.sha256(hashlib.sha256(b"x\n").digest()).hexdigest()
    assert f"hash={expected} none=[]" in done.stdout


def test_a_called_workflows_own_env_and_defaults_reach_its_jobs(make_repo: Repo) -> None:
    root = workflow_repo(
        make_repo,
        """
on: push
env:
  CALLER: not-passed-on
jobs:
  call:
    uses: ./.github/workflows/reusable.yml
""",
        **{
            ".github/workflows/reusable.yml": """
on: workflow_call
env:
  MODE: called
defaults:
  run:
    shell: bash
jobs:
  env:
    runs-on: ubuntu-latest
    steps:
      - run: test "$MODE" = called && test -z "${CALLER:-}" && echo env-ok
  pipefail:
    runs-on: ubuntu-latest
    steps:
      - run: false | true
""",
        },
    )
    done = run_cli(root)
    out = done.stdout
    # shell: bash from the called workflow's defaults means pipefail, as on GitHub
    assert done.returncode == 1, out + done.stderr
    assert "] env-ok" in out
    assert "call / pipefail] failed" in out
    assert "call / env] passed" in out


def test_unsupported_remote_action_fails_or_is_skipped(make_repo: Repo) -> None:
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: docker/build-push-action@v5
      - run: echo done
""",
    )
    done = run_cli(root)
    assert done.returncode == 1
    assert "docker/build-push-action@v5 is not available offline" in done.stdout
    skipped = run_cli(root, "--skip-unsupported")
    assert skipped.returncode == 0, skipped.stdout
    assert "done" in skipped.stdout


def test_a_missing_interpreter_is_an_input_error_before_anything_runs(
    make_repo: Repo, tmp_path: Path
) -> None:
    mark = tmp_path / "ran"
    root = workflow_repo(
        make_repo,
        f"""
on: push
jobs:
  first:
    runs-on: ubuntu-latest
    steps: [{{run: touch {mark}}}]
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
        with: {{python-version: '3.99'}}
""",
    )
    done = run_cli(root)
    assert done.returncode == 2
    assert ".github/workflows/ci.yml:" in done.stderr
    assert "3.99" in done.stderr and "not found" in done.stderr
    assert "pyenv install 3.99" in done.stderr or "uv python install 3.99" in done.stderr
    assert not mark.exists()
    assert not (root / ".amoskys").exists()  # a wrong input leaves no trace

    # Where a run made the state folder, the interpreters' answers are kept for the next run.
    (root / ".amoskys").mkdir()
    assert run_cli(root).returncode == 2
    kept = json.loads((root / ".amoskys" / "cache" / "interpreters.json").read_text("utf-8"))
    assert any(entry["answer"] for entry in kept["answers"])


def test_jobs_not_runnable_here_are_reported_and_strict_platforms_fails(make_repo: Repo) -> None:
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  linux: {runs-on: ubuntu-latest, steps: [{run: 'true'}]}
  win: {runs-on: windows-latest, steps: [{run: 'true'}]}
""",
    )
    done = run_cli(root)
    assert done.returncode == 0
    assert "not run: no runner for windows-latest" in done.stdout
    assert run_cli(root, "--strict-platforms").returncode == 1


def test_job_selection_brings_what_it_needs(make_repo: Repo) -> None:
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  a: {runs-on: ubuntu-latest, steps: [{run: echo from-a}]}
  b: {needs: a, runs-on: ubuntu-latest, steps: [{run: echo from-b}]}
  c: {runs-on: ubuntu-latest, steps: [{run: echo from-c}]}
""",
    )
    done = run_cli(root, "--job", "b")
    assert done.returncode == 0
    assert "from-a" in done.stdout and "from-b" in done.stdout
    assert "from-c" not in done.stdout
    wrong = run_cli(root, "--job", "nope")
    assert wrong.returncode == 2 and "'nope' is not a job" in wrong.stderr


def test_sigint_cancels_kills_every_process_and_runs_always_steps(
    make_repo: Repo, tmp_path: Path
) -> None:
    pidfile, cleanup = tmp_path / "child.pid", tmp_path / "cleanup-ran"
    root = workflow_repo(
        make_repo,
        f"""
on: push
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: bash -c 'sleep 300 & echo $! > {pidfile}; wait'
      - run: echo never
      - if: always()
        run: touch {cleanup}
      - if: cancelled()
        run: echo cancelled-handler
""",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("AMOSKYS_RUN_ID", None)
    proc = subprocess.Popen(  # nosec B603
        [sys.executable, "-m", "amoskys", "run", "--no-live"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        grandchild = int(wait_for(pidfile))
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert not alive(grandchild)
    assert cleanup.exists()
    assert "cancelled-handler" in out
    assert "Run echo never] never" not in out


SECRET = "s3cr3t-Value/with+odd=chars&more"
MULTILINE = "line-one-secret\nline-two-secret"


def test_secrets_are_masked_in_everything_printed_or_written(
    make_repo: Repo, tmp_path: Path
) -> None:
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text("FROM_FILE=file-secret-value\n")
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  leak:
    runs-on: ubuntu-latest
    outputs:
      out: ${{ steps.o.outputs.value }}
    steps:
      - id: o
        env:
          TOKEN: ${{ secrets.TOKEN }}
          MULTI: ${{ secrets.MULTI }}
        run: |
          echo "plain $TOKEN"
          echo "base64 $(printf '%s' "$TOKEN" | base64 -w0)"
          echo "padded $(printf 'xy%s' "$TOKEN" | base64 -w0)"
          echo "$MULTI"
          printf 'split %s' "${TOKEN:0:9}"; sleep 0.3; printf '%s\\n' "${TOKEN:9}"
          echo "file ${{ secrets.FROM_FILE }} env ${{ secrets.FROM_ENV }}"
          echo "::add-mask::runtime-mask-value"
          echo "later runtime-mask-value"
          echo "value=$TOKEN" >> "$GITHUB_OUTPUT"
          echo "summary $TOKEN" >> "$GITHUB_STEP_SUMMARY"
          echo "::error file=a.py,line=1::bad $TOKEN"
      - env: {TOKEN: "${{ secrets.TOKEN }}"}
        shell: python
        run: |
          import json, os, urllib.parse
          t = os.environ["TOKEN"]
          print("url", urllib.parse.quote(t, safe=""))
          print("json", json.dumps({"t": t + '"'}))
      - run: |
          cat <<'JSON'
          ${{ toJSON(secrets) }}
          JSON
  after:
    needs: leak
    runs-on: ubuntu-latest
    steps: [{run: 'echo "got ${{ needs.leak.outputs.out }}"'}]
""",
    )
    done = run_cli(
        root,
        "--secret",
        f"TOKEN={SECRET}",
        "--secret",
        f"MULTI={MULTILINE}",
        "--secrets-file",
        str(secrets_file),
        env={"AMOSKYS_SECRET_FROM_ENV": "env-secret-value"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "plain ***" in done.stdout and "later ***" in done.stdout
    assert "url ***" in done.stdout and "base64 ***" in done.stdout
    forms = {
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        urllib.parse.quote(SECRET, safe=""),
        json.dumps(SECRET)[1:-1],
        "line-one-secret",
        "line-two-secret",
        "file-secret-value",
        "env-secret-value",
        "runtime-mask-value",
    }
    printed = done.stdout + done.stderr
    written = b"".join(
        path.read_bytes() for path in (root / ".amoskys").rglob("*") if path.is_file()
    )
    assert written, "the run wrote nothing under .amoskys/"
    for form in forms:
        assert form not in printed, f"{form!r} was printed"
        assert form.encode() not in written, f"{form!r} was written under .amoskys/"


def test_a_secret_in_a_step_name_a_test_failure_or_a_kept_script_is_masked(
    make_repo: Repo,
) -> None:
    """The step's name, a failing test's message (the probe's JUnit XML and the history's
    test rows) and a script left by a step that never started hold the secret too: GitHub
    shows the name masked; none of it may reach a file name or a byte under .amoskys/."""
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  leak:
    runs-on: ubuntu-latest
    steps:
      - name: deploy ${{ secrets.TOKEN }}
        env: {TOKEN: "${{ secrets.TOKEN }}"}
        run: python -m pytest -q -p no:cacheprovider tests
      - if: always()
        working-directory: missing
        run: echo "${{ secrets.TOKEN }}"
""",
        **{
            "tests/test_leak.py": (
                "import os\n\n\ndef test_token():\n"
                "    assert os.environ['TOKEN'] == 'expected'\n"
            )
        },
    )
    done = run_cli(root, "--keep", "--secret", f"TOKEN={SECRET}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "deploy ***" in done.stdout
    files = [path for path in (root / ".amoskys").rglob("*")]
    assert any(path.suffix == ".xml" for path in files), "the probe wrote no JUnit report"
    escaped = SECRET.replace("&", "&amp;")  # as it sits in the JUnit XML
    for path in files:
        assert SECRET not in str(path), f"{path} names the secret"
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data, f"{path} holds the secret"
            assert escaped.encode() not in data, f"{path} holds the secret, XML-escaped"
    shown = subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", "runs", "show", "1", "--json"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "deploy ***" in shown.stdout and SECRET not in shown.stdout


def test_a_step_that_cannot_reach_the_network_says_so(make_repo: Repo) -> None:
    root = workflow_repo(
        make_repo,
        """
on: push
jobs:
  audit:
    runs-on: ubuntu-latest
    steps:
      - name: Run online audit
        shell: python
        run: |
          import socket
          socket.create_connection(("audit-service.invalid", 443), timeout=5)
      - name: Run second audit
        run: echo never
""",
    )
    done = run_cli(root)
    assert done.returncode == 1
    assert "could not reach a network service it needs" in done.stdout
    assert "[audit] failed (step 'Run online audit' failed: it could not reach" in done.stdout
    assert "not run after it: Run second audit" in done.stdout
    assert "Run second audit] never" not in done.stdout


def test_an_event_that_triggers_nothing_says_so(make_repo: Repo) -> None:
    root = workflow_repo(
        make_repo,
        "on:\n  push:\n    branches: [release]\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps: [{run: echo hi}]\n",
    )
    done = run_cli(root)
    assert done.returncode == 0
    assert "Nothing to run: no job is triggered by push refs/heads/main" in done.stdout
    assert "branch not in [release]" in done.stdout
    with_job = run_cli(root, "--job", "a")
    assert with_job.returncode == 2 and "no workflow is triggered" in with_job.stderr
