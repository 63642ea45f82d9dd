"""End to end: the real CLI in a subprocess, on git repositories made in a temp folder."""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Callable

import pytest
from amoskys_testing import REPO, SHARED

import amoskys.cli
import amoskys.workflow.expressions

SEED = SHARED / "seed" / "ci-cd.yml"


def amoskys_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def seed_repo(make_repo):
    if not SEED.is_file():
        pytest.skip("the seed workflow is not available")
    return make_repo({".github/workflows/ci-cd.yml": SEED.read_text(encoding="utf-8")})


def plan_json(cwd: Path, *args: str) -> dict:  # type: ignore[type-arg]
    done = amoskys_cli(cwd, "plan", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_plan_json_on_the_seed_for_a_push_to_main(seed_repo: Path) -> None:
    data = plan_json(seed_repo, "--ref", "main")
    jobs = data["jobs"]
    assert len(jobs) == 11
    for key in ("id", "name", "workflow", "needs", "runs_on", "matrix", "runnable", "reason"):
        assert all(key in job for job in jobs), key
    assert jobs[0]["workflow"] == ".github/workflows/ci-cd.yml"
    not_run = [j["name"] for j in jobs if not j["runnable"]]
    assert len(not_run) == 6
    assert {j["reason"] for j in jobs if not j["runnable"]} == {
        "no runner for windows-latest",
        "no runner for macOS-latest",
    }
    assert data["workflows"][0]["triggered"] is True


def test_plan_for_other_events_follows_the_filters(seed_repo: Path) -> None:
    assert plan_json(seed_repo, "--ref", "feature/x")["jobs"] == []
    assert len(plan_json(seed_repo, "--event", "schedule")["jobs"]) == 11
    pr_main = plan_json(seed_repo, "--event", "pull_request", "--ref", "f", "--base", "main")
    assert len(pr_main["jobs"]) == 11
    pr_dev = plan_json(seed_repo, "--event", "pull_request", "--ref", "f", "--base", "develop")
    assert pr_dev["jobs"] == []
    assert "develop" in pr_dev["workflows"][0]["reason"]


def test_plan_text_shows_order_and_why_not(seed_repo: Path) -> None:
    done = amoskys_cli(seed_repo, "plan")
    assert done.returncode == 0, done.stderr
    assert "test-matrix (windows-latest, 3.13)" in done.stdout
    assert "not run: no runner for windows-latest" in done.stdout
    assert "11 job instance(s), 5 runnable here" in done.stdout


def test_path_filters_use_the_changed_paths(make_repo) -> None:
    root = make_repo(
        {
            ".github/workflows/docs.yml": (
                "on:\n  push:\n    paths: ['docs/**']\njobs:\n  d:\n"
                "    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n"
            ),
            "docs/index.md": "x\n",
        }
    )
    assert len(plan_json(root, "--changed", "docs/index.md")["jobs"]) == 1
    assert plan_json(root, "--changed", "src/a.py")["jobs"] == []
    (root / "docs" / "index.md").write_text("changed\n")
    assert len(plan_json(root)["jobs"]) == 1  # git says docs/index.md changed


def test_validate_reports_every_problem_with_positions(make_repo) -> None:
    root = make_repo(
        {
            ".github/workflows/bad.yml": (
                "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nope\n"
                "    steps:\n      - run: echo ${{ contain('a', 'b') }}\n"
            )
        }
    )
    done = amoskys_cli(root, "validate")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert any(line.startswith(".github/workflows/bad.yml:5:12:") for line in lines), lines
    assert any(line.startswith(".github/workflows/bad.yml:7:") for line in lines), lines
    assert "Traceback" not in done.stderr


def test_validate_accepts_the_seed(seed_repo: Path) -> None:
    done = amoskys_cli(seed_repo, "validate")
    assert done.returncode == 0, done.stderr
    assert "1 workflow(s), 3 job(s)" in done.stdout


def test_eval_prints_json_and_points_at_errors(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps({"github": {"ref": "refs/heads/main"}, "matrix": {"py": "3.12"}}))
    done = amoskys_cli(tmp_path, "eval", "github.ref == 'refs/heads/main'", "--context", str(ctx))
    assert (done.returncode, done.stdout.strip()) == (0, "true")
    done = amoskys_cli(tmp_path, "eval", "${{ format('py{0}', matrix.PY) }}", "--context", str(ctx))
    assert json.loads(done.stdout) == "py3.12"
    done = amoskys_cli(tmp_path, "eval", "failure()", "--status", "failure")
    assert done.stdout.strip() == "true"
    bad = amoskys_cli(tmp_path, "eval", "1 == == 2")
    assert bad.returncode == 2
    assert bad.stderr.startswith("<expression>:1:")
    assert "^" in bad.stderr and "Traceback" not in bad.stderr
    ctx.write_text("{not json")
    broken = amoskys_cli(tmp_path, "eval", "1", "--context", str(ctx))
    assert broken.returncode == 2 and f"{ctx}:1:2:" in broken.stderr


def test_bad_options_exit_2(seed_repo: Path) -> None:
    done = amoskys_cli(seed_repo, "plan", "--input", "novalue")
    assert done.returncode == 2
    assert "is not KEY=VALUE" in done.stderr
    assert amoskys_cli(seed_repo, "plan", "--no-such-option").returncode == 2


def test_an_internal_error_prints_one_line_and_writes_a_crash_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(amoskys.workflow.expressions, "evaluate", boom)
    monkeypatch.setenv("AMOSKYS_CRASH_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as done:
        amoskys.cli.main(["eval", "1"])
    assert done.value.code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "RuntimeError: kaboom" in err[0]
    (log,) = tmp_path.glob("crash-*.log")
    text = log.read_text()
    assert "Traceback" in text and "amoskys: 0.1.0" in text and str(log) in err[0]


def test_a_crash_log_and_its_message_mask_the_secrets_the_run_was_given(
    make_repo: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The crash log quotes argv and the exception: ``--secret`` values and AMOSKYS_SECRET_*
    were written in clear to the (shared, world-readable) temp folder."""
    import amoskys.run.local_run

    given, from_env = "argv-secret-value", "env-secret-value"

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"kaboom {given} {from_env} file-secret-value")

    root = make_repo(
        {
            ".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
            "    steps: [{run: 'true'}]\n"
        }
    )
    monkeypatch.chdir(root)
    monkeypatch.setattr(amoskys.run.local_run, "preflight_interpreters", boom)
    monkeypatch.setenv("AMOSKYS_CRASH_DIR", str(tmp_path / "crash"))
    monkeypatch.setenv("AMOSKYS_SECRET_OTHER", from_env)
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text("FROM_FILE=file-secret-value\n", encoding="utf-8")
    argv = ["run", "--no-live", "--secret", f"TOKEN={given}", f"--secret=SECOND={given}"]
    argv += ["--secrets-file", str(secrets_file)]
    monkeypatch.setattr(sys, "argv", ["amoskys", *argv])
    with pytest.raises(SystemExit) as done:
        amoskys.cli.main(argv)
    assert done.value.code == 3
    err = capsys.readouterr().err
    assert "kaboom *** *** ***" in err
    (log,) = (tmp_path / "crash").glob("crash-*.log")
    text = log.read_text()
    assert "kaboom *** *** ***" in text and "TOKEN=***" in text and "SECOND=***" in text
    assert given not in text + err and from_env not in text + err


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    done = amoskys_cli(tmp_path, "--version")
    assert done.returncode == 0 and "0.1.0" in done.stdout
