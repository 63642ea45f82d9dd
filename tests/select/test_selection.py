"""select_tests: the run-everything rules, the selection rules, order, reasons and summary."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from amoskys.errors import ConfigError
from amoskys.select.changes import FileChange
from amoskys.select.selection import Selection, SelectSettings, glob_matches, select_tests
from amoskys.select.settings import load_select_config
from amoskys.select.testmap import TestMap, TestRecord, Unit

PY = "3.12.4 /usr/bin/python3.12"
SETTINGS = SelectSettings(
    data_globs=("src/pkg/templates/**", "*.json"),
    package_paths=("src/pkg",),
    test_paths=("tests",),
)

CORE = textwrap.dedent("""\
    MAX = 5


    def parse(text):
        return text.split(",")[:MAX]


    def render(items):
        return "|".join(items)


    class Box:
        size = 2

        def area(self):
            return self.size * self.size
    """)
UTIL = textwrap.dedent("""\
    from pkg.core import MAX


    def clamp(n):
        return min(n, MAX)
    """)
TESTS = textwrap.dedent("""\
    import pytest

    from pkg.core import parse


    def test_parse():
        assert parse("a,b") == ["a", "b"]


    @pytest.mark.parametrize("n", [1, 2])
    def test_param(n):
        assert n


    class TestGroup:
        def test_inside(self):
            assert True
    """)

UNITS = (
    Unit("src/pkg/core.py", "parse", 4, 5, frozenset({"split", "MAX"})),  # 0
    Unit("src/pkg/core.py", "render", 8, 9, frozenset({"join"})),  # 1
    Unit("src/pkg/core.py", "Box.area", 15, 16, frozenset({"size"})),  # 2
    Unit("src/pkg/util.py", "clamp", 4, 5, frozenset({"min", "MAX"})),  # 3
    Unit("tests/test_core.py", "test_parse", 6, 7, frozenset({"parse"})),  # 4
    Unit("tests/test_core.py", "test_param", 10, 12, frozenset()),  # 5
    Unit("tests/test_core.py", "TestGroup.test_inside", 16, 17, frozenset()),  # 6
    Unit("tests/test_other.py", "test_render", 1, 2, frozenset({"render"})),  # 7
    Unit("tests/test_other.py", "test_clamp", 3, 4, frozenset({"clamp"})),  # 8
    Unit("tests/test_other.py", "test_box", 5, 6, frozenset({"Box", "area"})),  # 9
    Unit("src/pkg/core.py", "parse.<locals>.<lambda>", 5, 5, frozenset()),  # 10
)


def _record(nodeid: str, units: set[int], duration: float, outcome: str = "passed") -> TestRecord:
    return TestRecord(nodeid, nodeid.split("::")[0], frozenset(units), duration, outcome)


def _map(**overrides: object) -> TestMap:
    tests = {
        r.nodeid: r
        for r in (
            _record("tests/test_core.py::test_parse", {0, 4}, 0.3),
            _record("tests/test_core.py::test_param[1]", {5}, 0.1),
            _record("tests/test_core.py::test_param[2]", {5}, 0.1),
            _record("tests/test_core.py::TestGroup::test_inside", {6}, 0.1),
            _record("tests/test_other.py::test_render", {1, 7}, 0.2),
            _record("tests/test_other.py::test_clamp", {3, 8}, 0.05),
            _record("tests/test_other.py::test_box", {2, 9}, 0.4),
        )
    }
    fields: dict[str, object] = dict(
        commit="c" * 40, interpreter=PY, created=0.0, units=UNITS, tests=tests
    )
    fields.update(overrides)
    return TestMap(**fields)  # type: ignore[arg-type]


def _select(
    *changes: FileChange, m: TestMap | None = None, recent_failures: tuple[str, ...] = ()
) -> Selection:
    return select_tests(m or _map(), list(changes), SETTINGS, PY, recent_failures)


def _core(old: str, new: str) -> FileChange:
    assert old in CORE
    return FileChange("src/pkg/core.py", CORE, CORE.replace(old, new))


# -- selection ------------------------------------------------------------------------------


def test_nothing_changed_selects_nothing_but_keeps_the_known_tests() -> None:
    sel = _select()
    assert sel.run_all is None and sel.tests == ()
    assert len(sel.known) == 7
    assert sel.summary == "0 of 7 tests: nothing changed (+ new tests)"


def test_changed_function_selects_the_tests_that_ran_it() -> None:
    sel = _select(_core("return text.split", "return text.rsplit"))
    assert sel.tests == ("tests/test_core.py::test_parse",)
    assert sel.reasons["tests/test_core.py::test_parse"] == "covers src/pkg/core.py:4-5 (parse)"
    assert sel.summary == "1 of 7 tests: 1 covers src/pkg/core.py:4-5 (parse) (+ new tests)"


def test_code_nested_in_a_changed_function_counts() -> None:
    m = _map()
    tests = dict(m.tests)
    tests["tests/test_other.py::test_lambda"] = _record(
        "tests/test_other.py::test_lambda", {10}, 0.1
    )
    sel = _select(_core("return text.split", "return text.rsplit"), m=_map(tests=tests))
    assert "tests/test_other.py::test_lambda" in sel.tests


def test_method_change() -> None:
    sel = _select(_core("return self.size * self.size", "return self.size + self.size"))
    assert sel.tests == ("tests/test_other.py::test_box",)


def test_module_constant_selects_the_file_and_the_readers_elsewhere() -> None:
    sel = _select(_core("MAX = 5", "MAX = 6"))
    # every test that ran code of core.py, and test_clamp: clamp (util.py) reads MAX
    assert set(sel.tests) == {
        "tests/test_core.py::test_parse",
        "tests/test_other.py::test_render",
        "tests/test_other.py::test_box",
        "tests/test_other.py::test_clamp",
    }
    assert sel.reasons["tests/test_other.py::test_clamp"].startswith("reads MAX")
    assert sel.reasons["tests/test_other.py::test_box"].startswith("ran code of src/pkg/core.py")


def test_class_attribute_selects_tests_naming_the_class() -> None:
    m = _map()
    units = (*UNITS, Unit("tests/test_other.py", "test_size", 7, 8, frozenset({"Box", "size"})))
    tests = dict(m.tests)
    tests["tests/test_other.py::test_size"] = _record("tests/test_other.py::test_size", {11}, 0.1)
    sel = _select(_core("size = 2", "size = 3"), m=_map(units=units, tests=tests))
    assert "tests/test_other.py::test_size" in sel.tests  # never ran core.py code
    assert "tests/test_other.py::test_box" in sel.tests


def _with_skipped() -> TestMap:
    """The map plus test_windows: skipped when recorded (``skipif(WIN)``), it ran no code."""
    m = _map()
    tests = dict(m.tests)
    tests["tests/test_other.py::test_windows"] = _record(
        "tests/test_other.py::test_windows", set(), 0.0, "skipped"
    )
    return _map(tests=tests)


def test_a_skipped_test_is_not_selected_by_a_change_inside_a_function() -> None:
    sel = _select(_core("return text.split", "return text.rsplit"), m=_with_skipped())
    assert sel.tests == ("tests/test_core.py::test_parse",)
    assert "tests/test_other.py::test_windows" in sel.known  # not handed over as new
    assert "it was skipped when recorded" in sel.explain("tests/test_other.py::test_windows")


def test_a_skipped_test_runs_on_a_change_its_skip_condition_may_read() -> None:
    """Skip conditions are computed at import: a module-level change, a function that ran at
    import or a declared data file may lift the skip, and the test must run then."""
    skipped = "tests/test_other.py::test_windows"
    sel = _select(_core("MAX = 5", "MAX = 6"), m=_with_skipped())
    assert skipped in sel.tests
    assert sel.reasons[skipped] == (
        "was skipped when recorded; its skip condition may read"
        " the module-level change at src/pkg/core.py:1"
    )
    at_import = _with_skipped()
    at_import = _map(tests=at_import.tests, import_units=frozenset({1}))
    sel = _select(_core('return "|".join', 'return ",".join'), m=at_import)
    assert skipped in sel.tests and "render in src/pkg/core.py" in sel.reasons[skipped]
    data = FileChange("src/pkg/templates/page.txt", "a", "b")
    assert skipped in _select(data, m=_with_skipped()).tests


def test_a_module_never_imported_while_recording_cannot_lift_a_skip() -> None:
    """With module_names recorded, a file absent from it never ran its module code: a change
    there cannot have made an import-time skip condition (a Windows-only module on Linux)."""
    skipped = "tests/test_other.py::test_windows"
    imported = {"src/pkg/core.py": frozenset({"MAX", "parse"})}
    m = _map(tests=_with_skipped().tests, module_names=imported)
    win = FileChange("src/pkg/win.py", "HANDLE = 1\n", "HANDLE = 2\n")
    assert skipped not in _select(win, m=m).tests
    assert skipped in _select(_core("MAX = 5", "MAX = 6"), m=m).tests


def test_a_new_module_or_a_module_imported_before_recording_may_lift_a_skip() -> None:
    """A new file may make an optional `try: import` succeed; a file imported before
    recording began (by an initial conftest on 3.11) may have run any of its functions at
    import. Both reach the skipped test; the early file's change also reaches the tests that
    ran its code."""
    skipped = "tests/test_other.py::test_windows"
    imported = {"src/pkg/core.py": frozenset({"parse"})}
    m = _map(tests=_with_skipped().tests, module_names=imported)
    new = FileChange("src/pkg/_speedups.py", None, "def fast_sum(xs):\n    return sum(xs)\n")
    assert skipped in _select(new, m=m).tests
    change = _core('return "|".join', 'return ",".join')  # render: ran by test_render only
    assert skipped not in _select(change, m=m).tests
    early = _map(tests=_with_skipped().tests, module_names=imported, early={"src/pkg/core.py"})
    sel = _select(change, m=early)
    assert skipped in sel.tests and "imported before recording" in sel.reasons[skipped]
    assert "tests/test_core.py::test_parse" in sel.tests  # ran code of core.py


def test_a_class_body_that_ran_at_import_does_not_read_every_docstring() -> None:
    """`batched.__doc__ = ...` binds __doc__; a class body elsewhere binds its own __doc__
    and __module__: that is no reason to select the tests of its module."""
    units = (
        *UNITS,
        Unit("src/pkg/util.py", "Helper", 8, 10, frozenset({"__doc__", "__module__"})),  # 11
        Unit("src/pkg/util.py", "Limits", 12, 13, frozenset({"__module__", "MAX"})),  # 12
    )
    m = _map(units=units, import_units=frozenset({11, 12}))
    sel = _select(_core("MAX = 5", "render.__doc__ = 'x'\nMAX = 5"), m=m)
    assert not any("whose import ran Helper" in r for r in sel.reasons.values()), sel.reasons
    limits = _select(_core("MAX = 5", "MAX = 6"), m=m)
    assert any("whose import ran Limits" in r for r in limits.reasons.values())


def test_comment_only_change_selects_nothing() -> None:
    sel = _select(_core("MAX = 5", "MAX = 5  # the limit"))
    assert sel.tests == () and sel.run_all is None
    assert "no code changed" in sel.summary


def test_changed_test_function_selects_its_tests_only() -> None:
    change = FileChange("tests/test_core.py", TESTS, TESTS.replace("assert n\n", "assert n > 0\n"))
    sel = _select(change)
    assert set(sel.tests) == {
        "tests/test_core.py::test_param[1]",
        "tests/test_core.py::test_param[2]",
    }


def test_method_of_a_test_class() -> None:
    change = FileChange("tests/test_core.py", TESTS, TESTS.replace("assert True", "assert 1"))
    assert _select(change).tests == ("tests/test_core.py::TestGroup::test_inside",)


def test_parametrize_data_is_module_level_in_the_test_file() -> None:
    change = FileChange("tests/test_core.py", TESTS, TESTS.replace("[1, 2]", "[1, 3]"))
    sel = _select(change)
    assert {"tests/test_core.py::test_param[1]", "tests/test_core.py::test_param[2]"} <= set(
        sel.tests
    )
    # the test file's own imports do not drag in every test that uses `pytest`
    assert "tests/test_other.py::test_render" not in sel.tests


def test_new_function_in_a_test_file_selects_nothing_known() -> None:
    new = TESTS + "\n\ndef test_new():\n    assert parse('') == ['']\n"
    sel = _select(FileChange("tests/test_core.py", TESTS, new))
    # the new test is not in the map: the plugin keeps it because it is not in `known`
    assert "tests/test_core.py::test_new" not in sel.known
    assert "tests/test_core.py::test_parse" not in sel.tests


def test_function_run_at_import_time_widens_to_module_level() -> None:
    m = _map(import_units=frozenset({1}))
    sel = _select(_core('return "|".join(items)', 'return "/".join(items)'), m=m)
    # render ran at import time: all tests that ran core.py code and all readers of its names
    assert "tests/test_core.py::test_parse" in sel.tests
    assert "tests/test_other.py::test_clamp" in sel.tests  # reads MAX, defined in core.py


def test_failed_tests_come_first_and_stay_selected() -> None:
    tests = dict(_map().tests)
    tests["tests/test_other.py::test_box"] = _record(
        "tests/test_other.py::test_box", {2, 9}, 0.4, "failed"
    )
    sel = _select(
        _core("return text.split", "return text.rsplit"),
        m=_map(tests=tests),
        recent_failures=("tests/test_other.py::test_render", "tests/gone.py::test_x"),
    )
    assert sel.tests == (
        "tests/test_other.py::test_render",
        "tests/test_other.py::test_box",
        "tests/test_core.py::test_parse",
    )
    assert sel.reasons["tests/test_other.py::test_render"] == "failed recently"


def test_order_covering_first_then_shortest() -> None:
    change = _core("MAX = 5", "MAX = 6")
    body = FileChange("src/pkg/util.py", UTIL, UTIL.replace("min(n, MAX)", "max(n, MAX)"))
    sel = _select(change, body)
    # test_clamp ran the changed function clamp: first; then the module-level ones by duration
    assert sel.tests == (
        "tests/test_other.py::test_clamp",
        "tests/test_other.py::test_render",
        "tests/test_core.py::test_parse",
        "tests/test_other.py::test_box",
    )


def test_data_file_declared_in_data_globs_selects_the_code_next_to_it() -> None:
    sel = _select(FileChange("src/pkg/templates/page.html", "<p>", "<b>"))
    assert sel.run_all is None
    # nothing recorded in src/pkg/templates/: the nearest folder with code is src/pkg/
    assert set(sel.tests) == {
        "tests/test_core.py::test_parse",
        "tests/test_other.py::test_render",
        "tests/test_other.py::test_clamp",
        "tests/test_other.py::test_box",
    }
    assert sel.reasons["tests/test_other.py::test_box"] == (
        "ran code next to src/pkg/templates/page.html"
    )


def test_doctest_text_file_selects_its_tests() -> None:
    tests = dict(_map().tests)
    tests["docs/guide.rst::guide.rst"] = TestRecord(
        "docs/guide.rst::guide.rst", "docs/guide.rst", frozenset(), 0.1
    )
    sel = _select(FileChange("docs/guide.rst", ">>> 1\n1\n", ">>> 2\n2\n"), m=_map(tests=tests))
    assert sel.tests == ("docs/guide.rst::guide.rst",)


def test_explain() -> None:
    sel = _select(_core("return text.split", "return text.rsplit"))
    assert "covers src/pkg/core.py:4-5" in sel.explain("tests/test_core.py::test_parse")
    assert "not selected" in sel.explain("tests/test_other.py::test_box")
    assert "runs if pytest collects it" in sel.explain("tests/test_core.py::test_unknown")


# -- run everything -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, expected",
    [
        (FileChange("tests/conftest.py", "", "import os\n"), "tests/conftest.py changed"),
        (FileChange("src/pkg/sub/conftest.py", "x = 1\n", None), "conftest.py was deleted"),
        (FileChange("pytest.ini", "[pytest]\n", "[pytest]\naddopts = -x\n"), "pytest.ini"),
        (FileChange(".coveragerc", "", "[run]\nbranch = true\n"), ".coveragerc"),
        (FileChange("requirements.txt", "a\n", "b\n"), "requirements"),
        (FileChange("requirements-dev.txt", "a\n", "b\n"), "requirements"),
        (FileChange("requirements/test.txt", None, "b\n"), "requirements"),
        (FileChange("constraints.txt", "a\n", "b\n"), "requirements"),
        (FileChange("poetry.lock", "a\n", "b\n"), "requirements"),
        (FileChange("uv.lock", "a\n", "b\n"), "requirements"),
        (FileChange("setup.py", "a\n", "b\n"), "requirements"),
        (FileChange("src/pkg/old.py", "X = 1\n", None), "deleted or renamed"),
        (FileChange("src/pkg/native.py", None, None), "not readable"),
        (FileChange("src/pkg/py.typed", None, ""), "cannot see"),
        (FileChange("src/pkg/stubs.pyi", "x: int\n", "x: str\n"), "cannot see"),
        (FileChange("tests/data/sample.txt", "a", "b"), "cannot see"),
        (FileChange("src/pkg/logo.png", None, None), "cannot see"),
        (
            FileChange("vendor/lib", None, None, "a submodule changed"),
            "vendor/lib: a submodule changed",
        ),
        (
            FileChange("src/pkg/core.py", "X = 1\n", None, "cannot be read (Permission denied)"),
            "src/pkg/core.py: cannot be read (Permission denied)",
        ),
    ],
)
def test_run_all_rules(change: FileChange, expected: str) -> None:
    sel = _select(change)
    assert sel.run_all is not None and expected in sel.run_all
    assert len(sel.tests) == 7 and sel.summary.startswith("all 7 tests: ")
    assert all(reason.startswith("runs all: ") for reason in sel.reasons.values())


def test_other_interpreter_runs_everything() -> None:
    sel = select_tests(_map(), [], SETTINGS, "3.13.0 /usr/bin/python3.13")
    assert sel.run_all is not None and "interpreter" in sel.run_all


def test_other_installed_packages_run_everything_and_unknown_ones_do_not() -> None:
    recorded = dataclasses.replace(_map(), installed="a" * 64)
    sel = select_tests(recorded, [], SETTINGS, PY, installed="b" * 64)
    assert sel.run_all is not None and "packages installed" in sel.run_all
    for now, then in (("a" * 64, "a" * 64), ("", "a" * 64), ("b" * 64, "")):  # same, or unknown
        same = select_tests(dataclasses.replace(_map(), installed=then), [], SETTINGS, PY, (), now)
        assert same.run_all is None and same.tests == ()


def test_run_all_orders_failures_first_then_shortest() -> None:
    sel = _select(
        FileChange("tests/conftest.py", "", "x = 1\n"),
        recent_failures=("tests/test_other.py::test_box",),
    )
    assert sel.tests[0] == "tests/test_other.py::test_box"
    assert sel.tests[1] == "tests/test_other.py::test_clamp"  # 0.05 s, the shortest


def test_files_outside_code_and_tests_do_not_run_all() -> None:
    for path in ("README.md", "docs/index.rst", ".github/workflows/ci.yml", "src/pkg/x.json"):
        assert _select(FileChange(path, "a", "b")).run_all is None, path


def test_extra_run_all_globs() -> None:
    settings = SelectSettings(package_paths=("src/pkg",), extra_run_all_globs=("scripts/*.py",))
    sel = select_tests(_map(), [FileChange("scripts/gen.py", "a = 1\n", "a = 2\n")], settings, PY)
    assert sel.run_all is not None and "scripts/*.py" in sel.run_all


TOX = "[tox]\nenvlist = py311\n\n[pytest]\naddopts = -q\n\n[coverage:run]\nbranch = true\n"


@pytest.mark.parametrize(
    "path, old, new, run_all",
    [
        ("tox.ini", TOX, TOX.replace("py311", "py312"), False),
        ("tox.ini", TOX, TOX.replace("-q", "-x"), True),
        ("tox.ini", TOX, TOX.replace("branch = true", "branch = false"), True),
        ("tox.ini", TOX, TOX + "[coverage:report]\nfail_under = 90\n", True),
        ("tox.ini", TOX, "[pytest\n", True),  # cannot be parsed
        ("setup.cfg", "[metadata]\nname = a\n", "[metadata]\nname = b\n", False),
        ("setup.cfg", "[tool:pytest]\nx = 1\n", "[tool:pytest]\nx = 2\n", True),
        ("setup.cfg", "[coverage:run]\nx = 1\n", "[coverage:run]\nx = 2\n", True),
        (
            "setup.cfg",
            "[options]\ninstall_requires = a\n",
            "[options]\ninstall_requires = b\n",
            True,
        ),
    ],
)
def test_ini_files_compare_their_pytest_and_coverage_sections(
    path: str, old: str, new: str, run_all: bool
) -> None:
    assert (_select(FileChange(path, old, new)).run_all is not None) is run_all


PYPROJECT = textwrap.dedent("""\
    [project]
    name = "pkg"
    version = "1.0"
    description = "old"
    dependencies = ["click>=8"]

    [project.optional-dependencies]
    test = ["pytest"]

    [tool.black]
    line-length = 99

    [tool.pytest.ini_options]
    addopts = "-q"

    [tool.coverage.run]
    branch = true
    """)


@pytest.mark.parametrize(
    "old, new, run_all",
    [
        ('version = "1.0"', 'version = "1.1"', False),
        ('description = "old"', 'description = "new"', False),
        ("line-length = 99", "line-length = 100", False),
        ('addopts = "-q"', "addopts = \"-q -m 'not slow'\"", True),
        ("branch = true", "branch = false", True),
        ('["click>=8"]', '["click>=8.1"]', True),
        ('test = ["pytest"]', 'test = ["pytest", "hypothesis"]', True),
        ("[tool.black]", "[tool.black", True),  # not valid TOML
    ],
)
def test_pyproject_compares_the_relevant_tables(old: str, new: str, run_all: bool) -> None:
    assert old in PYPROJECT
    change = FileChange("pyproject.toml", PYPROJECT, PYPROJECT.replace(old, new))
    assert (_select(change).run_all is not None) is run_all


def test_pyproject_formatting_of_pytest_table_is_no_change() -> None:
    new = PYPROJECT.replace('addopts = "-q"', "addopts = '-q'  # quiet")
    assert _select(FileChange("pyproject.toml", PYPROJECT, new)).run_all is None


# -- globs and settings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, glob, matches",
    [
        ("src/pkg/templates/a/b.html", "src/pkg/templates/**", True),
        ("src/pkg/templates.py", "src/pkg/templates/**", False),
        ("src/pkg/a.json", "*.json", True),
        ("deep/er/a.json", "*.json", True),
        ("src/pkg/a.json", "src/*.json", False),
        ("src/pkg/a.json", "src/**/*.json", True),
        ("tests/data/", "tests/data/", True),
        ("tests/data/x.txt", "tests/data/", True),
        ("a.txt", "?.txt", True),
    ],
)
def test_glob_matches(path: str, glob: str, matches: bool) -> None:
    assert glob_matches(path, glob) is matches


def _project(tmp_path: Path, pyproject: str, layout: tuple[str, ...] = ()) -> Path:
    for rel in layout:
        (tmp_path / rel).mkdir(parents=True, exist_ok=True)
        if not rel.startswith("tests"):
            (tmp_path / rel / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text(pyproject)
    return tmp_path


def test_settings_defaults_follow_the_layout(tmp_path: Path) -> None:
    root = _project(tmp_path, "[project]\nname = 'x'\n", ("src/mypkg", "tests"))
    config = load_select_config(root)
    assert config.enabled is False
    assert config.settings.package_paths == ("src/mypkg",)
    assert config.settings.test_paths == ("tests",)
    assert config.settings.data_globs == ()


def test_settings_flat_layout(tmp_path: Path) -> None:
    root = _project(tmp_path, "", ("mypkg",))
    settings = load_select_config(root).settings
    assert settings.package_paths == ("mypkg",) and settings.test_paths == ()


def test_settings_read_every_key(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        textwrap.dedent("""\
            [tool.amoskys.select]
            enabled = true
            data = ["src/pkg/data/**"]
            packages = ["lib"]
            tests = ["checks"]
            run-all = ["scripts/*.py"]
            """),
    )
    config = load_select_config(root)
    assert config.enabled is True
    assert config.settings == SelectSettings(
        data_globs=("src/pkg/data/**",),
        package_paths=("lib",),
        test_paths=("checks",),
        extra_run_all_globs=("scripts/*.py",),
    )


@pytest.mark.parametrize(
    "body, message, hint",
    [
        ("enabled = 'yes'", "enabled must be true or false", "enabled = true"),
        ("data = [1]", "data must be a list", 'data = ["'),
        ("data = ['']", "data must be a list", 'data = ["'),
        ("colour = 'red'", "unknown key tool.amoskys.select.colour", "the keys are enabled"),
    ],
)
def test_settings_errors_say_what_would_be_right(
    tmp_path: Path, body: str, message: str, hint: str
) -> None:
    root = _project(tmp_path, f"[tool.amoskys.select]\n{body}\n")
    with pytest.raises(ConfigError) as caught:
        load_select_config(root)
    assert message in caught.value.message
    assert caught.value.hint is not None and hint in caught.value.hint
    assert caught.value.location is not None and caught.value.location.path == "pyproject.toml"


def test_settings_section_must_be_a_table(tmp_path: Path) -> None:
    root = _project(tmp_path, "[tool.amoskys]\nselect = 1\n")
    with pytest.raises(ConfigError, match="must be a table"):
        load_select_config(root)


# -- definitions added or removed, and module-level edits of test files ------------------------


def test_added_plain_function_selects_only_what_reads_its_name() -> None:
    new = CORE + "\n\ndef fresh():\n    return 1\n"
    assert _select(FileChange("src/pkg/core.py", CORE, new)).tests == ()


def test_added_override_selects_the_callers_of_that_name() -> None:
    # Box.render now exists: code that called .render() may reach it instead of pkg.render
    new = CORE.replace(
        "    size = 2\n", "    size = 2\n\n    def render(self):\n        return 1\n"
    )
    sel = _select(FileChange("src/pkg/core.py", CORE, new))
    assert "tests/test_other.py::test_render" in sel.tests  # its test function reads `render`
    assert "tests/test_other.py::test_clamp" not in sel.tests


def test_test_file_constant_selects_all_its_tests() -> None:
    change = FileChange("tests/test_core.py", TESTS, TESTS + "\nDATA = [1]\n")
    assert {r for r in _select(change).tests if r.startswith("tests/test_core.py")} == {
        "tests/test_core.py::test_parse",
        "tests/test_core.py::test_param[1]",
        "tests/test_core.py::test_param[2]",
        "tests/test_core.py::TestGroup::test_inside",
    }


def test_pytestmark_selects_all_tests_of_the_file() -> None:
    new = TESTS.replace("import pytest\n", "import pytest\n\npytestmark = pytest.mark.slow\n")
    sel = _select(FileChange("tests/test_core.py", TESTS, new))
    assert "tests/test_core.py::TestGroup::test_inside" in sel.tests
    assert not any(n.startswith("tests/test_other.py") for n in sel.tests)


def test_test_file_import_change_selects_its_tests_that_use_the_name() -> None:
    new = TESTS.replace("from pkg.core import parse", "from pkg.util import parse")
    sel = _select(FileChange("tests/test_core.py", TESTS, new))
    assert "tests/test_core.py::test_parse" in sel.tests
    assert "tests/test_other.py::test_render" not in sel.tests


# -- code run at import time, tests that start processes, the "names" reach --------------------


def _import_map(sites: dict[int, frozenset[str]] | None) -> TestMap:
    # parse (unit 0) ran at import time; `sites` says where, when the recorder knew
    return _map(import_units=frozenset({0}), import_sites=sites if sites is not None else {})


def test_function_run_at_import_by_a_test_file_selects_that_file() -> None:
    m = _import_map({0: frozenset({"tests/test_other.py"})})
    sel = _select(_core("return text.split", "return text.rsplit"), m=m)
    assert set(sel.tests) == {
        "tests/test_core.py::test_parse",  # ran parse
        "tests/test_other.py::test_render",  # its file built data with parse at import
        "tests/test_other.py::test_clamp",
        "tests/test_other.py::test_box",
    }
    assert "which ran parse at import" in sel.reasons["tests/test_other.py::test_box"]


def test_function_run_at_import_by_its_own_module_is_a_module_level_change() -> None:
    core = CORE + "\n\nPARSED = parse('a,b')\n"
    m = _import_map({0: frozenset({"src/pkg/core.py"})})
    change = FileChange("src/pkg/core.py", core, core.replace("text.split", "text.rsplit"))
    sel = _select(change, m=m)
    assert "tests/test_other.py::test_box" in sel.tests  # ran code of core.py
    assert "tests/test_other.py::test_clamp" not in sel.tests  # util.py: unrelated


def test_function_run_at_import_by_another_module_selects_what_ran_that_module() -> None:
    m = _import_map({0: frozenset({"src/pkg/util.py"})})
    sel = _select(_core("return text.split", "return text.rsplit"), m=m)
    assert "tests/test_other.py::test_clamp" in sel.tests
    assert (
        "src/pkg/util.py, which ran parse at import"
        in sel.reasons["tests/test_other.py::test_clamp"]
    )
    assert "tests/test_other.py::test_box" not in sel.tests


def test_spawning_tests_run_on_every_code_change() -> None:
    tests = dict(_map().tests)
    tests["tests/test_cli.py::test_subprocess"] = TestRecord(
        "tests/test_cli.py::test_subprocess", "tests/test_cli.py", frozenset(), 2.0, spawned=True
    )
    m = _map(tests=tests)
    sel = _select(_core("return text.split", "return text.rsplit"), m=m)
    assert sel.tests[-1] == "tests/test_cli.py::test_subprocess"
    assert sel.reasons["tests/test_cli.py::test_subprocess"].startswith("starts a process")
    assert _select(_core("MAX = 5", "MAX = 5  # comment"), m=m).tests == ()


def test_names_reach_selects_only_the_readers_of_a_constant() -> None:
    narrow = SelectSettings(package_paths=("src/pkg",), module_level="names")
    sel = select_tests(_map(), [_core("MAX = 5", "MAX = 6")], narrow, PY)
    assert set(sel.tests) == {"tests/test_core.py::test_parse", "tests/test_other.py::test_clamp"}
    opaque = _core("MAX = 5", "MAX = compute(5)")
    assert len(select_tests(_map(), [opaque], narrow, PY).tests) == 4  # the whole file


def test_settings_module_level_key(tmp_path: Path) -> None:
    root = _project(tmp_path, "[tool.amoskys.select]\nmodule-level = 'names'\n")
    assert load_select_config(root).settings.module_level == "names"
    bad = _project(tmp_path, "[tool.amoskys.select]\nmodule-level = 'file'\n")
    with pytest.raises(ConfigError, match="module-level must be one of module, names"):
        load_select_config(bad)


def test_import_time_code_elsewhere_that_reads_a_changed_name() -> None:
    # tests/test_other.py builds `CASES = [core.MAX + 1]` at import: no unit reads MAX there
    m = _map(module_names={"tests/test_other.py": frozenset({"core", "MAX", "CASES"})})
    narrow = SelectSettings(package_paths=("src/pkg",), module_level="names")
    sel = select_tests(m, [_core("MAX = 5", "MAX = 6")], narrow, PY)
    assert "tests/test_other.py::test_box" in sel.tests
    assert sel.reasons["tests/test_other.py::test_box"] == (
        "ran code of tests/test_other.py, whose import-time code reads MAX"
    )
