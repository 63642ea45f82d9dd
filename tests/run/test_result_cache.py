"""The result cache: real ``amoskys run`` (in process) on real git repositories in tmp.

Every job appends a line to a log file outside the repository, so a test can tell the jobs
that ran from those the cache served.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Callable

import pytest
from amoskys_testing import git, record_test_job, unwritable

from amoskys.cli import cli
from amoskys.config import load_config
from amoskys.errors import ConfigError
from amoskys.model import Job, Step, Workflow
from amoskys.plan import JobInstance
from amoskys.run import result_cache
from amoskys.run.result_cache import (
    KEEP_PER_JOB,
    CacheSettings,
    CachingExecutor,
    Entry,
    KeyInputs,
    Stored,
    blob_digest,
    cache_blocker,
    file_digests,
    input_key,
    readable_files,
    to_prune,
)
from amoskys.store.db import open_store

Repo = Callable[..., Path]


def run(
    root: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
) -> tuple[int, str]:
    """``amoskys run --no-live ARGS`` in ``root``: (exit code, what it printed)."""
    monkeypatch.chdir(root)
    monkeypatch.delenv("AMOSKYS_RUN_ID", raising=False)
    capsys.readouterr()
    code = cli.main(args=["run", "--no-live", *args], prog_name="amoskys", standalone_mode=False)
    return int(code), capsys.readouterr().out


def ran(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def commit_all(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "change")


TWO_JOBS = """
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      version: ${{{{ steps.v.outputs.version }}}}
    steps:
      - uses: actions/checkout@v4
      - id: v
        run: |
          echo build >> {log}
          echo "version=$(cat src/version.txt)" >> "$GITHUB_OUTPUT"
  after:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo "after ${{{{ needs.build.outputs.version }}}}" >> {log}
"""


@pytest.fixture
def two_jobs(make_repo: Repo, tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "ran.log"
    root = make_repo(
        {
            ".github/workflows/ci.yml": TWO_JOBS.format(log=log),
            "src/version.txt": "1.0\n",
            "docs/readme.md": "docs\n",
        }
    )
    return root, log


def test_an_unchanged_rerun_serves_every_job_from_the_cache(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = two_jobs
    code, _ = run(root, capsys, monkeypatch)
    assert code == 0
    assert ran(log) == ["build", "after 1.0"]
    code, out = run(root, capsys, monkeypatch)
    assert code == 0
    assert ran(log) == ["build", "after 1.0"]  # nothing ran a second time
    assert "[build] cached (run 1)" in out
    assert "[after] cached (run 1)" in out
    summary = out[out.index("summary") :]
    assert summary.count("cached (run 1)") == 2
    with open_store(root / ".amoskys") as store:
        detail = store.get_run(2)
    assert detail.run.status == "success"
    assert {(j.name, j.status, j.reason) for j in detail.jobs} == {
        ("build", "success", "cached (run 1)"),
        ("after", "success", "cached (run 1)"),
    }


def test_a_served_job_passes_its_outputs_to_a_job_that_runs(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = two_jobs
    (root / "pyproject.toml").write_text(
        '[tool.amoskys.jobs.build]\ninputs = ["src/**"]\n'
        '[tool.amoskys.jobs.after]\ninputs = ["src/**"]\n'
    )
    run(root, capsys, monkeypatch)
    workflow = root / ".github/workflows/ci.yml"
    workflow.write_text(workflow.read_text().replace('"after ', '"after-v2 '))
    code, out = run(root, capsys, monkeypatch)
    assert code == 0
    assert "[build] cached (run 1)" in out
    assert ran(log) == ["build", "after 1.0", "after-v2 1.0"]


def test_editing_a_tracked_file_runs_again(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = two_jobs
    run(root, capsys, monkeypatch)
    (root / "src/version.txt").write_text("2.0\n")  # uncommitted: the work tree counts
    code, out = run(root, capsys, monkeypatch)
    assert code == 0
    assert ran(log) == ["build", "after 1.0", "build", "after 2.0"]
    commit_all(root)  # the same content, now committed: nothing to do
    run(root, capsys, monkeypatch)
    assert ran(log) == ["build", "after 1.0", "build", "after 2.0"]
    (root / "new-untracked.txt").write_text("x\n")
    run(root, capsys, monkeypatch)
    assert ran(log)[-2:] == ["build", "after 2.0"] and len(ran(log)) == 6


def test_declared_inputs_narrow_what_invalidates_and_a_rerun_need_reruns_dependants(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = two_jobs
    (root / "pyproject.toml").write_text(
        "[tool.amoskys.jobs.build]\n"
        'inputs = ["src/**"]\n'
        "[tool.amoskys.jobs.after]\n"
        'inputs = ["nothing-here"]\n'
    )
    commit_all(root)
    run(root, capsys, monkeypatch)
    (root / "docs/readme.md").write_text("changed docs\n")
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text() + "\n# note\n")
    code, out = run(root, capsys, monkeypatch)
    assert code == 0
    assert "[build] cached (run 1)" in out
    assert ran(log) == ["build", "after 1.0"]
    # src/ is an input of build; after reads nothing, but its need ran for real
    (root / "src/extra.txt").write_text("new\n")
    code, out = run(root, capsys, monkeypatch)
    assert ran(log) == ["build", "after 1.0", "build", "after 1.0"]
    code, out = run(root, capsys, monkeypatch)
    assert "[build] cached (run 3)" in out and "[after] cached (run 3)" in out


COMPOSITE = """name: {name}
runs:
  using: composite
  steps:
    - {step}
"""


def test_a_local_action_used_by_a_local_action_is_an_input_whatever_the_globs(
    make_repo: Repo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(
        {
            ".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - uses: ./.github/actions/outer\n",
            ".github/actions/outer/action.yml": COMPOSITE.format(
                name="outer", step="uses: ./.github/actions/inner"
            ),
            ".github/actions/inner/action.yml": COMPOSITE.format(
                name="inner", step='run: "true"\n      shell: bash'
            ),
            "pyproject.toml": '[tool.amoskys.jobs.a]\ninputs = ["src/**"]\n',
        }
    )
    code, _ = run(root, capsys, monkeypatch)
    assert code == 0
    inner = root / ".github/actions/inner/action.yml"
    inner.write_text(inner.read_text().replace('"true"', '"false"'))
    code, out = run(root, capsys, monkeypatch)
    assert code == 1, out  # the inner action fails now: nothing may serve the old pass
    assert "cached" not in out


def test_the_file_behind_an_absolute_symlink_is_an_input(
    make_repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outside = tmp_path / "shared" / "settings.txt"
    outside.parent.mkdir()
    outside.write_text("good\n")
    root = make_repo(
        {
            ".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - run: grep -q good settings.txt\n"
        },
        commit=False,
    )
    (root / "settings.txt").symlink_to(outside)
    commit_all(root)
    code, _ = run(root, capsys, monkeypatch)
    assert code == 0
    code, out = run(root, capsys, monkeypatch)
    assert "[a] cached (run 1)" in out  # unchanged: served
    outside.write_text("bad\n")
    code, out = run(root, capsys, monkeypatch)
    assert code == 1, out  # the job reads the new content through the link and fails
    assert "cached" not in out


SHIM = """#!/bin/sh
# like pyenv's shim: the nearest .python-version from the working folder up picks the version
folder=$PWD
while [ "$folder" != / ]; do
  if [ -f "$folder/.python-version" ]; then
    version=$(cat "$folder/.python-version")
    break
  fi
  folder=$(dirname "$folder")
done
if [ "$version" = broken ]; then echo "no such version: $version" >&2; exit 1; fi
exec {python} "$@"
"""


def test_a_version_file_above_the_repository_that_switches_a_shim_is_an_input(
    make_repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shims = tmp_path / "shims"
    shims.mkdir()
    for name in ("python", "python3"):
        (shims / name).write_text(SHIM.format(python=sys.executable))
        (shims / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    root = make_repo(
        {
            ".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - run: python -c pass\n"
        }
    )
    assert root.parent == tmp_path
    code, _ = run(root, capsys, monkeypatch)
    assert code == 0
    (tmp_path / ".python-version").write_text("broken\n")  # `pyenv local` one folder up
    code, out = run(root, capsys, monkeypatch)
    assert code == 1, out  # the shim starts another interpreter now
    assert "cached" not in out
    (tmp_path / ".python-version").unlink()
    code, out = run(root, capsys, monkeypatch)
    assert code == 0 and "[a] cached (run 1)" in out


def test_an_upgrade_in_the_environment_of_the_python_on_path_is_an_input(
    make_repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # nosec
    (site,) = venv.glob("lib/python3*/site-packages")
    (site / "mylib.py").write_text("OK = True\n")
    (site / "mylib-1.0.dist-info").mkdir()
    monkeypatch.setenv("PATH", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    root = make_repo(
        {
            ".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
            '    steps:\n      - run: python -c "import mylib; assert mylib.OK"\n'
        }
    )
    code, _ = run(root, capsys, monkeypatch)
    assert code == 0
    code, out = run(root, capsys, monkeypatch)
    assert "[a] cached (run 1)" in out  # nothing changed: served
    (site / "mylib-1.0.dist-info").rename(site / "mylib-2.0.dist-info")  # as pip upgrades
    (site / "mylib.py").write_text("OK = False\n")
    code, out = run(root, capsys, monkeypatch)
    assert code == 1, out  # the job imports the new version and fails
    assert "cached" not in out


def test_a_failed_job_is_never_cached(
    make_repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "ran.log"
    root = make_repo({".github/workflows/ci.yml": f"""
on: push
jobs:
  bad:
    runs-on: ubuntu-latest
    steps:
      - run: echo bad >> {log} && exit 3
  flaky-ok:
    runs-on: ubuntu-latest
    continue-on-error: true
    steps:
      - run: echo flaky >> {log} && exit 1
"""})
    assert run(root, capsys, monkeypatch)[0] == 1
    assert run(root, capsys, monkeypatch)[0] == 1
    assert sorted(ran(log)) == ["bad", "bad", "flaky", "flaky"]
    assert not list((root / ".amoskys/cache/results").rglob("*.json"))


def test_jobs_with_secrets_or_an_environment_always_run(
    make_repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "ran.log"
    root = make_repo({".github/workflows/ci.yml": f"""
on: push
jobs:
  secret:
    runs-on: ubuntu-latest
    env:
      TOKEN: ${{{{ secrets.API_TOKEN }}}}
    steps:
      - run: echo secret >> {log}
  deploy:
    runs-on: ubuntu-latest
    environment: production
    steps:
      - run: echo deploy >> {log}
  after-deploy:
    needs: deploy
    runs-on: ubuntu-latest
    steps:
      - run: echo after-deploy >> {log}
  plain:
    runs-on: ubuntu-latest
    steps:
      - run: echo plain >> {log}
"""})
    run(root, capsys, monkeypatch, "--secret", "API_TOKEN=abc")
    code, out = run(root, capsys, monkeypatch, "--secret", "API_TOKEN=abc")
    assert code == 0
    # a job that needs one that always runs runs too: what it receives may have changed
    assert sorted(ran(log)) == sorted(["after-deploy", "deploy", "secret"] * 2 + ["plain"])
    assert "[plain] cached (run 1)" in out


def test_a_pass_with_skip_unsupported_is_not_served_to_a_run_without_it(
    make_repo: Repo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(
        {
            ".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - uses: someone/remote-thing@v1\n      - run: echo hi\n"
        }
    )
    code, _ = run(root, capsys, monkeypatch, "--skip-unsupported")
    assert code == 0
    code, out = run(root, capsys, monkeypatch)
    assert code == 1, out  # what an uncached run says: the action is not available offline
    assert "cached" not in out
    code, out = run(root, capsys, monkeypatch, "--skip-unsupported")
    assert code == 0 and "[a] cached (run 1)" in out


def test_no_cache_runs_everything_and_refreshes_the_cache(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = two_jobs
    run(root, capsys, monkeypatch)
    code, out = run(root, capsys, monkeypatch, "--no-cache")
    assert code == 0
    assert "cached" not in out
    assert ran(log) == ["build", "after 1.0"] * 2
    code, out = run(root, capsys, monkeypatch)
    assert "[build] cached (run 2)" in out and "[after] cached (run 2)" in out
    assert len(ran(log)) == 4


def test_matrix_and_env_changes_rerun_only_the_affected_instances(
    make_repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "ran.log"
    workflow = f"""
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    steps:
      - run: echo m-${{{{ matrix.n }}}} >> {log}
  e:
    runs-on: ubuntu-latest
    env:
      LEVEL: low
    steps:
      - run: echo e-$LEVEL-$EXTRA >> {log}
"""
    reads_nothing = (
        '[tool.amoskys.jobs.m]\ninputs = ["none"]\n[tool.amoskys.jobs.e]\ninputs = ["none"]\n'
    )
    root = make_repo({".github/workflows/ci.yml": workflow, "pyproject.toml": reads_nothing})
    env_file = tmp_path / "extra.env"
    env_file.write_text("EXTRA=a\n")
    run(root, capsys, monkeypatch, "--env-file", str(env_file))
    assert sorted(ran(log)) == ["e-low-a", "m-1", "m-2"]
    # matrix 2 -> 3: only the new instance runs (the workflow file is not committed)
    (root / ".github/workflows/ci.yml").write_text(workflow.replace("[1, 2]", "[1, 3]"))
    code, out = run(root, capsys, monkeypatch, "--env-file", str(env_file))
    assert sorted(ran(log)[3:]) == ["m-3"]
    assert "[m (1)] cached (run 1)" in out and "[e] cached (run 1)" in out
    # the job's own env
    (root / ".github/workflows/ci.yml").write_text(
        workflow.replace("[1, 2]", "[1, 3]").replace("LEVEL: low", "LEVEL: high")
    )
    run(root, capsys, monkeypatch, "--env-file", str(env_file))
    assert ran(log)[4:] == ["e-high-a"]
    # the environment that reaches every step (--env-file) reruns everything
    env_file.write_text("EXTRA=b\n")
    run(root, capsys, monkeypatch, "--env-file", str(env_file))
    assert sorted(ran(log)[5:]) == ["e-high-b", "m-1", "m-3"]


FINDING = {
    "type": "finding",
    "tool": "flake8",
    "rule": "E501",
    "severity": "low",
    "file": "src/a.py",
    "line": 3,
    "column": 80,
    "message": "line too long",
    "fingerprint": "f1",
}
JUNIT = (
    '<testsuite name="s" tests="2"><testcase classname="tests.test_a" name="test_one" '
    'file="tests/test_a.py" time="0.5"/><testcase classname="tests.test_a" name="test_two" '
    'time="0.25"><skipped message="later"/></testcase></testsuite>'
)


def test_findings_metrics_and_test_results_are_copied_into_the_new_run(
    make_repo: Repo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    metric = {"type": "metric", "name": "lint.files", "value": 12, "unit": "count"}
    lines = "\n".join(json.dumps(item) for item in (FINDING, metric))
    root = make_repo(
        {
            ".github/workflows/ci.yml": """
on: push
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          mkdir -p "$(dirname "$AMOSKYS_RESULTS")"
          cat results.jsonl >> "$AMOSKYS_RESULTS"
          mv report.xml junit.xml
""",
            "results.jsonl": lines + "\n",
            "report.xml": JUNIT,
        }
    )
    code, out = run(root, capsys, monkeypatch)
    assert code == 0, out
    code, out = run(root, capsys, monkeypatch)
    assert code == 0 and "[check] cached (run 1)" in out
    with open_store(root / ".amoskys") as store:
        first, second = store.get_run(1), store.get_run(2)
        assert store.count_findings(2) == store.count_findings(1) == {"flake8": 1}
    (job1,), (job2,) = first.jobs, second.jobs
    assert job2.reason == "cached (run 1)"
    assert len(job1.tests) == 2 and job2.tests == job1.tests
    assert ("lint.files", 12.0) in {(m.name, m.value) for m in job2.metrics}
    assert {(m.name, m.value) for m in job2.metrics} == {(m.name, m.value) for m in job1.metrics}


def test_a_deleted_run_is_a_miss(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = two_jobs
    run(root, capsys, monkeypatch)
    with sqlite3.connect(root / ".amoskys" / "amoskys.db") as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM runs WHERE id = 1")
    code, out = run(root, capsys, monkeypatch)
    assert code == 0 and "cached" not in out
    assert ran(log) == ["build", "after 1.0"] * 2


def test_a_run_id_of_a_history_started_anew_is_a_miss(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting the history numbers runs from 1 again: the entry made by the old run 1 must
    not be served from the new run 1, which ran the job on other inputs."""
    root, log = two_jobs
    run(root, capsys, monkeypatch)  # old run 1: version 1.0, cached
    for path in (root / ".amoskys").glob("amoskys.db*"):
        path.unlink()
    (root / "src/version.txt").write_text("2.0\n")
    code, out = run(root, capsys, monkeypatch)  # new run 1: version 2.0
    assert code == 0 and "cached" not in out
    (root / "src/version.txt").write_text("1.0\n")  # the old entry's inputs again
    code, out = run(root, capsys, monkeypatch)
    assert code == 0 and "cached" not in out
    assert ran(log) == ["build", "after 1.0", "build", "after 2.0", "build", "after 1.0"]
    code, out = run(root, capsys, monkeypatch)  # and the entry is written anew for run 2
    assert code == 0 and "[build] cached (run 2)" in out


def index_files(root: Path) -> list[Path]:
    return sorted((root / ".amoskys/cache/results").rglob("*.json"))


@pytest.mark.parametrize("damage", ["{not json", "[]", '"text"', '{"format": 1}'])
def test_a_damaged_index_entry_is_a_miss_and_is_written_anew(
    damage: str,
    two_jobs: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, log = two_jobs
    run(root, capsys, monkeypatch)
    for entry in index_files(root):
        entry.write_text(damage)
    code, out = run(root, capsys, monkeypatch)
    assert code == 0 and "cached" not in out
    assert ran(log) == ["build", "after 1.0"] * 2
    code, out = run(root, capsys, monkeypatch)  # the second run saved them again
    assert code == 0 and "[build] cached (run 2)" in out


def test_an_entry_that_cannot_be_read_or_replaced_is_a_miss_and_a_warning(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = two_jobs
    run(root, capsys, monkeypatch)
    for entry in index_files(root):  # a folder where the entry's file should be
        entry.unlink()
        entry.mkdir()
    code, out = run(root, capsys, monkeypatch)
    assert code == 0 and "cached" not in out
    assert ran(log) == ["build", "after 1.0"] * 2
    assert "[build/cache] warning: result cache: cannot save the job's result (" in out
    with open_store(root / ".amoskys") as store:
        assert {j.status for j in store.get_run(2).jobs} == {"success"}


def test_a_read_only_cache_folder_keeps_the_jobs_conclusions(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = two_jobs
    folder = root / ".amoskys" / "cache" / "results"
    folder.mkdir(parents=True)
    with unwritable(folder):
        code, out = run(root, capsys, monkeypatch)
        assert code == 0 and "exit code" not in out
        assert out.count("warning: result cache: cannot save the job's result") == 2
        code, out = run(root, capsys, monkeypatch)  # nothing was saved: both run again
        assert code == 0 and "cached" not in out
    assert ran(log) == ["build", "after 1.0"] * 2
    with open_store(root / ".amoskys") as store:
        assert [store.get_run(n).run.status for n in (1, 2)] == ["success", "success"]


def test_a_history_that_cannot_be_read_is_a_miss_and_a_warning(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with open_store(state) as store:
        run_id, _ = record_test_job(store, status="success")
        for path in state.glob("amoskys.db*"):
            path.unlink()
        (state / "amoskys.db").write_bytes(b"not SQLite" * 100)
        store.close()  # the lookup opens the replaced file
        warnings: list[str] = []
        settings = CacheSettings(
            root=tmp_path,
            state_dir=state,
            run_number=2,
            run_dir=state / "runs" / "2",
            workspace_files=(),
            environment={},
            github={},
            workflows={},
            job_inputs={},
        )
        executor = CachingExecutor(
            settings,
            lambda inst, needs, cancel: pytest.fail("not called"),  # type: ignore[arg-type]
            store.find_job,
            lambda source, run, key: None,
            warn=lambda inst, text: warnings.append(text),
        )
        executor.index.put("k" * 64, Entry(run=run_id, instance="test", outputs={}))
        assert executor._serve(_instance(), "k" * 64) is None
    assert len(warnings) == 1
    assert warnings[0].startswith("result cache: cannot look the job up (")
    assert "cannot read the history database: file is not a database" in warnings[0]


def test_a_job_definition_is_built_once_per_job(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = two_jobs
    built: list[str] = []
    original = result_cache.definition

    def counting(inst: JobInstance, workflow: Workflow | None) -> dict[str, object]:
        built.append(inst.key)
        return original(inst, workflow)

    monkeypatch.setattr(result_cache, "definition", counting)
    run(root, capsys, monkeypatch)
    assert len(built) == 2 and len(set(built)) == 2


def gc(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    cli.main(args=["gc", *args], prog_name="amoskys", standalone_mode=False)
    return capsys.readouterr().out


def test_gc_prunes_entries_of_gone_runs_and_keeps_the_newest_per_job(
    two_jobs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, log = two_jobs
    for version in ("1", "2", "3"):  # three states of the inputs: three entries a job
        (root / "src/version.txt").write_text(f"{version}\n")
        assert run(root, capsys, monkeypatch)[0] == 0
    assert len(index_files(root)) == 6
    assert "pruned 2 result-cache entries" in gc(root, capsys, "--keep-results", "2")
    assert len(index_files(root)) == 4
    with sqlite3.connect(root / ".amoskys" / "amoskys.db") as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("DELETE FROM runs WHERE id = 3")
    assert "pruned 2 result-cache entries" in gc(root, capsys)
    assert {json.loads(p.read_text())["run"] for p in index_files(root)} == {2}
    (root / "src/version.txt").write_text("2\n")  # the kept state is still served
    code, out = run(root, capsys, monkeypatch)
    assert code == 0 and "[build] cached (run 2)" in out and "[after] cached (run 2)" in out
    (root / "src/version.txt").write_text("1\n")  # the pruned one runs again
    code, out = run(root, capsys, monkeypatch)
    assert code == 0 and "cached" not in out
    assert f"[default: {KEEP_PER_JOB}]" in gc(root, capsys, "--help")


def test_which_entries_are_pruned(tmp_path: Path) -> None:
    def entry(name: str, run: int | None, instance: str = "ci#a", created: float = 0) -> Stored:
        return Stored(tmp_path / name, run, instance, created)

    stored = [
        entry("damaged", None),
        entry("gone", 9, created=50),
        entry("id-reused", 2, created=5),  # run 2 of a newer history started at 20
        entry("a-old", 1, created=11),
        entry("a-mid", 1, created=12),
        entry("a-new", 3, created=31),
        entry("b-only", 1, "ci#b", created=13),
    ]
    runs = {1: 10.0, 2: 20.0, 3: 30.0}
    doomed = {p.name for p in to_prune(stored, runs, keep=2)}
    assert doomed == {"damaged", "gone", "id-reused", "a-old"}
    assert {p.name for p in to_prune(stored, runs, keep=0)} == {e.path.name for e in stored}


# -- the pure parts ----------------------------------------------------------------------


def _instance(**job: object) -> JobInstance:
    steps = job.pop("steps", (Step(index=0, run="echo hi"),))
    the_job = Job(id="j", steps=steps, **job)  # type: ignore[arg-type]
    return JobInstance(key="ci.yml#j", job_id="j", name="j", workflow="ci.yml", job=the_job)


def test_cache_blockers() -> None:
    wf = Workflow(path="ci.yml")
    assert cache_blocker(_instance(), wf) is None
    assert cache_blocker(_instance(environment="prod"), wf) == "it deploys to an environment"
    uses_secret = (Step(index=0, run="deploy --token ${{ secrets.T }}"),)
    assert cache_blocker(_instance(steps=uses_secret), wf) == "it uses secrets"
    bracket = (Step(index=0, run="x", env={"A": "${{ secrets['T'] }}"}),)
    assert cache_blocker(_instance(steps=bracket), wf) == "it uses secrets"
    in_workflow = Workflow(path="ci.yml", env={"T": "${{ secrets.T }}"})
    assert cache_blocker(_instance(), in_workflow) == "it uses secrets"
    upload = (Step(index=0, uses="actions/upload-artifact@v4"),)
    assert cache_blocker(_instance(steps=upload), wf) == "it uploads artifacts"


def test_the_key_changes_with_each_input_and_only_then() -> None:
    base = KeyInputs(
        definition={"job": {"steps": ["a"]}},
        needs={},
        interpreters=["3.11: cpython 3.11.9 /usr/bin/python3.11"],
        environment={"PATH": "/bin"},
        github={"ref": "refs/heads/main"},
        files=[("a.py", "100644:abc")],
    )
    again = KeyInputs(**{**base.__dict__})
    assert input_key(base) == input_key(again)
    changes = [
        {"definition": {"job": {"steps": ["b"]}}},
        {"needs": {"build": ["k", 2]}},
        {"interpreters": ["3.11: cpython 3.11.10 /usr/bin/python3.11"]},
        {"environment": {"PATH": "/usr/bin"}},
        {"github": {"ref": "refs/heads/dev"}},
        {"files": [("a.py", "100755:abc")]},
        {"files": [("b.py", "100644:abc")]},
        {"version": "9.9.9"},
    ]
    keys = {input_key(KeyInputs(**{**base.__dict__, **change})) for change in changes}
    assert len(keys) == len(changes) and input_key(base) not in keys


def test_a_file_digest_is_the_blob_id_git_gives_it(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_bytes(b"some content\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o755)
    (tmp_path / "link").symlink_to("a.txt")
    git(tmp_path, "add", "-A")
    staged = {
        line.split("\t")[1]: line.split()[0] + ":" + line.split()[1]
        for line in git(tmp_path, "ls-files", "-s").splitlines()
    }
    for name in ("a.txt", "run.sh", "link"):
        assert blob_digest(tmp_path / name) == staged[name]
    assert file_digests(tmp_path, sorted(staged)) == staged
    (tmp_path / "a.txt").write_bytes(b"changed\n")
    assert file_digests(tmp_path, sorted(staged))["a.txt"] == blob_digest(tmp_path / "a.txt")
    assert blob_digest(tmp_path / "a.txt") != staged["a.txt"]


def test_readable_files_follow_the_globs_and_keep_local_actions() -> None:
    digests = {"src/a.py": "1", "docs/x.md": "2", ".github/actions/x/action.yml": "3"}
    assert readable_files(digests, None) == sorted(digests.items())
    narrowed = readable_files(digests, ["src/**", "!src/skip.py"], (".github/actions/x/",))
    assert [p for p, _ in narrowed] == [".github/actions/x/action.yml", "src/a.py"]


def test_inputs_config_is_validated(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.amoskys.jobs.test]\ninputs = ["src/**"]\n')
    assert load_config(tmp_path).job_inputs == {"test": ("src/**",)}
    for bad in ('inputs = "src/**"', "inputs = []", 'inputs = ["[^x]"]'):
        (tmp_path / "pyproject.toml").write_text(f"[tool.amoskys.jobs.test]\n{bad}\n")
        with pytest.raises(ConfigError) as err:
            load_config(tmp_path)
        assert "tool.amoskys.jobs.test.inputs" in err.value.message
    (tmp_path / "pyproject.toml").write_text("[tool.amoskys]\njobs = 3\n")
    with pytest.raises(ConfigError):
        load_config(tmp_path)


def test_gc_removes_the_temporary_files_of_killed_writers(tmp_path: Path) -> None:
    import os
    import time

    from amoskys.run.result_cache import ResultIndex

    index = ResultIndex(tmp_path)
    key = "ab" + "0" * 62
    folder = index.folder / key[:2]
    folder.mkdir(parents=True)
    old = folder / f".{key}.json.123.456"
    fresh = folder / f".{key}.json.124.457"  # a writer that may still be at work
    for path in (old, fresh):
        path.write_text("{")
    hours_ago = time.time() - 7200
    os.utime(old, (hours_ago, hours_ago))
    assert index.prune(lambda runs: {}, keep=5) == 1
    assert not old.exists() and fresh.exists()
