"""``amoskys test --select`` end to end: real git repositories, real pytest, real SQLite.

One project goes through a developer's day: a first run records the map, then edits inside a
function, at module level, a new test file, a conftest change and a branch switch each run
exactly the tests they should. The project's pytest ``addopts`` carry ``-m``,
``-p no:cacheprovider`` and ``-p no:legacypath`` (where pytest-testmon breaks).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess  # nosec B404 - the CLI runs as a user would run it
import sys
from pathlib import Path
from typing import Any

from amoskys_testing import REPO, amoskys_cli, edit, git, outside_env

from amoskys.select.runner import shard

PYPROJECT = """\
[tool.amoskys]
packages = ["pkg"]

[tool.amoskys.gates]
coverage = false

[tool.pytest.ini_options]
addopts = "-m 'not slow' -p no:cacheprovider -p no:legacypath"
markers = ["slow: slow"]
pythonpath = ["."]
"""

MOD = """\
MAX = 5


def add(a, b):
    return a + b


def cap(x):
    return min(x, MAX)


class K:
    def m(self):
        return add(1, 2)
"""

TESTS = """\
import pytest
from pkg.mod import add, cap, K


def test_add():
    assert add(1, 2) == 3


def test_cap():
    assert cap(9) == 5


def test_k():
    assert K().m() == 3


def test_alone():
    assert "x".upper() == "X"


@pytest.mark.slow
def test_slow():
    assert add(2, 2) == 4
"""

PROJECT = {
    "pyproject.toml": PYPROJECT,
    ".gitignore": ".amoskys/\n__pycache__/\n",
    "pkg/__init__.py": "",
    "pkg/mod.py": MOD,
    "tests/conftest.py": "",
    "tests/test_a.py": TESTS,
}


def amoskys_test(root: Path, *args: str) -> tuple[int, str, set[str]]:
    """Exit code, output, and the names of the tests that ran (from pytest's -v lines)."""
    return amoskys_cli(root, "test", *args, "-v")


def test_a_day_of_changes_runs_exactly_the_affected_tests(make_repo: Any) -> None:
    root = make_repo(PROJECT)
    everything = {"test_add", "test_cap", "test_k", "test_alone"}  # -m 'not slow' holds

    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0, out
    assert "no test map for this commit" in out and "test map recorded" in out
    assert ran == everything

    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0, out
    assert "nothing changed since the test map" in out and ran == set()
    assert "collected" not in out  # no pytest started at all

    edit(root, "pkg/mod.py", "return min(x, MAX)", "return min(x, MAX + 1)")
    code, out, ran = amoskys_test(
        root, "--select", "affected", "--why", "--explain", "tests/test_a.py::test_add"
    )
    assert code == 1 and ran == {"test_cap"}, out  # the change breaks it: it is caught
    assert "test_add: not selected, it ran none of the code changed in pkg/mod.py" in out
    assert "1 of 4 tests" in out and "tests/test_a.py::test_cap: covers pkg/mod.py" in out
    edit(root, "pkg/mod.py", "return min(x, MAX + 1)", "return min(x, MAX)")

    edit(root, "pkg/mod.py", "MAX = 5", "MAX = 5  # the same\nLIMIT = 7")
    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0 and ran == {"test_add", "test_cap", "test_k"}, out  # not test_alone
    edit(root, "pkg/mod.py", "MAX = 5  # the same\nLIMIT = 7", "MAX = 5")

    (root / "tests" / "test_new.py").write_text("def test_new():\n    assert True\n")
    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0 and ran == {"test_new"}, out
    assert "1 tests ran, 1 of them new" in out
    (root / "tests" / "test_new.py").unlink()

    # a branch gets its own map; back on main, main's map is still there
    main = git(root, "rev-parse", "HEAD").strip()
    git(root, "checkout", "-q", "-b", "topic")
    edit(root, "pkg/mod.py", "return a + b", "return b + a")
    git(root, "commit", "-qam", "commute")
    code, out, ran = amoskys_test(root, "--select", "all")
    assert code == 0 and ran == everything and "test map recorded" in out, out
    git(root, "checkout", "-q", "main")
    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0 and ran == set(), out
    assert f"nothing changed since the test map of {main[:12]}" in out

    (root / "tests" / "conftest.py").write_text("X = 1\n")
    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0 and ran == everything and "conftest.py" in out, out


SKIPPING = """\
import pytest

from pkg.fast import FAST, fast_path


@pytest.mark.skipif(not FAST, reason="no fast path on this machine")
def test_fast():
    assert fast_path() == "fast"
"""


def test_a_skipped_test_waits_for_a_change_that_may_lift_its_skip(make_repo: Any) -> None:
    """A test skipped when recorded is in the map: an edit inside a function does not hand it
    to pytest again, and the module-level change that lifts its skip runs it (and it fails)."""
    fast = 'FAST = False\n\n\ndef fast_path():\n    return "fast"\n'
    root = make_repo({**PROJECT, "pkg/fast.py": fast, "tests/test_skip.py": SKIPPING})
    code, out, _ = amoskys_test(root, "--select", "affected")
    assert code == 0 and "test_fast SKIPPED" in out, out

    edit(root, "pkg/mod.py", "return a + b", "return b + a")
    code, out, ran = amoskys_test(
        root, "--select", "affected", "--explain", "tests/test_skip.py::test_fast"
    )
    assert code == 0 and ran == {"test_add", "test_k"}, out
    assert "test_fast SKIPPED" not in out and "2 of 5 tests" in out, out
    assert "test_fast: not selected, it was skipped when recorded" in out, out

    # a module-level change that keeps the skip: the selection's only test skips, and a
    # selection whose tests all skip passes (a whole suite that skips fails: "no test ran")
    edit(root, "pkg/mod.py", "return b + a", "return a + b")
    edit(root, "pkg/fast.py", "FAST = False", "FAST = False\nSPARE = 1")
    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0 and "test_fast SKIPPED" in out and "1 of 5 tests" in out, out
    assert "the 1 selected test was skipped" in out, out
    edit(root, "pkg/fast.py", "FAST = False\nSPARE = 1", "FAST = False")

    edit(
        root,
        "pkg/fast.py",
        'FAST = False\n\n\ndef fast_path():\n    return "fast"',
        fast.replace("False", "True").replace('"fast"', '"slow"').rstrip("\n"),
    )
    code, out, ran = amoskys_test(root, "--select", "affected", "--why")
    assert code == 1 and "test_fast" in ran, out
    # its file's import-time code reads FAST (without that map entry: it was skipped)
    assert "test_skip.py, whose import-time code reads FAST" in out, out


def record_then_select(
    make_repo: Any, files: dict[str, str], path: str, assignment: str, value: str
) -> tuple[int, str, set[str]]:
    """Record the map of PROJECT plus ``files``, give ``assignment`` in ``path`` the new
    ``value``, and run the selection with --why."""
    root = make_repo({**PROJECT, **files})
    code, out, _ = amoskys_test(root, "--select", "affected")
    assert code == 0, out
    name = assignment.split(" = ", 1)[0]
    edit(root, path, assignment, f"{name} = {value}")
    return amoskys_test(root, "--select", "affected", "--why")


def test_a_name_read_by_import_time_code_elsewhere_selects_the_tests_of_that_code(
    make_repo: Any,
) -> None:
    """pkg/shape.py picks a definition at import from pkg/mode.py's FANCY; test_shape runs only
    shape's code. Flipping FANCY must select it (it then fails), though it ran no mode.py code
    and no function it ran reads FANCY."""
    files = {
        "pkg/mode.py": "FANCY = False\n",
        "pkg/shape.py": (
            "from pkg.mode import FANCY\n\nif FANCY:\n\n    def shape():\n"
            '        return "fancy"\n\nelse:\n\n    def shape():\n        return "plain"\n'
        ),
        "tests/test_shape.py": (
            'from pkg.shape import shape\n\n\ndef test_shape():\n    assert shape() == "plain"\n'
        ),
    }
    code, out, ran = record_then_select(make_repo, files, "pkg/mode.py", "FANCY = False", "True")
    assert code == 1 and ran == {"test_shape"}, out
    assert "pkg/shape.py, whose import-time code reads FANCY" in out, out


def test_a_name_read_by_code_that_ran_at_import_selects_the_tests_of_its_module(
    make_repo: Any,
) -> None:
    """pkg/steps.py computes STEPS at import in a generator expression reading LIMIT (imported
    with a plain from-import); test_top runs only top(). Changing LIMIT must select it."""
    files = {
        "pkg/config.py": "LIMIT = 10\n",
        "pkg/steps.py": (
            "from pkg.config import LIMIT\n\nSTEPS = tuple(LIMIT * i for i in range(3))\n\n\n"
            "def top():\n    return STEPS[-1]\n"
        ),
        "tests/test_steps.py": (
            "from pkg.steps import top\n\n\ndef test_top():\n    assert top() == 20\n"
        ),
    }
    code, out, ran = record_then_select(make_repo, files, "pkg/config.py", "LIMIT = 10", "11")
    assert code == 1 and ran == {"test_top"}, out
    assert "pkg/steps.py, whose import ran <genexpr>, which reads a changed name" in out, out


def test_failures_run_first_and_shards_split_the_tests(make_repo: Any) -> None:
    root = make_repo(PROJECT)
    edit(root, "tests/test_a.py", "assert K().m() == 3", "assert K().m() == 4")
    git(root, "commit", "-qam", "break test_k")
    code, out, ran = amoskys_test(root)
    assert code == 1 and ran == {"test_add", "test_cap", "test_k", "test_alone"}, out

    edit(root, "pkg/mod.py", "return a + b", "return b + a")
    code, out, ran = amoskys_test(root, "--select", "affected")
    lines = [line for line in out.splitlines() if re.search(r"::test_\w+ (PASSED|FAILED)", line)]
    assert "test_k" in lines[0], out  # the recent failure runs first
    assert ran == {"test_add", "test_k"}

    code, out, ran = amoskys_test(root, "--select", "all", "-n", "2", "--fail-fast")
    assert code == 1, out
    assert "[1] " in out and "[2] " in out  # two pytest processes
    assert "test_k" in ran


def test_a_test_that_failed_runs_again_when_nothing_changed(make_repo: Any) -> None:
    """Nothing changed since a map whose recording run had a failure: the failure is still
    there, so the failing test runs again (and fails) instead of a green "nothing to run"."""
    root = make_repo(PROJECT)
    edit(root, "pkg/mod.py", "return min(x, MAX)", "return min(x, MAX + 1)")  # not committed
    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 1 and "no test map for this commit" in out, out
    assert "test map recorded" in out and "test_cap" in ran

    for _ in range(2):
        code, out, ran = amoskys_test(root, "--select", "affected")
        assert code == 1 and ran == {"test_cap"}, out
        assert "1 of 4 tests: 1 failed recently" in out

    edit(root, "pkg/mod.py", "return min(x, MAX + 1)", "return min(x, MAX)")  # the fix
    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0 and ran == {"test_cap"}, out  # what it ran when failing is not all
    code, out, ran = amoskys_test(root, "--select", "all")  # a full run records it anew
    assert code == 0, out
    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0 and ran == set() and "no test needs to run" in out, out


def test_shards_are_balanced_by_duration_and_keep_the_order() -> None:
    tests = ["a", "b", "c", "d", "e"]
    durations = {"a": 4.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 1.0}
    assert shard(tests, durations, 2) == [["a"], ["b", "c", "d", "e"]]
    assert shard(tests, durations, 1) == [tests]
    assert shard(["a"], durations, 4) == [["a"]]
    assert shard([], durations, 3) == [[]]


IMPORT_MARK = """\
import os
import shutil
import pathlib

pathlib.Path("marks", os.path.basename(__file__)).write_text("imported")
"""


def test_a_selection_collects_only_the_files_of_kept_new_and_changed_tests(
    make_repo: Any,
) -> None:
    """Collecting every module to deselect nearly all of it cost more than the selection: a
    file whose known tests are all unselected is not even imported, while a changed file and
    a file the map has never seen are (they may hold new tests)."""
    other = IMPORT_MARK + "\n\ndef test_other():\n    assert True\n"
    files = {
        **PROJECT,
        ".gitignore": ".amoskys/\n__pycache__/\nmarks/\n",
        "tests/test_a.py": IMPORT_MARK + TESTS,
        "tests/test_b.py": other,
    }
    root = make_repo(files)
    (root / "marks").mkdir()
    code, out, ran = amoskys_test(root, "--select", "all")
    assert code == 0 and "test_other" in ran, out
    assert sorted(p.name for p in (root / "marks").iterdir()) == ["test_a.py", "test_b.py"]

    for mark in (root / "marks").iterdir():
        mark.unlink()
    edit(root, "pkg/mod.py", "return min(x, MAX)", "return min(x, MAX + 0)")
    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0 and ran == {"test_cap"}, out
    assert [p.name for p in (root / "marks").iterdir()] == ["test_a.py"]  # not test_b.py

    edit(
        root, "tests/test_b.py", "def test_other", "def test_added():\n    pass\n\n\ndef test_other"
    )
    (root / "tests" / "test_new.py").write_text(IMPORT_MARK + "\n\ndef test_new():\n    pass\n")
    code, out, ran = amoskys_test(root, "--select", "affected")
    assert code == 0 and {"test_cap", "test_added", "test_new"} <= ran, out
    assert "test_other" not in ran, out
    assert {p.name for p in (root / "marks").iterdir()} == {"test_a.py", "test_b.py", "test_new.py"}


def test_a_damaged_failures_file_is_ignored_where_it_cannot_be_read(tmp_path: Path) -> None:
    from amoskys.select.runner import FAILURES_FILE, read_failures, write_failures

    path = tmp_path / FAILURES_FILE
    path.write_text('{"t.py::a": 5, "t.py::b": "yesterday", "t.py::c": 9, "t.py::d": null}')
    assert read_failures(tmp_path) == ["t.py::c", "t.py::a"]
    for text in ("[1, 2]", "{not json", ""):
        path.write_text(text)
        assert read_failures(tmp_path) == []
        write_failures(tmp_path, ["t.py::x"], ["t.py::y"])  # and it is written afresh
        assert read_failures(tmp_path) == ["t.py::y"]


def test_the_interpreter_is_asked_once_and_again_when_its_files_change(tmp_path: Path) -> None:
    """Starting the project's Python to learn its version cost ~50 ms per run: the answer is
    kept, keyed by the interpreter's files; a launcher script (a pyenv shim) is always asked."""

    from amoskys.select.runner import INTERPRETER_FILE, interpreter_of

    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    python = venv / "python"
    python.symlink_to(sys.executable)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = x\n")
    state = tmp_path / "state"
    state.mkdir()
    first = interpreter_of(str(python), tmp_path, state_dir=state)
    assert first.split()[0] == "%d.%d.%d" % sys.version_info[:3]
    kept = state / INTERPRETER_FILE
    assert kept.is_file()
    data = kept.read_text()
    kept.write_text(data.replace(first, "9.9.9 /kept/answer"))
    assert (
        interpreter_of(str(python), tmp_path, state_dir=state) == "9.9.9 /kept/answer"
    )  # not asked
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = y, a rebuilt venv\n")
    assert interpreter_of(str(python), tmp_path, state_dir=state) == first  # asked again

    shim = tmp_path / "shim"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    shim.chmod(0o755)
    kept.unlink()
    assert interpreter_of(str(shim), tmp_path, state_dir=state).split()[0] == first.split()[0]
    assert not kept.exists()  # a script may start another Python next time: never kept


def test_sigterm_stops_pytest_too(make_repo: Any, tmp_path: Path) -> None:
    """A harness that times `amoskys test` out sends SIGTERM: pytest (its own process group)
    must not live on, e.g. in a test that loops forever."""
    import signal
    import time

    marker = tmp_path / "pytest.pid"
    hang = (
        "import os\nimport pathlib\n\n\ndef test_hang():\n"
        f"    pathlib.Path({str(marker)!r}).write_text(str(os.getpid()))\n"
        "    while True:\n        pass\n"
    )
    root = make_repo({**PROJECT, "tests/test_a.py": hang})
    env = outside_env(PYTHONPATH=str(REPO))
    proc = subprocess.Popen(  # nosec B603
        [sys.executable, "-m", "amoskys", "test"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        pid = int(marker.read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 130  # "interrupted"
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists():
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                break
            assert time.monotonic() < deadline, "pytest still runs after amoskys was stopped"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if marker.exists() and marker.read_text():  # never leave a spinning test behind
            try:
                os.kill(int(marker.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_packages_installed_since_the_map_run_everything(make_repo: Any, tmp_path: Path) -> None:
    """A package upgraded in the venv on PATH changes what the tests run, while no file of
    the project changed: the map cannot say which tests it reaches, so every test runs."""
    import sysconfig
    import venv

    venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")
    bin_dir = tmp_path / "venv" / "bin"
    site = Path(sysconfig.get_path("purelib", vars={"base": str(tmp_path / "venv")}, scheme="venv"))
    ours = [p for p in sys.path if p.endswith("-packages") and Path(p).is_dir()]
    (site / "outer.pth").write_text("".join(f"{p}\n" for p in ours))  # pytest, the plugins

    def install(version: int) -> None:
        for old in site.glob("extpkg*"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        (site / "extpkg.py").write_text(f"VALUE = {version}\n")
        (site / f"extpkg-{version}.0.dist-info").mkdir()
        (site / f"extpkg-{version}.0.dist-info" / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: extpkg\nVersion: {version}.0\n"
        )

    install(1)
    uses = "import extpkg\n\n\ndef test_value():\n    assert extpkg.VALUE == 1\n"
    root = make_repo({**PROJECT, "tests/test_ext.py": uses})
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(bin_dir.parent)}
    code, out, ran = amoskys_cli(root, "test", "--select", "affected", "-v", env=env)
    assert code == 0 and "test_value" in ran and "test map recorded" in out, out
    code, out, ran = amoskys_cli(root, "test", "--select", "affected", "-v", env=env)
    assert code == 0 and "nothing changed since the test map" in out, out

    install(2)  # pip install --upgrade extpkg
    code, out, ran = amoskys_cli(root, "test", "--select", "affected", "-v", env=env)
    assert code == 1 and "test_value" in ran, out
    assert "the packages installed for the interpreter changed" in out, out
