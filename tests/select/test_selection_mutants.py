"""Soundness on a toy project: for each mutant, every test that fails must be selected.

The map is recorded for real, in this process: each toy test runs under ``sys.settrace`` and
the code objects it starts are its units (``co_qualname``, ``co_names``), the ones started while
importing are the import-time units, exactly what the recorder plugin stores. Then every
mutant is applied, the toy suite re-run from a fresh import, and the failing tests compared with
what :func:`select_tests` picks from the mutant's diff. The mutants cover the places the issue
names: function bodies, module constants, class attributes, default values, decorators,
``__init__.py`` re-exports, code run at import time and closures made at import time.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, FrameType, ModuleType
from typing import Any

import pytest

from amoskys.select.changes import FileChange
from amoskys.select.selection import SelectSettings, select_tests
from amoskys.select.testmap import TestMap, TestRecord, Unit

PY = "toy"

INIT = textwrap.dedent("""\
    from .core import parse, Box, LIMIT
    from .util import clamp

    VERSION = "1.0"
    """)
CORE = textwrap.dedent("""\
    LIMIT = 3
    SEP = ","
    _TABLE = {"a": 1, "b": 2}


    def _build():
        return {k: v * 2 for k, v in _TABLE.items()}


    DOUBLED = _build()


    def parse(text, sep=SEP):
        parts = text.split(sep)
        return parts[:LIMIT]


    def lookup(key):
        return DOUBLED.get(key, 0)


    def twice(f):
        def wrapper(*a):
            return f(*a) * 2

        return wrapper


    @twice
    def three():
        return 3


    class Box:
        size = 2

        def __init__(self, n=1):
            self.n = n

        def area(self):
            return self.size * self.n

        def scaled(self, k):
            return max([self.n * k + i for i in range(2)], key=lambda v: -v)


    class BigBox(Box):
        size = 10
    """)
UTIL = textwrap.dedent("""\
    from .core import LIMIT


    def clamp(n):
        return min(n, LIMIT)


    def make_adder(k):
        def add(x):
            return x + k

        return add


    ADD_ONE = make_adder(1)
    """)
FILES = {"__init__.py": INIT, "core.py": CORE, "util.py": UTIL}

MUTANTS = [
    ("core.py", "LIMIT = 3", "LIMIT = 4"),
    ("core.py", 'SEP = ","', 'SEP = ";"'),
    ("core.py", '"a": 1', '"a": 5'),
    ("core.py", "v * 2 for", "v * 3 for"),
    ("core.py", "parts[:LIMIT]", "parts[: LIMIT - 1]"),
    ("core.py", "DOUBLED.get(key, 0)", "DOUBLED.get(key, 1)"),
    ("core.py", "f(*a) * 2", "f(*a) * 3"),
    ("core.py", "return 3", "return 4"),
    ("core.py", "@twice\n", ""),
    ("core.py", "    size = 2", "    size = 3"),
    ("core.py", "n=1", "n=2"),
    ("core.py", "self.size * self.n", "self.size + self.n"),
    ("core.py", "self.n = n", "self.n = n * 2"),
    ("core.py", "key=lambda v: -v", "key=lambda v: v"),
    ("core.py", "range(2)", "range(3)"),
    ("core.py", "size = 10", "size = 11"),
    ("core.py", "class BigBox(Box):", "class BigBox:"),
    ("util.py", "x + k", "x - k"),
    ("util.py", "make_adder(1)", "make_adder(2)"),
    ("util.py", "min(n, LIMIT)", "max(n, LIMIT)"),
    ("__init__.py", 'VERSION = "1.0"', 'VERSION = "1.1"'),
    ("__init__.py", "import parse, Box", "import lookup as parse, Box"),
]

TESTS: dict[str, str] = {
    "test_parse": 'assert pkg.parse("a,b,c,d") == ["a", "b", "c"]',
    "test_parse_sep": 'assert core.parse("a;b", sep=";") == ["a", "b"]',
    "test_limit": "assert pkg.LIMIT == 3",
    "test_lookup": 'assert core.lookup("a") == 2 and core.lookup("z") == 0',
    "test_three": "assert core.three() == 6",
    "test_box": "assert core.Box(3).area() == 6",
    "test_bigbox": "assert core.BigBox().area() == 10",
    "test_scaled": "assert core.Box(2).scaled(3) == 6",
    "test_clamp": "assert util.clamp(10) == 3",
    "test_add_one": "assert util.ADD_ONE(1) == 2",
    "test_version": 'assert pkg.VERSION == "1.0"',
    "test_default_n": "assert core.Box().n == 1",
    "test_big": "assert BIG.area() == 8",
}


class Toy:
    """The toy package on disk, importable under a unique name, with a tracing runner."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = f"toy_{uuid.uuid4().hex[:8]}"
        self.sites: dict[CodeType, set[str]] = {}
        self.folder = root / self.name
        self.folder.mkdir()
        self.write(FILES)
        head = f"import {self.name} as pkg\nfrom {self.name} import core, util\n\n"
        head += "BIG = core.Box(4)  # built at import, like parametrize data\n\n\n"
        tests = "\n\n".join(f"def {n}():\n    {body}\n" for n, body in TESTS.items())
        (root / "toy_checks.py").write_text(head + tests)

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            (self.folder / name).write_text(text)

    def rel(self, code: CodeType) -> str | None:
        path = Path(code.co_filename)
        if not path.is_relative_to(self.root):
            return None
        return path.relative_to(self.root).as_posix()

    def _fresh(self) -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
        for key in [k for k in sys.modules if k == self.name or k.startswith(self.name + ".")]:
            del sys.modules[key]
        sys.modules.pop("toy_checks", None)
        importlib.invalidate_caches()
        pkg = importlib.import_module(self.name)
        return (
            pkg,
            importlib.import_module(f"{self.name}.core"),
            importlib.import_module(f"{self.name}.util"),
            importlib.import_module("toy_checks"),
        )

    def run(self, record: bool) -> tuple[dict[str, bool], dict[str, set[CodeType]], set[CodeType]]:
        """Import afresh and run every test: (passed?, codes per test, codes at import)."""
        seen: set[CodeType] = set()

        sites: dict[CodeType, set[str]] = {}
        in_test = False

        def tracer(frame: FrameType, event: str, arg: Any) -> None:
            if event != "call":
                return
            seen.add(frame.f_code)
            if in_test:
                return
            caller: FrameType | None = frame.f_back
            while caller is not None:  # the module whose top-level code ran it
                rel = self.rel(caller.f_code)
                if caller.f_code.co_name == "<module>" and rel is not None:
                    sites.setdefault(frame.f_code, set()).add(rel)
                    break
                caller = caller.f_back

        results: dict[str, bool] = {}
        per_test: dict[str, set[CodeType]] = {}
        with _tracing(tracer if record else None):
            pkg, core, util, tests = self._fresh()
        imported = set(seen)
        self.sites = sites
        in_test = True
        for name in TESTS:
            seen.clear()
            with _tracing(tracer if record else None):
                try:
                    getattr(tests, name)()
                    results[name] = True
                except Exception:  # noqa: BLE001 - any error is a failing test
                    results[name] = False
            per_test[name] = set(seen)
        return results, per_test, imported


class _tracing:
    """Trace with ``tracer`` inside, then give the previous trace function back (coverage.py's,
    when the suite runs under ``--cov``: dropping it would stop measuring every later test)."""

    def __init__(self, tracer: Callable[[FrameType, str, Any], None] | None) -> None:
        self.tracer = tracer
        self.previous: Any = None

    def __enter__(self) -> None:
        if self.tracer is not None:
            self.previous = sys.gettrace()
            sys.settrace(self.tracer)  # type: ignore[arg-type]

    def __exit__(self, *exc: object) -> None:
        if self.tracer is not None:
            sys.settrace(self.previous)


def _record_map(toy: Toy) -> TestMap:
    results, per_test, imported = toy.run(record=True)
    assert all(results.values()), results
    index: dict[CodeType, int] = {}
    units: list[Unit] = []

    def uid(code: CodeType) -> int | None:
        rel = toy.rel(code)
        if rel is None or code.co_name == "<module>":
            return None
        if code not in index:
            last = max((line for _, _, line in code.co_lines() if line), default=0)
            index[code] = len(units)
            units.append(
                Unit(rel, code.co_qualname, code.co_firstlineno, last, frozenset(code.co_names))
            )
        return index[code]

    tests = {}
    for name, codes in per_test.items():
        ids = {i for i in map(uid, codes) if i is not None}
        nodeid = f"toy_checks.py::{name}"
        tests[nodeid] = TestRecord(nodeid, "toy_checks.py", frozenset(ids), 0.001)
    import_ids = {i for i in map(uid, imported) if i is not None}
    sites = {index[code]: frozenset(where) for code, where in toy.sites.items() if code in index}
    return TestMap("c" * 40, PY, 0.0, tuple(units), tests, {}, frozenset(import_ids), sites)


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Toy]:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # edits within one second
    monkeypatch.syspath_prepend(str(tmp_path))
    made = Toy(tmp_path)  # its checks are not named test_*: pytest would rewrite them
    yield made
    for key in [k for k in sys.modules if k.startswith(made.name) or k == "toy_checks"]:
        del sys.modules[key]


@pytest.mark.parametrize("module_level", ["module", "names"])
def test_every_failing_test_of_every_mutant_is_selected(toy: Toy, module_level: str) -> None:
    m = _record_map(toy)
    assert m.import_sites  # Box.__init__ ran for BIG while toy_checks.py was imported
    settings = SelectSettings(package_paths=(toy.name,), module_level=module_level)
    killed_mutants = 0
    selected_share: list[float] = []
    for file, old, new in MUTANTS:
        original = FILES[file]
        assert original.count(old) == 1, old
        mutated = original.replace(old, new)
        toy.write({file: mutated})
        try:
            results, _, _ = toy.run(record=False)
        finally:
            toy.write({file: original})
        failing = {f"toy_checks.py::{n}" for n, ok in results.items() if not ok}
        change = FileChange(f"{toy.name}/{file}", original, mutated)
        selection = select_tests(m, [change], settings, PY)
        assert selection.run_all is None
        missed = failing - set(selection.tests)
        assert not missed, f"{file}: {old!r} -> {new!r} fails {sorted(missed)} unselected"
        killed_mutants += bool(failing)
        selected_share.append(len(selection.tests) / len(TESTS))
    assert killed_mutants >= len(MUTANTS) - 2  # the mutants are meant to be caught
    # and the selection is a selection: on average well under the whole toy suite
    assert sum(selected_share) / len(selected_share) < 0.6
