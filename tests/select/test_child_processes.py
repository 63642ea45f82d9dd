"""A test's child Python processes record what they run (issue 6, item 4).

Real pytest processes with the plugin installed as Amoskys installs it (with its
``sitecustomize.py`` and ``amoskys_select_child.py``), real child processes, the map they write
merged and handed to the selection; the end-to-end case runs ``amoskys test --select affected``
in a real git repository. Recording runs on this interpreter and on every interpreter named in
``AMOSKYS_SELECT_PYTHONS``.
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 - children are what this tests
import sys
from pathlib import Path
from typing import Any

import pytest
from amoskys_testing import amoskys_cli, edit
from test_recorder_plugin import pytest_in, recorded
from test_runner import PROJECT

from amoskys.select import child_recorder as child
from amoskys.select.changes import FileChange
from amoskys.select.mapstore import merge_raw
from amoskys.select.runner import install_plugins
from amoskys.select.selection import SelectSettings, select_tests

A = """\
LIMIT = 3
SIZE = LIMIT * 2


def f():
    return SIZE + 1


def g():
    return 0
"""

B = """\
def h():
    return 5
"""

KIDS = """\
import multiprocessing
import os
import shutil
import subprocess
import sys

import pkg.b

RUN_A = "import pkg.a, pkg.b; assert pkg.a.f() == 7, pkg.a.f()"


def test_child():
    subprocess.run([sys.executable, "-c", RUN_A], check=True)


def test_grandchild():
    code = "import pkg.b; pkg.b.h()"
    subprocess.run(["bash", "-c", f"{sys.executable} -c '{code}'"], check=True)


def test_no_token():
    subprocess.run([sys.executable, "-c", RUN_A], check=True, env={})


def test_isolated():
    code = "import sys; sys.path.insert(0, '.'); " + RUN_A
    subprocess.run([sys.executable, "-I", "-c", code], check=True)


def test_killed():
    code = "import os, signal, pkg.a; os.kill(os.getpid(), signal.SIGKILL)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == -9


def test_os_exit():
    subprocess.run([sys.executable, "-c", "import os, pkg.a; os._exit(0)"], check=True)


def test_multiprocessing():
    process = multiprocessing.get_context("spawn").Process(target=pkg.b.h)
    process.start()
    process.join()
    assert process.exitcode == 0


def test_copy(tmp_path):
    shutil.copytree("pkg", tmp_path / "pkg")  # an installed copy, say
    subprocess.run([sys.executable, "-c", "import pkg.b"], check=True, cwd=tmp_path)


def test_plain():
    assert pkg.b.h() == 5
"""

ACCOUNTED = {"test_child", "test_grandchild", "test_plain"}
UNSEEN = {"test_no_token", "test_isolated", "test_killed", "test_os_exit", "test_multiprocessing"}
UNSEEN |= {"test_copy"}


def _pythons() -> list[str]:
    extra = [p for p in os.environ.get("AMOSKYS_SELECT_PYTHONS", "").split(os.pathsep) if p]
    return [sys.executable, *extra]


@pytest.fixture(params=_pythons(), scope="module")
def kids(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The KIDS suite recorded once per interpreter: the raw map."""
    root = tmp_path_factory.mktemp("kids") / "p"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "a.py").write_text(A)
    (root / "pkg" / "b.py").write_text(B)
    (root / "tests").mkdir()
    (root / "tests" / "test_kids.py").write_text(KIDS)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    out = root.parent / "map"
    codes: list[int | None] = []
    lines = pytest_in(root, str(request.param), {"AMOSKYS_SELECT_RECORD": str(out)}, codes=codes)
    assert codes == [0], "\n".join(lines)
    return recorded(out)


def by_name(data: dict[str, Any]) -> dict[str, tuple[bool, set[tuple[str, str]]]]:
    units = data["units"]
    return {
        t[0].split("::")[-1]: (bool(t[5]), {(units[i][0], units[i][1]) for i in t[2]})
        for t in data["tests"]
    }


def selected(
    data: dict[str, Any], old: str, new: str, path: str = "pkg/a.py", **how: Any
) -> set[str]:
    """The tests the selection picks when ``path``'s ``old`` text becomes ``new``."""
    text = {"pkg/a.py": A, "pkg/b.py": B}[path]
    assert old in text
    m = merge_raw([data], commit="c", interpreter="i", created=0.0, dirty={})
    change = FileChange(path, text, text.replace(old, new))
    chosen = select_tests(m, [change], SelectSettings(**how), "i")
    return {n.split("::")[-1] for n in chosen.tests}


def test_children_that_record_themselves_are_accounted_for(kids: dict[str, Any]) -> None:
    tests = by_name(kids)
    assert {n for n, (spawned, _) in tests.items() if spawned} == UNSEEN
    _, ran = tests["test_child"]
    # what the child ran: functions, and the module-level code of the files it imported
    assert {("pkg/a.py", "f"), ("pkg/a.py", "<module>"), ("pkg/b.py", "<module>")} <= ran
    assert ("pkg/a.py", "g") not in ran
    _, ran = tests["test_grandchild"]  # through bash -c
    assert ("pkg/b.py", "h") in ran and ("pkg/a.py", "<module>") not in ran
    module = next(u for u in kids["units"] if u[:2] == ["pkg/a.py", "<module>"])
    assert "LIMIT" in module[4] and module[2] == 0  # SIZE = LIMIT * 2 reads it


def test_a_change_of_what_a_child_ran_selects_its_test_and_nothing_else(
    kids: dict[str, Any],
) -> None:
    assert selected(kids, "return SIZE + 1", "return SIZE + 2") == {"test_child"} | UNSEEN
    # g is in a module the child imports but never calls: only the unseen tests
    assert selected(kids, "return 0", "return 1") == UNSEEN
    assert selected(kids, "return 5", "return 6", "pkg/b.py") == (
        {"test_grandchild", "test_plain"} | UNSEEN
    )


def test_a_module_level_change_reaches_the_child_that_ran_that_module(
    kids: dict[str, Any],
) -> None:
    assert selected(kids, "LIMIT = 3", "LIMIT = 4") == {"test_child"} | UNSEEN
    # by the names its module code reads, too
    got = selected(kids, "LIMIT = 3", "LIMIT = 4", module_level="names")
    assert got == {"test_child"} | UNSEEN


CHILD_PROJECT = {
    **PROJECT,
    "pkg/a.py": A,
    "pkg/b.py": B,
    "tests/test_kids.py": (
        "import subprocess\nimport sys\n\n\ndef test_child():\n"
        '    code = "import pkg.a; assert pkg.a.f() == 7, pkg.a.f()"\n'
        "    subprocess.run([sys.executable, '-c', code], check=True)\n"
    ),
}


def test_a_child_that_fails_after_the_change_is_caught(make_repo: Any) -> None:
    """End to end: the selection runs the test whose child runs the changed code, and that
    run fails; a change of code the child never runs selects nothing."""
    root = make_repo(CHILD_PROJECT)
    code, out, ran = amoskys_cli(root, "test", "--select", "affected", "-v")
    assert code == 0 and "test_child" in ran, out

    edit(root, "pkg/a.py", "return 0", "return 1")
    code, out, ran = amoskys_cli(root, "test", "--select", "affected", "-v")
    assert code == 0 and ran == set(), out

    edit(root, "pkg/a.py", "LIMIT = 3", "LIMIT = 4")
    code, out, ran = amoskys_cli(root, "test", "--select", "affected", "-v", "--why")
    assert code == 1 and ran == {"test_child"}, out
    assert "test_kids.py::test_child: ran code of pkg/a.py (module-level change" in out, out


# -- sitecustomize ---------------------------------------------------------------------------


def test_our_sitecustomize_loads_the_one_it_shadows(tmp_path: Path) -> None:
    plugins = install_plugins(tmp_path / "plugins")
    other = tmp_path / "other"
    other.mkdir()
    (other / "sitecustomize.py").write_text(
        "import os\nopen(os.environ['MARK'], 'w').write('chained')\n"
    )
    mark = tmp_path / "mark"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{plugins}{os.pathsep}{other}"}
    env["MARK"] = str(mark)
    show = "import sys; print(sys.modules['sitecustomize'].__file__, sys.gettrace())"
    out = subprocess.run(  # nosec B603
        [sys.executable, "-c", show], env=env, capture_output=True, text=True, check=True
    )
    assert mark.read_text() == "chained"
    assert out.stdout.split() == [str(other / "sitecustomize.py"), "None"]  # nothing else

    # with the variable: the child records (its marker and report) and still chains
    folder = tmp_path / "children"
    folder.mkdir()
    (folder / child.ROOT_FILE).write_text(str(tmp_path))
    mark.unlink()
    env[child.ENV_CHILD] = child.child_value("t1", str(folder))
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)  # nosec B603
    assert mark.read_text() == "chained"
    names = sorted(p.name for p in folder.iterdir())
    assert [n.rsplit(".", 1)[-1] for n in names if n.startswith("t1.")] == ["json", "started"]
    why, units, started = child.collect(str(folder), "t1")
    assert why is None and started  # what ran under the root: the chained module's code
    assert [u[:2] for u in units] == [["other/sitecustomize.py", "<module>"]]
    assert sorted(p.name for p in folder.iterdir()) == [child.ROOT_FILE]  # read and removed


def child_report(tmp_path: Path, code: str) -> tuple[str | None, list[Any], bool]:
    """Run ``code`` in a child of a test that records it: what the parent would collect."""
    plugins = install_plugins(tmp_path / "plugins")
    folder = tmp_path / "children"
    folder.mkdir()
    (folder / child.ROOT_FILE).write_text(str(tmp_path / "project"))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(plugins)}
    env[child.ENV_CHILD] = child.child_value("t1", str(folder))
    subprocess.run([sys.executable, "-c", code], env=env, check=True)  # nosec B603
    return child.collect(str(folder), "t1")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ children use sys.monitoring")
def test_a_child_that_sets_another_trace_function_is_not_accounted_for(tmp_path: Path) -> None:
    why, _, started = child_report(tmp_path, "import sys; sys.settrace(None)")
    assert started and why is not None and "trace function" in why
    assert child_report(tmp_path / "2", "import sys; sys.settrace(sys.gettrace())")[0] is None


# -- the pure parts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "texts, risky",
    [
        (["python", "-c", "import pkg"], []),
        (["python", "-s", "-u", "-m", "pkg", "--isolated"], []),
        (["python", "-I", "-c", "pass"], ["-I"]),
        (["python", "-IS", "x.py"], ["-IS"]),
        (["python", "-E"], ["-E"]),
        (["python", "-bS"], ["-bS"]),
        (["bash", "-c", "python -I -c 'import pkg'"], ["-I"]),
        (["grep -E x"], ["-E"]),
        (["env", "-i", "python"], ["env"]),
        (["bash", "-c", "sudo python x.py"], ["sudo"]),
        (["bash", "-c", "PYTHONPATH= python x.py"], ["PYTHONPATH"]),
        (["/usr/bin/env", "-u", "X", "python"], ["/usr/bin/env"]),
        (["#!/usr/bin/env python3"], []),
        (["#!/usr/bin/python3 -Es"], ["-Es"]),
    ],
)
def test_words_that_could_start_a_python_that_does_not_record(
    texts: list[str], risky: list[str]
) -> None:
    assert child.risky_words(texts) == risky


def test_a_spawn_is_covered_only_with_the_token_and_our_pythonpath(tmp_path: Path) -> None:
    ours = tmp_path / "ours"
    theirs = tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    value = child.child_value("t", str(tmp_path))
    env = {child.ENV_CHILD: value, "PYTHONPATH": str(ours), "PATH": os.environ["PATH"]}
    call = {"args": [sys.executable, "-c", "pass"], "executable": None, "env": env}
    assert child.spawn_uncovered(call, value, str(ours), {}) is None
    assert child.spawn_uncovered({**call, "env": None}, value, str(ours), env) is None
    assert child.spawn_uncovered({**call, "env": {}}, value, str(ours), env) is not None
    other = {**env, child.ENV_CHILD: child.child_value("u", str(tmp_path))}
    assert child.spawn_uncovered({**call, "env": other}, value, str(ours), env) is not None
    env_bytes = {k.encode(): v.encode() for k, v in env.items()}
    assert child.spawn_uncovered({**call, "env": env_bytes}, value, str(ours), {}) is None
    shell = {**call, "args": "python -E x.py", "shell": True}
    assert "'-E'" in str(child.spawn_uncovered(shell, value, str(ours), {}))
    # a sitecustomize before ours on PYTHONPATH would be the one the child loads
    (theirs / "sitecustomize.py").write_text("")
    first = {**env, "PYTHONPATH": f"{theirs}{os.pathsep}{ours}"}
    assert child.spawn_uncovered({**call, "env": first}, value, str(ours), {}) is not None
    (theirs / "sitecustomize.py").unlink()
    assert child.spawn_uncovered({**call, "env": first}, value, str(ours), {}) is None
    relative = {**env, "PYTHONPATH": f"src{os.pathsep}{ours}"}
    assert child.spawn_uncovered({**call, "env": relative}, value, str(ours), {}) is not None
    # a script whose #! line isolates its Python
    script = tmp_path / "tool"
    script.write_text("#!/usr/bin/python3 -I\nprint(1)\n")
    isolated = {**call, "args": [str(script)]}
    assert "'-I'" in str(child.spawn_uncovered(isolated, value, str(ours), {}))


def test_the_scripts_a_spawn_runs_are_read_for_what_could_lose_the_child(tmp_path: Path) -> None:
    """A shell script's commands run out of our sight: its words are checked like the
    arguments (a Python script's own body is recorded by its Python: only its #! line)."""
    ours = tmp_path / "ours"
    ours.mkdir()
    value = child.child_value("t", str(tmp_path))
    env = {child.ENV_CHILD: value, "PYTHONPATH": str(ours), "PATH": os.environ["PATH"]}

    def why(args: Any, **more: Any) -> str | None:
        call = {"args": args, "env": env, "cwd": str(tmp_path), **more}
        return child.spawn_uncovered(call, value, str(ours), {})

    (tmp_path / "run.sh").write_text("#!/bin/sh\necho hi\nenv -i python3 -c pass\n")
    (tmp_path / "run.sh").chmod(0o755)
    assert "'env'" in str(why(["./run.sh"]))
    assert "'env'" in str(why(["bash", "run.sh"]))
    assert "'env'" in str(why("sh ./run.sh && true", shell=True))
    (tmp_path / "ok.sh").write_text("#!/bin/sh\npython3 -c pass\n")
    assert why(["bash", "ok.sh"]) is None
    (tmp_path / "tool").write_text("#!/usr/bin/env python3\nFLAGS = ['-E']\n")
    assert why([str(tmp_path / "tool")]) is None  # the Python records itself
    # a shell may expand the flags from the environment
    env["FLAGS"] = "-I"
    assert "'-I'" in str(why(["bash", "-c", "python3 $FLAGS -c pass"]))
    assert why(["bash", "-c", "python3 -c pass"]) is None


def test_reports_are_merged_only_when_every_child_reported() -> None:
    unit = ["pkg/a.py", "f", 5, 6, ["SIZE"]]
    module = ["pkg/a.py", "<module>", 0, 9, ["LIMIT"]]
    good = {"uncovered": None, "units": [unit]}
    assert child.merge_reports(["a", "b"], {"a": good, "b": {"units": [module]}}) == (
        None,
        [unit, module],
    )
    why, units = child.merge_reports(["a", "b"], {"a": good})
    assert why is not None and "without a report" in why and units == []
    why, _ = child.merge_reports(["a"], {"a": {"uncovered": "started a process: x"}})
    assert why == "a child process started a process: x"
    why, _ = child.merge_reports(["a"], {"a": None})
    assert why is not None and "cannot be read" in why
    assert child.merge_reports([], {}) == (None, [])
    assert child.merge_reports(["a"], {"a": good}, lambda: {}) == (None, [unit])


def test_a_child_that_imports_a_copy_of_the_project_is_not_accounted_for(tmp_path: Path) -> None:
    """An installed copy (or a build folder) changes with the project's files, but what it
    runs is not in them: a child that imports one keeps its test "spawned"."""
    root = tmp_path / "p"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / "tool.py").write_text("")
    (root / "src" / "one.py").write_text("")
    places = child.project_places(str(root), {})
    assert places == {"pkg": str(root / "src" / "pkg"), "one": str(root / "src" / "one.py")}
    here = [["pkg.mod", str(root / "src" / "pkg" / "mod.py")], ["json", "/x/json.py"]]
    assert child.foreign_copy(here, places) is None
    copy = [["pkg.mod", str(tmp_path / "venv" / "site-packages" / "pkg" / "mod.py")]]
    assert "imported pkg.mod from" in str(child.foreign_copy(copy, places))
    build = [["pkg", str(root / "build" / "lib" / "pkg" / "__init__.py")]]
    assert child.foreign_copy(build, places) is not None
    report = {"uncovered": None, "units": [["src/pkg/mod.py", "f", 1, 2, []]], "modules": copy}
    why, units = child.merge_reports(["a"], {"a": report}, lambda: places)
    assert why is not None and units == []


def test_collect_reads_only_its_token(tmp_path: Path) -> None:
    (tmp_path / "t1.5.1.started").write_text("")
    (tmp_path / "t1.5.1.json").write_text(json.dumps({"uncovered": None, "units": []}))
    (tmp_path / "t10.6.1.started").write_text("")  # another test's child, still running
    assert child.collect(str(tmp_path), "t1") == (None, [], True)
    assert child.collect(str(tmp_path), "t2") == (None, [], False)
    why, _, started = child.collect(str(tmp_path), "t10")
    assert started and why is not None


def test_an_iterator_of_arguments_is_not_consumed_to_judge_it(tmp_path: Path) -> None:
    value = child.child_value("t", str(tmp_path))
    env = {child.ENV_CHILD: value, "PYTHONPATH": str(tmp_path)}
    args = iter([sys.executable, "-c", "pass"])
    why = child.spawn_uncovered({"args": args, "env": env}, value, str(tmp_path), {})
    assert why is not None and next(args) == sys.executable
