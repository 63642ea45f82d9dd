"""Test selection inside ``amoskys run``: a workflow step's own ``python -m pytest`` runs only
the tests a change affects when ``[tool.amoskys.select] enabled = true``.

Real git repositories, the real CLI, real pytest in the job's workspace, real SQLite.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess  # nosec B404 - the CLI runs as a user would run it
import sys
from pathlib import Path
from typing import Any

import pytest
from amoskys_testing import REPO, amoskys_cli, edit, git, outer_run_only

from amoskys.select.in_run import JobSelection, select_request, selection_metrics, usable_raws
from amoskys.select.runner import Plan
from amoskys.store.db import open_store

pytestmark = outer_run_only

PYPROJECT = """\
[tool.amoskys.select]
enabled = true

[tool.pytest.ini_options]
pythonpath = ["."]
"""

MOD = """\
def add(a, b):
    return a + b


def cap(x):
    return min(x, 5)
"""

TESTS = """\
from pkg.mod import add, cap


def test_add():
    assert add(1, 2) == 3


def test_cap():
    assert cap(9) == 5


def test_alone():
    assert "x".upper() == "X"
"""

WORKFLOW = """\
name: ci
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: python -m pytest tests/ -v -p no:cacheprovider
"""

PROJECT = {
    "pyproject.toml": PYPROJECT,
    ".gitignore": ".amoskys/\n__pycache__/\n",
    ".github/workflows/ci.yml": WORKFLOW,
    "pkg/__init__.py": "",
    "pkg/mod.py": MOD,
    "tests/conftest.py": "",
    "tests/test_a.py": TESTS,
}
EVERYTHING = {"test_add", "test_cap", "test_alone"}


def amoskys_run(root: Path, *args: str) -> tuple[int, str, set[str]]:
    """Exit code, output, and the names of the tests the step's pytest ran."""
    # the steps' ``python`` is the one running these tests (a venv's, when that runs them)
    path = os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))
    cache = [] if "--cache" in args else ["--no-cache"]
    args = tuple(a for a in args if a != "--cache")
    return amoskys_cli(root, "run", "--no-live", *cache, *args, env={"PATH": path})


def job_metrics(root: Path) -> dict[str, float]:
    """The metrics of the newest run's only job."""
    store = open_store(root / ".amoskys")
    try:
        newest = store.list_runs(limit=1)[0]
        detail = store.get_run(newest.id)
    finally:
        store.close()
    return {m.name: m.value for m in detail.jobs[0].metrics}


def test_workflow_pytest_runs_only_the_affected_tests(make_repo: Any) -> None:
    root = make_repo(PROJECT)

    code, out, ran = amoskys_run(root)
    assert code == 0, out
    assert ran == EVERYTHING, out
    assert "no test map for this commit or its ancestors: running all tests" in out
    assert "test map recorded" in out
    assert "coverage.line" in json.dumps(job_metrics(root))  # a full run measures coverage

    # an uncommitted change inside one function, and a new test file
    edit(root, "pkg/mod.py", "return min(x, 5)", "return min(x, 6)")
    (root / "tests" / "test_new.py").write_text("def test_new():\n    assert True\n")
    code, out, ran = amoskys_run(root)
    assert code == 1, out  # the change breaks test_cap, and the selection catches it
    assert ran == {"test_cap", "test_new"}, out
    assert "1 of 3 tests: 1 covers pkg/mod.py" in out
    assert "2 tests ran, 1 of them new" in out
    metrics = job_metrics(root)
    assert metrics["select.partial"] == 1.0 and metrics["select.selected"] == 2.0
    assert "coverage.line" not in metrics  # a subset's coverage is not the suite's
    shown = subprocess.run(  # nosec B603
        [sys.executable, "-m", "amoskys", "runs", "show", "last"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "a selection: 2 tests ran, the map knows 3" in shown.stdout, shown.stdout

    # committed: the same change is measured against the map's commit
    edit(root, "pkg/mod.py", "return min(x, 6)", "return min(x, 5)  # capped")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "comment and a new test")
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == {"test_cap", "test_new"}, out

    # --no-select: a full run that says nothing about selection
    code, out, ran = amoskys_run(root, "--no-select")
    assert code == 0 and ran == EVERYTHING | {"test_new"}, out
    assert "test selection" not in out

    # a conftest change runs everything
    (root / "tests" / "conftest.py").write_text("X = 1\n")
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == EVERYTHING | {"test_new"}, out
    assert "tests/conftest.py" in out and "test map recorded" in out

    # nothing the map knows changed since: pytest still starts but collects no test file
    # (none holds a kept, changed or unknown test), and the step does not fail for it
    # (pytest would exit 5)
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == set(), out
    assert "collected 0 items" in out and "nothing changed since the test map" in out

    # enabled = false: everything runs, nothing is said about selection
    edit(root, "pyproject.toml", "enabled = true", "enabled = false")
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == EVERYTHING | {"test_new"}, out
    assert "test selection" not in out


def test_nothing_changed_deselects_everything_and_the_step_passes(make_repo: Any) -> None:
    root = make_repo(PROJECT)
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == EVERYTHING, out
    code, out, ran = amoskys_run(root)
    assert code == 0, out
    assert ran == set() and "collected 0 items" in out, out
    assert "nothing changed since the test map" in out


def test_bad_enabled_is_a_config_error(make_repo: Any) -> None:
    root = make_repo({**PROJECT, "pyproject.toml": '[tool.amoskys.select]\nenabled = "yes"\n'})
    code, out, _ = amoskys_run(root)
    assert code == 2, out
    assert "tool.amoskys.select.enabled must be true or false" in out
    assert "pyproject.toml" in out and "Traceback" not in out


# -- the pure parts -------------------------------------------------------------------------


def plan(full: bool) -> Plan:
    keep = None if full else ("t::b",)
    return Plan(full, keep, frozenset({"t::a", "t::b"}), ("t::b",), {}, "why")


def test_a_selection_asks_the_plugin_to_select_for_its_interpreter(tmp_path: Path) -> None:
    request = select_request(plan(False), "3.11.7 /py", tmp_path, tmp_path / "ws")
    assert request["keep"] == ["t::b"] and request["known"] == ["t::a", "t::b"]
    assert request["new"] is True and request["empty_ok"] is True
    assert request["no_fail_under"] is True
    assert request["interpreter"] == "3.11.7 /py" and request["root"] == str(tmp_path / "ws")
    assert request["result"] == str(tmp_path / "selected-{pid}.json")
    chosen = JobSelection("3.11.7 /py", plan(False), tmp_path)
    assert chosen.environment() == {"AMOSKYS_SELECT_FILE": str(tmp_path / "select.json")}
    full = JobSelection("3.11.7 /py", plan(True), tmp_path)
    assert full.environment() == {"AMOSKYS_SELECT_RECORD": str(tmp_path / "map")}
    # pytest collects only the files of kept, changed and unknown tests of the workspace
    changed = dataclasses.replace(plan(False), changed=("pkg/mod.py",))
    request = select_request(changed, "3.11.7 /py", tmp_path, tmp_path / "ws")
    assert request["files"] is True
    assert request["changed"] == [str(tmp_path / "ws" / "pkg" / "mod.py")]


def test_selection_metrics_mark_the_results_partial() -> None:
    metrics = {m.name: m.value for m in selection_metrics(plan(False), 1)}
    assert metrics == {"select.partial": 1.0, "select.selected": 1.0, "select.known": 2.0}


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ({"interpreter": "A", "exitstatus": 0}, True),
        ({"interpreter": "A", "exitstatus": 1}, True),
        ({"interpreter": "A", "exitstatus": 2}, False),  # interrupted: a test may be cut short
        ({"interpreter": "A", "exitstatus": None}, False),
        ({"interpreter": "B", "exitstatus": 0}, False),  # another interpreter's pytest
        ({"interpreter": "A", "exitstatus": 0, "root": "elsewhere"}, False),  # a test's pytest
    ],
)
def test_only_finished_sessions_of_the_interpreter_in_the_workspace_make_the_map(
    raw: dict[str, Any], kept: bool, tmp_path: Path
) -> None:
    raw = {"root": str(tmp_path), **raw}
    assert usable_raws([raw], "A", tmp_path) == ([raw] if kept else [])


def test_a_venv_is_keyed_as_its_base_interpreter_as_the_plugin_records_it(
    tmp_path: Path,
) -> None:
    """setup-python gives each run a new job venv: its maps must still be found."""
    from amoskys.select.recorder_plugin import interpreter_id
    from amoskys.select.runner import interpreter_of

    ours = interpreter_of(sys.executable, tmp_path)
    assert ours == interpreter_id()  # the engine and the plugin name it alike
    venv = tmp_path / "venv"
    subprocess.run(  # nosec B603
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    assert interpreter_of(str(venv / "bin" / "python"), tmp_path) == ours


def test_a_cached_selection_is_never_served_to_a_run_that_wants_every_test(
    make_repo: Any,
) -> None:
    root = make_repo(PROJECT)
    cached = ("--cache",)  # amoskys_run passes --no-cache unless told otherwise
    code, out, ran = amoskys_run(root, *cached)
    assert code == 0 and ran == EVERYTHING, out
    edit(root, "pkg/mod.py", "return min(x, 5)", "return min(5, x)")
    code, out, ran = amoskys_run(root, *cached)
    assert code == 0 and ran == {"test_cap"}, out  # run 2: a selection
    code, out, ran = amoskys_run(root, *cached)
    assert code == 0 and ran == set() and "cached (run 2)" in out, out
    assert job_metrics(root)["select.partial"] == 1.0  # still marked a selection
    code, out, ran = amoskys_run(root, "--no-select", *cached)
    assert code == 0 and ran == EVERYTHING and "cached (run" not in out, out


@pytest.mark.parametrize(
    ("section", "flag", "expected"),
    [
        ("enabled = true", None, True),
        ("enabled = false", None, False),
        ("", None, False),  # off by default
        ("enabled = true", False, False),  # --no-select
        ("enabled = false", True, True),  # --select
    ],
)
def test_whether_a_run_selects(
    tmp_path: Path, section: str, flag: bool | None, expected: bool
) -> None:
    from amoskys.config import load_config
    from amoskys.run.local_run import RunOptions, select_tests_in_steps

    (tmp_path / "pyproject.toml").write_text(f"[tool.amoskys.select]\n{section}\n")
    options = RunOptions(select=flag)
    assert select_tests_in_steps(tmp_path, options, load_config(tmp_path)) is expected


def test_selection_without_the_probe_is_an_input_error(tmp_path: Path) -> None:
    from amoskys.config import load_config
    from amoskys.errors import AmoskysError
    from amoskys.run.local_run import RunOptions, select_tests_in_steps

    text = "[tool.amoskys]\npytest-probe = false\n\n[tool.amoskys.select]\nenabled = true\n"
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(AmoskysError, match="needs the pytest probe"):
        select_tests_in_steps(tmp_path, RunOptions(), load_config(tmp_path))
    assert not select_tests_in_steps(tmp_path, RunOptions(select=False), load_config(tmp_path))


# -- what the map cannot see: the workflow's own environment ----------------------------------

MODE_MOD = """\
import os


def mode():
    if os.environ.get("MODE", "a") == "b":
        from pkg.other import g

        return g()
    return "a"
"""

OTHER = """\
def g():
    return "b"
"""

MODE_TESTS = """\
from pkg.mod import mode


def test_mode():
    assert mode() in ("a", "b")
"""


def mode_project(workflow: str) -> dict[str, str]:
    return {
        **PROJECT,
        ".github/workflows/ci.yml": workflow,
        "pkg/mod.py": MODE_MOD,
        "pkg/other.py": OTHER,
        "tests/test_a.py": MODE_TESTS,
    }


def test_a_workflow_change_runs_every_test(make_repo: Any) -> None:
    root = make_repo(mode_project(WORKFLOW))
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == {"test_mode"}, out
    edit(root, "pkg/other.py", 'return "b"', 'return "broken"')  # only MODE=b reaches it
    edit(
        root,
        ".github/workflows/ci.yml",
        "      - run:",
        "      - env:\n          MODE: b\n        run:",
    )
    code, out, ran = amoskys_run(root)
    assert code == 1 and ran == {"test_mode"}, out  # --no-select fails as well
    assert ".github/workflows/ci.yml changed (matches run-all glob" in out


def test_an_env_file_git_does_not_show_runs_every_test(make_repo: Any) -> None:
    root = make_repo({**mode_project(WORKFLOW), ".gitignore": ".amoskys/\n.env\n"})
    (root / ".env").write_text("MODE=a\n")
    code, out, ran = amoskys_run(root, "--env-file", ".env")
    assert code == 0 and ran == {"test_mode"}, out
    edit(root, "pkg/other.py", 'return "b"', 'return "broken"')
    (root / ".env").write_text("MODE=b\n")
    code, out, ran = amoskys_run(root, "--env-file", ".env")
    assert code == 1 and ran == {"test_mode"}, out
    assert "the env file .env is ignored by git" in out


TWO_JOBS = """\
name: ci
on: push
jobs:
  jb:
    runs-on: ubuntu-latest
    env:
      MODE: b
    steps:
      - run: python -m pytest tests/ -v -p no:cacheprovider
  ja:
    needs: jb
    runs-on: ubuntu-latest
    env:
      MODE: a
    steps:
      - run: python -m pytest tests/ -v -p no:cacheprovider
"""


def test_jobs_that_differ_by_env_record_the_union_of_their_code(make_repo: Any) -> None:
    """ja finishes last: its record of test_mode must not replace jb's, which reached g."""
    root = make_repo(mode_project(TWO_JOBS))
    code, out, _ = amoskys_run(root)
    assert code == 0, out
    edit(root, "pkg/other.py", 'return "b"', 'return "broken"')
    code, out, ran = amoskys_run(root)
    assert code == 1 and ran == {"test_mode"}, out
    assert "1 of 1 tests: 1 covers pkg/other.py" in out, out


def test_a_test_only_ever_skipped_keeps_its_record_and_outcome() -> None:
    from amoskys.select.mapstore import merge_raw

    def raw(rows: list[list[Any]]) -> dict[str, Any]:
        units = [["pkg/a.py", "f", 1, 2, []], ["pkg/b.py", "g", 1, 2, []]]
        return {"units": units, "tests": rows}

    first = raw([["t::x", "t", [0], 0.5, "passed"], ["t::s", "t", [], 0.1, "skipped"]])
    second = raw([["t::x", "t", [1], 0.2, "failed"], ["t::s", "t", [], 0.1, "skipped"]])
    third = raw([["t::y", "t", [], 0.1, "skipped"], ["t::y2", "t", [0], 0.1, "skipped"]])
    m = merge_raw([first, second, third], commit="c", interpreter="i", created=0.0, dirty={})
    assert set(m.tests) == {"t::x", "t::s", "t::y", "t::y2"}
    assert {m.tests[n].outcome for n in ("t::s", "t::y", "t::y2")} == {"skipped"}
    assert m.tests["t::s"].units == frozenset() and len(m.tests["t::y2"].units) == 1
    x = m.tests["t::x"]
    assert {m.units[u].path for u in x.units} == {"pkg/a.py", "pkg/b.py"}
    assert x.outcome == "failed" and x.duration == 0.5
    later = raw([["t::s", "t", [1], 0.1, "passed"]])
    m = merge_raw([first, later], commit="c", interpreter="i", created=0.0, dirty={})
    # passed in one job, skipped in another: still "skipped" (its skip may be lifted there)
    assert m.tests["t::s"].outcome == "skipped" and len(m.tests["t::s"].units) == 1


SCRIPTED = WORKFLOW.replace("python -m pytest tests/ -v -p no:cacheprovider", "sh ci.sh")
PYTEST_LINE = "python -m pytest tests/ -v -p no:cacheprovider"


def test_selection_under_pytest_xdist_and_pytest_cov(make_repo: Any) -> None:
    """-n 2: only the workers select; the controller decides the exit status and applies
    pytest-cov's threshold (a script the step runs is not a run-all file: the map stays)."""
    pytest.importorskip("xdist")  # in the dev extras
    root = make_repo({**PROJECT, ".github/workflows/ci.yml": SCRIPTED, "ci.sh": PYTEST_LINE})
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == EVERYTHING, out
    (root / "ci.sh").write_text(f"{PYTEST_LINE} -n 2 --cov=pkg --cov-fail-under=100\n")

    code, out, _ = amoskys_run(root)
    assert "0 of 3 tests: no code changed" in out, out
    assert code == 0, out  # every test deselected in both workers: not pytest's exit 5

    edit(root, "pkg/mod.py", "return min(x, 5)", "return min(5, x)")
    code, out, _ = amoskys_run(root)
    assert "1 of 3 tests: 1 covers pkg/mod.py" in out, out
    assert "1 tests ran, 0 of them new" in out, out  # once, not once per worker
    assert code == 0, out  # the subset's coverage is below 100%: no fail-under for it


def test_a_map_the_store_refuses_costs_a_warning_not_the_job(make_repo: Any) -> None:
    import sqlite3

    root = make_repo(PROJECT)
    code, out, _ = amoskys_run(root, "--no-select")  # makes the database, no map
    assert code == 0, out
    connection = sqlite3.connect(root / ".amoskys" / "amoskys.db")
    connection.execute(
        # at run time: "no such table", which the store reports as a refusal (HistoryError)
        "CREATE TRIGGER refuse BEFORE INSERT ON test_maps BEGIN INSERT INTO gone VALUES (1); END"
    )
    connection.commit()
    connection.close()
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == EVERYTHING, out
    assert "warning: test map not stored" in out, out
    assert "Traceback" not in out
    metrics = job_metrics(root)  # the job's results were kept
    assert "coverage.line" in metrics and "select.partial" not in metrics


def test_a_selection_drops_the_coverage_of_the_users_own_pytest_cov(make_repo: Any) -> None:
    step = "python -m pytest tests/ -v -p no:cacheprovider --cov=pkg --cov-report=xml"
    workflow = WORKFLOW.replace("python -m pytest tests/ -v -p no:cacheprovider", step)
    root = make_repo({**PROJECT, ".github/workflows/ci.yml": workflow})
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == EVERYTHING, out
    assert job_metrics(root)["coverage.line"] == 100.0
    edit(root, "pkg/mod.py", "return min(x, 5)", "return min(5, x)")
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == {"test_cap"}, out
    metrics = job_metrics(root)
    assert metrics["select.partial"] == 1.0
    assert not [name for name in metrics if name.startswith("coverage.")], metrics


NESTED = """\
import subprocess
import sys


def test_nested(tmp_path):
    (tmp_path / "test_inner.py").write_text("def test_inner():\\n    pass\\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
"""


def test_a_pytest_that_a_test_starts_takes_no_part_in_the_selection(make_repo: Any) -> None:
    root = make_repo(PROJECT)
    code, out, _ = amoskys_run(root)
    assert code == 0, out
    edit(root, "pkg/mod.py", "return min(x, 5)", "return min(5, x)")
    (root / "tests" / "test_nested.py").write_text(NESTED)
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == {"test_cap", "test_nested"}, out
    assert "2 tests ran, 1 of them new" in out, out  # not the inner pytest's test as well


LIMITED = """\
def add(a, b):
    return a + b


def cap(x):
    return limit(x)


def limit(x):
    return min(x, 5)
"""

EDIT_LIVE = """\
from pathlib import Path

# the job's workspace is <root>/.amoskys/workspaces/<run>/<job>: edit the live work tree
live = Path("../../../../pkg/mod.py")
once = Path("../../../../.edited")  # ignored by git
if not once.exists():
    once.write_text("")
    live.write_text(live.read_text().replace("return limit(x)", "return min(x, 5)"))
"""

EDITS_THEN_TESTS = """\
name: ci
on: push
jobs:
  edit:
    runs-on: ubuntu-latest
    steps:
      - run: python edit_live.py
  test:
    needs: edit
    runs-on: ubuntu-latest
    steps:
      - run: python -m pytest tests/ -v -p no:cacheprovider
"""


def test_a_map_is_not_stored_when_the_tests_ran_other_texts_than_planned(
    make_repo: Any,
) -> None:
    """The edit job changes the work tree after the plan; the test job copies the edited
    text and its tests never reach limit(): stored for the commit, that map would skip
    test_cap when limit() changes."""
    root = make_repo(
        {
            **PROJECT,
            ".github/workflows/ci.yml": EDITS_THEN_TESTS,
            "pkg/mod.py": LIMITED,
            "edit_live.py": EDIT_LIVE,
            ".gitignore": ".amoskys/\n__pycache__/\n.edited\n",
        }
    )
    code, out, ran = amoskys_run(root)
    assert code == 0 and ran == EVERYTHING, out
    assert "test map not stored: pkg/mod.py changed while the run went on" in out, out
    git(root, "checkout", "--", "pkg/mod.py")
    edit(root, "pkg/mod.py", "return min(x, 5)", "return min(x, 6)")
    code, out, ran = amoskys_run(root)
    assert code == 1 and "test_cap" in ran, out


WITH_LINT = WORKFLOW + """\
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: python -c "print('lint ok')"
"""


def test_turning_selection_on_keeps_the_cached_results_of_jobs_it_cannot_touch(
    make_repo: Any,
) -> None:
    root = make_repo({**PROJECT, ".github/workflows/ci.yml": WITH_LINT})
    code, out, _ = amoskys_run(root, "--no-select", "--cache")
    assert code == 0, out
    code, out, _ = amoskys_run(root, "--cache")  # selection on
    assert code == 0 and "[lint] cached (run 1)" in out, out  # its key is not the selection's
    assert "[test] cached (run 1)" in out, out  # a full result serves a run that selects


def test_what_a_workflow_run_reads_beyond_the_map(make_repo: Any, tmp_path: Path) -> None:
    from amoskys.select.in_run import WORKFLOW_GLOBS, run_all_inputs

    root = make_repo({**PROJECT, ".gitignore": ".amoskys/\n.env\n", "ci/env.txt": "A=1\n"})
    globs, reason = run_all_inputs(root, ["ci/flow.yml", str(tmp_path / "x.yml")], None)
    assert globs == (*WORKFLOW_GLOBS, "ci/flow.yml") and reason is None
    globs, reason = run_all_inputs(root, [], Path("ci/env.txt"))  # git shows its changes
    assert globs == (*WORKFLOW_GLOBS, "ci/env.txt") and reason is None
    assert run_all_inputs(root, [], Path(".env"))[1] == "the env file .env is ignored by git"
    outside = tmp_path / "outside.env"
    assert "outside the repository" in str(run_all_inputs(root, [], outside)[1])
