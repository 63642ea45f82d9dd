"""The select plugin inside real pytest processes: what it records, and how it selects.

Each test writes a small project into ``tmp_path`` and runs pytest on it in a subprocess with
the plugin installed the way Amoskys installs it (copied as ``amoskys_select_plugin.py`` onto
``PYTHONPATH``). Recording runs on this interpreter (3.11: ``sys.settrace``/``sys.setprofile``)
and on every extra interpreter named in ``AMOSKYS_SELECT_PYTHONS`` (``os.pathsep``-separated,
each with pytest installed; 3.12+ records with ``sys.monitoring``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from amoskys.run.process import output_of, run_process
from amoskys.select.runner import install_plugins

MOD = """\
MAX = 5


def _build():
    return {i: i * i for i in range(3)}


TABLE = _build()


def add(a, b):
    return a + b


def cap(x):
    return min(x, MAX)


def loaded():
    return add(100, 1)


class K:
    def m(self):
        return add(1, 2)
"""

TESTS = """\
import pytest
from pkg.mod import add, cap, loaded, K, TABLE

CASES = [add(0, 1)]  # runs at import time, from this test module


@pytest.fixture(scope="module")
def data():
    return loaded()


def test_add():
    assert add(1, 2) == 3


def test_cap(data):
    assert cap(9) == 5


def test_k(data):
    assert K().m() == 3


def test_table():
    assert TABLE[2] == 4


@pytest.mark.slow
def test_slow():
    assert add(2, 2) == 4


def test_fails():
    assert cap(1) == 2
"""


def _pythons() -> list[str]:
    extra = [p for p in os.environ.get("AMOSKYS_SELECT_PYTHONS", "").split(os.pathsep) if p]
    return [sys.executable, *extra]


@pytest.fixture(params=_pythons())
def python(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def project(root: Path, addopts: str = "") -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(MOD)
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text(TESTS)
    ini = '[tool.pytest.ini_options]\nmarkers = ["slow: slow"]\npythonpath = ["."]\n'
    if addopts:
        ini += f"addopts = {json.dumps(addopts)}\n"
    (root / "pyproject.toml").write_text(ini)
    return root


def pytest_in(
    root: Path,
    python: str,
    env: dict[str, str],
    *args: str,
    addopts: str = "",
    codes: list[int | None] | None = None,
) -> list[str]:
    """pytest's output lines (its exit code appended to ``codes`` when given)."""
    plugins = install_plugins(root.parent / "plugins")
    # Not an outer coverage run's subprocess measurement either (CI's --cov, or the probe of
    # an ``amoskys run`` around this suite): the probe would stand aside for it.
    outer = ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("AMOSKYS_") and k not in outer
    }
    environ.update(env)
    environ["PYTHONPATH"] = str(plugins)
    environ["PYTEST_ADDOPTS"] = f"-p amoskys_select_plugin {addopts}".strip()
    lines: list[str] = []
    done = run_process(
        [python, "-m", "pytest", "-v", "-p", "no:randomly", *args],
        cwd=root,
        env=environ,
        on_line=lines.append,
    )
    if codes is not None:
        codes.append(done.exit_code)
    return lines


def recorded(folder: Path) -> dict[str, Any]:
    (path,) = folder.glob("map-*.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def names_by_test(data: dict[str, Any]) -> dict[str, set[str]]:
    units = data["units"]
    return {t[0].split("::")[-1]: {units[i][1] for i in t[2]} for t in data["tests"]}


SPAWN = """\
import subprocess
import sys


def test_spawns():  # without the variable that lets the child record itself
    subprocess.run([sys.executable, "-c", "pass"], check=True, env={})
"""


def test_each_test_gets_the_functions_it_ran(tmp_path: Path, python: str) -> None:
    root = project(tmp_path / "p")
    (root / "tests" / "test_spawn.py").write_text(SPAWN)
    out = tmp_path / "map"
    pytest_in(root, python, {"AMOSKYS_SELECT_RECORD": str(out)})
    data = recorded(out)
    by_test = names_by_test(data)
    assert by_test["test_add"] == {"test_add", "add"}
    # the module-scoped fixture ran once (for test_cap) but counts for both of its users
    assert by_test["test_cap"] == {"test_cap", "cap", "data", "loaded", "add"}
    assert by_test["test_k"] == {"test_k", "K.m", "data", "loaded", "add"}
    assert by_test["test_table"] == {"test_table"}  # TABLE was built at import time
    units = data["units"]
    assert {units[i][1] for i in data["import_units"]} >= {"_build", "K"}
    cap = next(u for u in units if u[1] == "cap")
    assert cap[0] == "pkg/mod.py" and (cap[2], cap[3]) == (15, 16) and "MAX" in cap[4]
    assert all(u[1] != "<module>" for u in units)
    assert all(not u[0].startswith(("/", "..")) for u in units)  # root-relative only
    outcomes = {t[0].split("::")[-1]: t[4] for t in data["tests"]}
    assert outcomes["test_fails"] == "failed" and outcomes["test_add"] == "passed"
    assert data["interpreter"].split(" ", 1)[1] == os.path.realpath(python)  # venvs: base
    # which module's import ran the import-time code, and which tests start processes
    sites = {units[u][1]: set(paths) for u, paths in data["import_sites"]}
    assert sites["_build"] == {"pkg/mod.py"} and sites["K"] == {"pkg/mod.py"}
    assert sites["add"] == {"tests/test_a.py"}
    spawned = {t[0].split("::")[-1] for t in data["tests"] if t[5]}
    assert spawned == {"test_spawns"}


EARLY = """\
import os

FLAG = True


class Opt:
    level = os.sep
"""


def test_what_import_time_code_reads_is_recorded_per_file(tmp_path: Path, python: str) -> None:
    """module_names: per file, the names its module and class-body code read (not those it
    only binds), also for a module a conftest imported (possibly before recording began)."""
    root = project(tmp_path / "p")
    (root / "pkg" / "early.py").write_text(EARLY)
    (root / "conftest.py").write_text("import pkg.early  # noqa: F401\n")
    out = tmp_path / "map"
    pytest_in(root, python, {"AMOSKYS_SELECT_RECORD": str(out)})
    names = {path: set(found) for path, found in recorded(out)["module_names"]}
    assert "_build" in names["pkg/mod.py"]  # TABLE = _build()
    assert not {"MAX", "TABLE", "K", "add"} & names["pkg/mod.py"]  # bound there, not read
    assert {"add", "pytest", "fixture"} <= names["tests/test_a.py"]  # CASES = [add(0, 1)]
    assert not {"CASES", "K", "TABLE"} & names["tests/test_a.py"]  # only imported, or bound
    assert {"os", "sep"} <= names["pkg/early.py"]  # sep: read in Opt's body only
    assert not {"FLAG", "Opt", "level"} & names["pkg/early.py"]
    assert not any(path.startswith(("/", "..")) for path in names)


def record_one_file(
    tmp_path: Path, python: str, module: str, code: str, test_file: str, tests: str
) -> dict[str, set[str]]:
    """Record tests/``test_file`` of the project with ``module`` added: names per test."""
    root = project(tmp_path / "p")
    (root / module).write_text(code)
    (root / "tests" / test_file).write_text(tests)
    out = tmp_path / "map"
    pytest_in(root, python, {"AMOSKYS_SELECT_RECORD": str(out)}, f"tests/{test_file}")
    return names_by_test(recorded(out))


GENERATOR = """\
def counter():
    n = 0
    while True:
        n += 1
        yield n
"""

RESUMED = """\
from pkg.gen import counter

NUMBERS = counter()  # made at import, started by the first test, resumed by the second


def test_first():
    assert next(NUMBERS) == 1


def test_second():
    assert next(NUMBERS) == 2


def test_third():
    assert True
"""


def test_a_generator_resumed_in_a_later_test_counts_for_that_test(
    tmp_path: Path, python: str
) -> None:
    """A change in counter's loop would fail test_second: it must have counter in its record
    although the generator started in test_first (3.12+: PY_RESUME, not only PY_START)."""
    by_test = record_one_file(tmp_path, python, "pkg/gen.py", GENERATOR, "test_gen.py", RESUMED)
    assert by_test["test_first"] == {"test_first", "counter"}
    assert by_test["test_second"] == {"test_second", "counter"}
    assert by_test["test_third"] == {"test_third"}


COLLECTOR = """\
def collector(log):
    try:
        while True:
            log.append((yield))
    except GeneratorExit:
        log.append("closed")
        raise
"""

CLOSED = """\
from pkg.sink import collector

LOG = []
SINK = collector(LOG)
next(SINK)  # started at import


def test_send():
    SINK.send(1)


def test_close():
    SINK.close()
    assert LOG[-1] == "closed"
"""


def test_a_generator_closed_in_a_later_test_counts_for_that_test(
    tmp_path: Path, python: str
) -> None:
    """close() (and throw()) resume a generator without PY_RESUME: 3.12+ needs PY_THROW."""
    by_test = record_one_file(tmp_path, python, "pkg/sink.py", COLLECTOR, "test_sink.py", CLOSED)
    assert by_test["test_send"] == {"test_send", "collector"}
    assert by_test["test_close"] == {"test_close", "collector"}


DETECT = """\
def detect():
    return False


HAS = detect()
"""


def test_what_an_initial_conftest_imports_is_recorded_or_marked_early(
    tmp_path: Path, python: str
) -> None:
    """A root conftest imports pkg.env, whose import runs detect(). 3.12+ records from before
    the initial conftests load, so detect is import-time code; on 3.11 (recording starts
    after coverage.py's tracer) pkg/env.py is written as an early file instead."""
    root = project(tmp_path / "p")
    (root / "pkg" / "env.py").write_text(DETECT)
    (root / "conftest.py").write_text("import pkg.env  # noqa: F401\n")
    out = tmp_path / "map"
    pytest_in(root, python, {"AMOSKYS_SELECT_RECORD": str(out)})
    data = recorded(out)
    ran_at_import = {data["units"][i][1] for i in data["import_units"]}
    assert "detect" in ran_at_import or "pkg/env.py" in data["early_files"]
    probe = [python, "-c", "import sys; print(hasattr(sys, 'monitoring'))"]
    if output_of(probe, cwd=tmp_path).strip() == "True":
        assert "detect" in ran_at_import and data["early_files"] == []


def test_recording_beside_coverage_keeps_both(tmp_path: Path) -> None:
    """coverage.py owns sys.settrace on 3.11: the recorder steps aside to sys.setprofile."""
    pytest.importorskip("coverage")
    root = project(tmp_path / "p")
    out = tmp_path / "map"
    reports = tmp_path / "reports"
    env = {
        "AMOSKYS_SELECT_RECORD": str(out),
        "AMOSKYS_REPORT_DIR": str(reports),
        "AMOSKYS_COVERAGE": "1",
    }
    pytest_in(root, sys.executable, env, "-p", "amoskys_pytest_probe")
    assert names_by_test(recorded(out))["test_cap"] >= {"cap", "add", "loaded"}
    (report,) = reports.glob("coverage-*.json")
    files = json.loads(report.read_text())["files"]
    assert files["pkg/mod.py"]["summary"]["percent_covered"] == 100.0
    assert not [f for f in files if "amoskys_" in f]  # the plugins are not the project's code


def select(folder: Path, **wanted: Any) -> dict[str, str]:
    path = folder / "select.json"
    wanted.setdefault("result", str(folder / "result.json"))
    path.write_text(json.dumps(wanted))
    return {"AMOSKYS_SELECT_FILE": str(path)}


def ran_tests(lines: list[str]) -> list[str]:
    return [line.split("::")[1].split()[0] for line in lines if "::test_" in line and "%]" in line]


ADDOPTS = [
    "-m 'not slow'",
    "-p no:cacheprovider",
    "-p no:legacypath",
    "-m 'not slow' -p no:cacheprovider -p no:legacypath",
]


@pytest.mark.parametrize("addopts", ADDOPTS)
def test_selection_works_with_the_addopts_that_break_testmon(tmp_path: Path, addopts: str) -> None:
    root = project(tmp_path / "p", addopts=addopts)
    (root / "tests" / "test_b.py").write_text("def test_new():\n    assert True\n")
    known = [f"tests/test_a.py::{n}" for n in ("test_add", "test_cap", "test_k", "test_slow")]
    env = select(
        tmp_path,
        known=known + ["tests/test_a.py::test_fails", "tests/test_a.py::test_table"],
        keep=["tests/test_a.py::test_cap", "tests/test_a.py::test_slow", known[0]],
        failures=[known[0]],
    )
    lines = pytest_in(root, sys.executable, env)
    # the failure first, then the new test, then the rest in the given order; -m still applies
    expected = ["test_add", "test_new", "test_cap"] + ([] if "slow" in addopts else ["test_slow"])
    assert ran_tests(lines) == expected
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["new"] == ["tests/test_b.py::test_new"]
    assert result["selected"] == len(expected) and result["failed"] == []
    assert any("deselected" in line for line in lines)


def test_without_new_tests_and_with_failures_reported(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    (root / "tests" / "test_b.py").write_text("def test_new():\n    assert True\n")
    env = select(tmp_path, known=[], keep=["tests/test_a.py::test_fails"], new=False)
    lines = pytest_in(root, sys.executable, env)
    assert ran_tests(lines) == ["test_fails"]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["failed"] == ["tests/test_a.py::test_fails"]
    assert result["ran"] == ["tests/test_a.py::test_fails"]


def test_a_selection_file_that_cannot_be_read_is_a_usage_error(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    lines = pytest_in(root, sys.executable, {"AMOSKYS_SELECT_FILE": str(tmp_path / "missing")})
    assert any("cannot read the test selection" in line for line in lines)
    assert not ran_tests(lines)


def test_a_selection_made_for_another_interpreter_runs_every_test(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    env = select(tmp_path, known=[], keep=["tests/test_a.py::test_add"], new=False)
    wanted = json.loads(Path(env["AMOSKYS_SELECT_FILE"]).read_text())
    wanted["interpreter"] = "3.0.0 /nowhere/python3.0"
    Path(env["AMOSKYS_SELECT_FILE"]).write_text(json.dumps(wanted))
    lines = pytest_in(root, sys.executable, env, "-m", "not slow")
    assert "test_cap" in ran_tests(lines) and "test_add" in ran_tests(lines)
    assert any("made for 3.0.0 /nowhere/python3.0" in line for line in lines)


def test_an_emptied_selection_may_ask_for_exit_0(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    known = ["tests/test_a.py::test_add"]
    codes: list[int | None] = []
    for empty_ok in (False, True):
        env = select(tmp_path, known=known, keep=[], new=False, empty_ok=empty_ok)
        lines = pytest_in(root, sys.executable, env, "-k", "test_add", codes=codes)
        assert not ran_tests(lines)
    assert codes == [5, 0]  # pytest's "no tests ran", unless the selection says it is fine


def test_a_selection_can_switch_off_pytest_cov_fail_under(tmp_path: Path) -> None:
    pytest.importorskip("pytest_cov")
    root = project(tmp_path / "p")
    codes: list[int | None] = []
    keep = ["tests/test_a.py::test_add"]
    for no_fail_under in (False, True):
        env = select(tmp_path, known=keep, keep=keep, new=False, no_fail_under=no_fail_under)
        args = ("--cov=pkg", "--cov-fail-under=100")
        lines = pytest_in(root, sys.executable, env, *args, codes=codes)
        assert ran_tests(lines) == ["test_add"]
    assert codes == [1, 0]  # a subset's coverage is under 100%: only the flag spares the step
