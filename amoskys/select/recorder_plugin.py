"""Amoskys's test impact plugin: record which functions each test runs, or run a selection.

Standalone on purpose, like :mod:`amoskys.collect.pytest_probe`: Amoskys copies this file as
``amoskys_select_plugin.py`` into a folder on the test process's ``PYTHONPATH`` and adds
``-p amoskys_select_plugin`` to ``PYTEST_ADDOPTS``. It imports only the standard library and
pytest, and runs in the project's interpreter (3.11+).

Driven by the environment:

``AMOSKYS_SELECT_RECORD=<dir>``
    Record, per test, the code objects (functions, methods, lambdas, comprehensions) that
    started while the test's setup, call and teardown ran, and write ``<dir>/map-<pid>.json``.
    On 3.12+ ``sys.monitoring`` reports the project's code objects once per test (``PY_START``
    and ``PY_RESUME``, disabled after the first report and re-armed for the next test, only
    for the code objects that reported; see :class:`_MonitoringTracer`). On 3.11 a
    ``sys.settrace`` function sees ``call`` events only (it returns None, so no line
    events); when a tracer is already installed (coverage.py) it uses
    ``sys.setprofile`` instead so that both work. Only code whose file lies under pytest's
    rootdir and not in a virtual environment, ``site-packages``, ``.amoskys`` or this plugin
    counts (the decision is made once per file). Code that a module-, class-, package- or
    session-scoped fixture runs in its setup counts for every test using that fixture; code
    that runs outside any test (imports, collection) is written as ``import_units``, with
    ``import_sites``: the files whose module-level code (nearest ``<module>`` frame under the
    root) started it, and ``module_names``: per file whose module or class-body code ran,
    the names that code reads (loads, attribute reads, imports; not what it only binds), and
    ``early_files``: files imported before recording began (what their import ran is
    unknown). A test row's sixth item says whether the test started a process (``subprocess``,
    ``os.exec*``, ``multiprocessing``, ``pty``, ``os.fork``) whose code is not accounted for.
    Child Python processes record themselves (:mod:`amoskys.select.child_recorder`, loaded
    by the ``sitecustomize.py`` installed beside this file): during each test
    ``AMOSKYS_SELECT_CHILD`` names the test's token and ``<dir>/children-<pid>``; each
    ``Popen._execute_child`` call is judged from its frame (the environment carries the
    variable and a PYTHONPATH that reaches our ``sitecustomize``, no ``-I``/``-E``/``-S`` or
    ``env``-like word). A test is *not* "spawned" when all its starts were such calls and
    every child that wrote a "started" marker for its token also wrote a report that is not
    "uncovered": the children's units (functions, and ``<module>`` pseudo-units for the
    module-level code they ran) are added to the test's. A child still running when the test
    ends (no report yet) keeps the test "spawned"; nothing waits for it. A process started
    by a wider-scoped fixture keeps every test using it "spawned". Without the child module
    beside this file every started process counts as unseen (as before).
``AMOSKYS_SELECT_FILE=<json>``
    ``{"known": [...], "keep": [...], "failures": [...], "new": true, "result": path}``: after
    every other plugin (``-m``, ``-k``) filtered the items, keep the items in ``keep`` plus
    (when ``new`` is true) the items not in ``known`` (tests the map has never seen), in the
    order recent failures, new tests, the rest of ``keep``; deselect the others through
    ``pytest_deselected``. ``result`` receives ``{"selected", "new", "deselected"}`` (a
    ``{pid}`` in it becomes the process id: several pytest processes may share one selection).
    Optional keys, used by ``amoskys run``'s steps (:mod:`amoskys.select.in_run`):
    ``"interpreter"``: the :func:`interpreter_id` the selection was made for; under another
    interpreter the plugin selects nothing (every test runs) and says so on stderr.
    ``"empty_ok": true``: when the selection leaves no test, pytest exits 0 instead of 5
    (the user's command must not fail because nothing needed to run).
    ``"no_fail_under": true``: pytest-cov's ``--cov-fail-under`` / ``fail_under`` is not
    applied (a selection's coverage is that of a subset; said on stderr).
    ``"root"``: the rootdir the selection is for; a pytest with another one (started by a
    test, inheriting the environment) selects nothing. Under pytest-xdist the controller
    applies ``empty_ok`` and ``no_fail_under`` (its workers select).
    With ``"files": true`` (pytest 7+) a file is not even collected when the map knows tests
    in it, none of them is kept and it is not in ``"changed"`` (absolute paths of the files
    changed since the map): collecting every module of a large suite to deselect nearly all
    of it cost more than running a small selection. Unknown files are collected (they may
    hold new tests) unless ``new`` is false; ``conftest.py`` and ``__init__.py`` always are.

The plugin never fails the user's run because of itself: problems are written to
``<dir>/select-warnings-<pid>.txt`` (or stderr when there is no folder).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from types import CodeType, FrameType
from typing import Any, Callable, Dict, FrozenSet, Generator, List, Optional, Set, Tuple

import pytest

_child: Any = None  # amoskys_select_child, when installed beside this file
try:  # with our sitecustomize: children record themselves (else every process is unseen)
    import importlib

    _child = importlib.import_module("amoskys_select_child")
except ImportError:  # pragma: no cover - not installed the way Amoskys installs it
    pass

ENV_RECORD = "AMOSKYS_SELECT_RECORD"
ENV_SELECT = "AMOSKYS_SELECT_FILE"
FORMAT = 1
TOOL_NAME = "amoskys-select"

_HERE = os.path.normcase(os.path.abspath(__file__))
_SKIP_PARTS = frozenset({"site-packages", "dist-packages", ".amoskys", ".tox", ".nox", ".venv"})
_RECORDER_ATTR = "_amoskys_select_recorder"
_CO_OPTIMIZED = 0x0001  # inspect.CO_OPTIMIZED: set for functions, not module or class bodies
CHILDREN = "children"  # the record folder's sub-folder for child processes' markers and reports


def _children_supported() -> bool:
    """Whether child processes can record themselves: ``amoskys_select_child`` and our
    ``sitecustomize`` lie in this file's folder (the one on the tests' PYTHONPATH)."""
    if _child is None:
        return False
    here = os.path.dirname(os.path.abspath(__file__))
    mine = os.path.dirname(os.path.abspath(_child.__file__))
    return os.path.normcase(here) == os.path.normcase(mine) and os.path.isfile(
        os.path.join(here, "sitecustomize.py")
    )


def _warn(folder: Optional[str], message: str) -> None:
    """One line to the warnings file (or stderr); never raises."""
    try:
        line = "amoskys select plugin: %s\n" % " ".join(message.split())
        if folder:
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, "select-warnings-%d.txt" % os.getpid())
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(line)
        else:
            sys.stderr.write(line)
    except Exception:  # never fail the run for a warning  # nosec B110
        pass


# -- tracers: the set of code objects started since the last switch -----------------------------


Site = Callable[[CodeType, FrameType], None]  # told where code started outside any test
Spawn = Callable[[FrameType], None]  # told of each Popen._execute_child call (its frame)


class _MonitoringTracer:
    """3.12+: two ``sys.monitoring`` tools, so that re-arming between tests touches only the
    code that matters.

    A *discovery* tool gets ``PY_START`` once per code object for the life of the process (its
    callback returns ``DISABLE`` and is never re-armed): code that ``watched`` refuses (pytest,
    the standard library, site-packages) is dropped for good; watched code (the project's, and
    the functions that start processes) gets local ``PY_START`` and ``PY_RESUME`` events on a
    *recording* tool. The recording tool notes a code object and disables that location; the
    next test re-arms exactly the code objects noted since the last re-arm (their local events
    off and on again). ``restart_events()`` would re-arm every code object of the process,
    pytest's own included, and was most of the recording overhead (click: 1.31x of plain
    pytest with it, ~1.0x without). ``PY_RESUME`` reports a generator resumed in a later test,
    ``PY_THROW`` (global, never disabled, rare) one resumed by ``throw()`` or ``close()``.

    Outside tests (imports, collection) the callbacks also tell ``site`` which frame started
    each code object, so the recorder can say which module's import ran it.
    """

    def __init__(
        self,
        site: Site,
        watched: Callable[[CodeType], bool],
        spawn: Spawn,
        execute_child: Optional[CodeType],
    ) -> None:
        monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        self.codes: Set[CodeType] = set()
        self._monitoring = monitoring
        free = [t for t in (3, 4, 5, 2, 1, 0) if monitoring.get_tool(t) is None]
        if len(free) < 2:
            raise RuntimeError("fewer than two sys.monitoring tool ids are free")
        self._discovery, self._recording = free[0], free[1]
        monitoring.use_tool_id(self._discovery, TOOL_NAME)
        monitoring.use_tool_id(self._recording, TOOL_NAME)
        events = monitoring.events
        self._local = events.PY_START | events.PY_RESUME
        self._off: Set[CodeType] = set()  # recorded (so disabled) since the last re-arm
        self._watching: Set[CodeType] = set()  # every watched code object seen so far
        self._inside = False
        disable = monitoring.DISABLE
        getframe = sys._getframe
        set_local = monitoring.set_local_events
        recording, local = self._recording, self._local

        def discovered(code: CodeType, offset: int) -> Any:
            if watched(code):
                self._watching.add(code)
                set_local(recording, code, local)
                self.codes.add(code)
                if code is execute_child:
                    spawn(getframe(1))
                elif not self._inside:
                    site(code, getframe(1))
            return disable

        def recorded(code: CodeType, offset: int) -> Any:
            self.codes.add(code)
            if code is execute_child:  # rare: each call is judged, so it stays enabled
                spawn(getframe(1))
                return None
            self._off.add(code)
            if not self._inside:
                site(code, getframe(1))
            return disable

        watching = self._watching

        def thrown(code: CodeType, offset: int, exception: BaseException) -> Any:
            # throw() or close() resuming a generator: a global event, never disabled
            if code in watching:
                self.codes.add(code)

        monitoring.register_callback(self._recording, events.PY_START, recorded)
        monitoring.register_callback(self._recording, events.PY_RESUME, recorded)
        monitoring.register_callback(self._recording, events.PY_THROW, thrown)
        monitoring.register_callback(self._discovery, events.PY_START, discovered)
        monitoring.set_events(self._discovery, events.PY_START)
        monitoring.set_events(self._recording, events.PY_THROW)

    def switch(self, inside: bool) -> Set[CodeType]:
        """Start a new set (re-arming what was recorded, for a test); return the old one."""
        old, self.codes = self.codes, set()
        self._inside = inside
        if inside:  # between tests only pytest runs: no need to re-arm for it
            self.rearm()
        return old

    def rearm(self) -> None:
        """Report the code objects recorded since the last re-arm again when they next run
        (a new test starts, or a new test module is about to be imported)."""
        set_local = self._monitoring.set_local_events
        recording, local = self._recording, self._local
        # Swap first: a thread that records a code object while we re-arm puts it in the new
        # set (re-armed next time) instead of one being iterated and then forgotten.
        off, self._off = self._off, set()
        for code in off:
            set_local(recording, code, 0)
            set_local(recording, code, local)

    def stop(self) -> None:
        monitoring = self._monitoring
        events = monitoring.events
        monitoring.set_events(self._discovery, 0)
        monitoring.set_events(self._recording, 0)
        for tool in (self._discovery, self._recording):
            for event in (events.PY_START, events.PY_RESUME, events.PY_THROW):
                monitoring.register_callback(tool, event, None)
            monitoring.free_tool_id(tool)


class _TraceTracer:
    """3.11: a global trace (or profile) function that notes each call's code object."""

    def __init__(self, site: Site, spawn: Spawn, execute_child: Optional[CodeType]) -> None:
        self.codes: Set[CodeType] = set()
        self._site = site
        self._spawn = spawn
        self._execute_child = execute_child
        self._inside = False
        self._known: Set[CodeType] = set()  # reported outside tests since the last re-arm
        # coverage.py (or a debugger) owns sys.settrace: use the profile hook beside it
        self._profile = sys.gettrace() is not None
        self._install()

    def _function(self) -> Callable[[FrameType, str, Any], None]:
        add = self.codes.add
        if not self._inside:
            site = self._site
            known = self._known

            def outside(frame: FrameType, event: str, arg: Any) -> None:
                if event == "call":
                    code = frame.f_code
                    if code not in known:  # like DISABLE on 3.12: once until re-armed
                        known.add(code)
                        add(code)
                        site(code, frame)

            return outside
        spawn = self._spawn
        execute_child = self._execute_child
        if self._profile:

            def profile(frame: FrameType, event: str, arg: Any) -> None:
                if event == "call":
                    code = frame.f_code
                    add(code)
                    if code is execute_child:
                        spawn(frame)

            return profile

        def trace(frame: FrameType, event: str, arg: Any) -> None:
            code = frame.f_code
            add(code)  # a global trace function only sees "call"; None: no line events
            if code is execute_child:
                spawn(frame)

        return trace

    def _threads(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            self.codes.add(code)
            if code is self._execute_child and self._inside:
                self._spawn(frame)

    def _install(self) -> None:
        if self._profile:
            sys.setprofile(self._function())
            threading.setprofile(self._threads)
        else:
            sys.settrace(self._function())
            threading.settrace(self._threads)

    def switch(self, inside: bool) -> Set[CodeType]:
        old, self.codes = self.codes, set()
        self._inside = inside
        self._known.clear()
        self._install()
        return old

    def rearm(self) -> None:
        """Report every code object again (a new test module is about to be imported)."""
        self._known.clear()

    def stop(self) -> None:
        if self._profile:
            sys.setprofile(None)
            threading.setprofile(None)
        else:
            sys.settrace(None)
            threading.settrace(None)


def _new_tracer(
    site: Site, watched: Callable[[CodeType], bool], spawn: Spawn, execute_child: Optional[CodeType]
) -> Any:
    if hasattr(sys, "monitoring"):
        return _MonitoringTracer(site, watched, spawn, execute_child)
    return _TraceTracer(site, spawn, execute_child)


def _spawn_codes() -> FrozenSet[CodeType]:
    """The Python functions every way of starting a process goes through (``os.system`` and
    the bare ``os.posix_spawn``/``os.fork`` are C and not seen). Seeing one of them among a
    test's code objects costs nothing, unlike an audit hook called for every audit event."""
    found: List[Any] = []
    import subprocess  # nosec B404 - only to recognise its code objects

    found.append(getattr(subprocess.Popen, "_execute_child", None))
    for name in ("execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "popen"):
        found.append(getattr(os, name, None))
    for module in (
        "pty",
        "multiprocessing.popen_fork",
        "multiprocessing.popen_spawn_posix",
        "multiprocessing.popen_forkserver",
    ):
        try:
            loaded = __import__(module, fromlist=["_"])
        except Exception:  # nosec B112 - not on this platform
            continue
        found.append(getattr(getattr(loaded, "Popen", None), "_launch", None))
        found.append(getattr(loaded, "spawn", None))
        found.append(getattr(loaded, "fork", None))
    return frozenset(f.__code__ for f in found if hasattr(f, "__code__"))


_READS = frozenset(
    {
        "LOAD_NAME",
        "LOAD_GLOBAL",
        "LOAD_ATTR",
        "LOAD_METHOD",
        "LOAD_SUPER_ATTR",
        "LOAD_FROM_DICT_OR_GLOBALS",
        "IMPORT_NAME",
        "IMPORT_FROM",
    }
)


def _reads_of(code: CodeType) -> Set[str]:
    """The names ``code`` reads (loads, attribute reads, imports), not those it only binds: a
    module's own ``X = 1`` or a class body's ``def close`` holds nothing made elsewhere. A
    plain ``from m import X`` (stored under the same name) is no read either: it binds the
    very object ``m`` holds, and the code that reads ``X`` later names it itself."""
    import dis  # only when the map is written

    found: Set[str] = set()
    instructions = list(dis.get_instructions(code))
    for number, instruction in enumerate(instructions):
        name = instruction.argval
        if instruction.opname not in _READS or not isinstance(name, str):
            continue
        if instruction.opname == "IMPORT_FROM" and number + 1 < len(instructions):
            after = instructions[number + 1]
            if after.opname in ("STORE_NAME", "STORE_GLOBAL") and after.argval == name:
                continue
        found.add(name)
    return found


# -- the recorder -------------------------------------------------------------------------------


class Recorder:
    """Per-test sets of code objects, turned into units and written as ``map-<pid>.json``."""

    def __init__(self, folder: str, root: str) -> None:
        self.folder = folder
        self.root = os.path.normcase(os.path.abspath(root))
        self.sites: Dict[CodeType, Set[str]] = {}  # code run at import -> importing modules
        self._spawns = _spawn_codes()
        self._in_test = False
        self.outside: Set[CodeType] = set()  # code run outside any test
        self.tests: Dict[str, List[Any]] = {}  # nodeid -> [path, codes, duration, outcome]
        self.fixtures: Dict[int, Set[CodeType]] = {}  # id(fixturedef) -> its setup's code
        self._files: Dict[str, Optional[str]] = {}  # co_filename -> relative path or None
        self._prefixes = tuple(
            os.path.normcase(os.path.abspath(p)) + os.sep
            for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}
        )
        self._outcome: Dict[str, str] = {}
        self._duration: Dict[str, float] = {}
        self.children: Optional[str] = None  # where children report, when they can
        self._tag = ""
        self._number = 0
        self._previous: Optional[str] = None
        self._spawn_calls = 0
        self._uncovered: Optional[str] = None
        self.child_units: Dict[str, List[List[Any]]] = {}  # nodeid -> its children's units
        self._known_places: Optional[Tuple[int, Dict[str, str]]] = None
        if _children_supported():
            # one folder per pytest process: a pytest that a test starts (inheriting the
            # record variable) must not overwrite the root this one's children read
            children = os.path.join(folder, "%s-%d" % (CHILDREN, os.getpid()))
            os.makedirs(children, exist_ok=True)
            with open(os.path.join(children, _child.ROOT_FILE), "w", encoding="utf-8") as out:
                out.write(self.root)
            self.children = children
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=self._forked)
        import subprocess  # nosec B404 - only to recognise its code object

        execute_child = getattr(subprocess.Popen, "_execute_child", None)
        self._execute_child = getattr(execute_child, "__code__", None)
        # os.popen starts its process through Popen: the call there is judged
        self._judged = {self._execute_child, getattr(os.popen, "__code__", None)}
        self.tracer = _new_tracer(  # last: it may call back at once
            self.site, self.watched, self.spawn_seen, self._execute_child
        )

    def watched(self, code: CodeType) -> bool:
        """Whether a tracer must report ``code``: the project's code, or a function that
        starts a process (decided once per code object on 3.12+)."""
        return code in self._spawns or self.relative(code.co_filename) is not None

    # which files count

    def relative(self, filename: str) -> Optional[str]:
        """The POSIX path of ``filename`` under the root, or None when it does not count."""
        known = self._files.get(filename, "")
        if known != "":
            return known
        found: Optional[str] = None
        if filename and not filename.startswith("<"):
            path = os.path.normcase(os.path.abspath(filename))
            if (
                path != _HERE
                and path.startswith(self.root + os.sep)
                and not path.startswith(self._prefixes)
            ):
                parts = path[len(self.root) + 1 :].split(os.sep)
                if not _SKIP_PARTS.intersection(parts):
                    found = "/".join(parts)
        self._files[filename] = found
        return found

    def site(self, code: CodeType, frame: Optional[FrameType]) -> None:
        """Note the module whose top-level code (nearest on the stack) started ``code``."""
        if code.co_name == "<module>" or self.relative(code.co_filename) is None:
            return
        while frame is not None:
            caller = frame.f_code
            if caller.co_name == "<module>":
                path = self.relative(caller.co_filename)
                if path is not None:
                    self.sites.setdefault(code, set()).add(path)
                    return
            frame = frame.f_back

    # test boundaries

    def rearm(self) -> None:
        if not self._in_test:
            self.tracer.rearm()

    def begin_test(self) -> None:
        self.outside |= self.tracer.switch(True)
        self._spawn_calls = 0
        self._uncovered = None
        if self.children is not None:
            self._number += 1
            self._tag = "%d_%d" % (os.getpid(), self._number)
            self._previous = os.environ.get(_child.ENV_CHILD)
            os.environ[_child.ENV_CHILD] = _child.child_value(self._tag, self.children)
        self._in_test = True

    def spawn_seen(self, frame: FrameType) -> None:
        """A ``Popen._execute_child`` call: judge whether its process records itself."""
        if not self._in_test:
            return
        self._spawn_calls += 1
        if self._uncovered is not None:
            return
        if self.children is None:
            self._uncovered = "child processes are not recorded here"
            return
        try:
            value = _child.child_value(self._tag, self.children)
            here = os.path.dirname(os.path.abspath(__file__))
            self._uncovered = _child.spawn_uncovered(frame.f_locals, value, here, os.environ)
        except Exception as error:
            self._uncovered = "cannot be judged (%s)" % type(error).__name__

    def _places(self) -> Dict[str, str]:
        """Where the project's top-level packages live (for the children's imports); kept
        while ``sys.modules`` does not grow."""
        count = len(sys.modules)
        if self._known_places is None or self._known_places[0] != count:
            self._known_places = (count, _child.project_places(self.root, sys.modules))
        return self._known_places[1]

    def _forked(self) -> None:
        """``os.fork`` during a test (unseen otherwise): a marker that nothing reports."""
        try:
            if self._in_test and self.children is not None:
                name = "%s.%d.fork%s" % (self._tag, os.getpid(), _child.STARTED)
                with open(os.path.join(self.children, name), "w", encoding="utf-8"):
                    pass
        except Exception:  # nosec B110 - in a forked child: never raise
            pass

    def _spawned(self, own: Set[CodeType], extra: bool) -> Tuple[bool, List[List[Any]]]:
        """Whether the test's processes ran code out of sight, and the units its children
        recorded (see the module docstring)."""
        if self.children is None:
            return bool(own) or extra, []
        if self._previous is None:
            os.environ.pop(_child.ENV_CHILD, None)
        else:
            os.environ[_child.ENV_CHILD] = self._previous
        why, units, _started = _child.collect(self.children, self._tag, self._places)
        spawned = (
            extra  # a wider-scoped fixture's process: its children reported to one test
            or bool(own - self._judged)  # os.exec*, pty, multiprocessing...
            or (bool(own) and self._spawn_calls == 0)
            or self._uncovered is not None
            or why is not None
        )
        return spawned, ([] if spawned else units)

    def end_test(self, item: pytest.Item) -> None:
        codes = self.tracer.switch(False)
        self._in_test = False
        own = codes.intersection(self._spawns)
        extra_spawn = False
        info = getattr(item, "_fixtureinfo", None)
        definitions = getattr(info, "name2fixturedefs", {}) or {}
        for name in getattr(item, "fixturenames", ()):
            for fixturedef in definitions.get(name, ()):
                extra = self.fixtures.get(id(fixturedef))
                if extra:
                    codes |= extra
                    extra_spawn = extra_spawn or not extra.isdisjoint(self._spawns)
        spawned, child_units = self._spawned(own, extra_spawn)
        where = getattr(item, "path", None)  # no item.fspath: -p no:legacypath removes it
        path = (self.relative(str(where)) if where else None) or item.nodeid.split("::")[0]
        nodeid = item.nodeid
        self.tests[nodeid] = [
            path,
            codes,
            self._duration.pop(nodeid, 0.0),
            self._outcome.pop(nodeid, "passed"),
            spawned,  # started a process whose code is unseen
        ]
        if child_units:
            self.child_units[nodeid] = child_units

    def report(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        self._duration[nodeid] = self._duration.get(nodeid, 0.0) + float(report.duration or 0.0)
        current = self._outcome.get(nodeid, "passed")
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
            if current == "passed" or current == "skipped":
                self._outcome[nodeid] = outcome
        elif report.skipped and current == "passed":
            self._outcome[nodeid] = "skipped"

    def fixture_setup(self, fixturedef: Any) -> Generator[None, Any, None]:
        """Isolate what a wider-scoped fixture's setup runs, so every user gets it."""
        if getattr(fixturedef, "scope", "function") == "function":
            yield
            return
        before = self.tracer.switch(True)
        try:
            yield
        finally:
            mine = self.tracer.switch(True)
            self.fixtures[id(fixturedef)] = mine
            self.tracer.codes |= before | mine

    # output

    def _imported_unseen(self, module_names: Dict[str, Set[str]]) -> List[str]:
        """Add the modules under the root imported before recording began (by a conftest
        loaded first, or a plugin): their code is compiled again to read its names. Returns
        their paths: what their import ran is unknown."""
        early: List[str] = []
        for module in list(sys.modules.values()):
            filename = getattr(module, "__file__", None)
            if not isinstance(filename, str) or not filename.endswith(".py"):
                continue
            path = self.relative(filename)
            if path is None or path in module_names:
                continue
            found = module_names.setdefault(path, set())
            early.append(path)
            try:
                with open(filename, "rb") as handle:
                    pending = [compile(handle.read(), filename, "exec")]
            except Exception:  # changed or gone since: its names stay unknown  # nosec B112
                continue
            while pending:
                code = pending.pop()
                found.update(_reads_of(code))
                pending.extend(
                    c
                    for c in code.co_consts
                    if isinstance(c, CodeType) and not c.co_flags & _CO_OPTIMIZED
                )
        return sorted(early)

    def write(self, interpreter: str, exitstatus: Optional[int] = None) -> str:
        self.outside |= self.tracer.switch(False)
        self.tracer.stop()
        self._in_test = False
        units: List[List[Any]] = []
        index: Dict[CodeType, int] = {}
        module_names: Dict[str, Set[str]] = {}

        def unit_of(code: CodeType) -> Optional[int]:
            found = index.get(code, -2)
            if found != -2:
                return found if found >= 0 else None
            path = self.relative(code.co_filename)
            if path is not None and not code.co_flags & _CO_OPTIMIZED:
                # a module's or a class body's code: what its import-time statements read
                module_names.setdefault(path, set()).update(_reads_of(code))
            qualname = getattr(code, "co_qualname", code.co_name)
            if path is None or qualname == "<module>":
                index[code] = -1
                return None
            last = code.co_firstlineno
            for _start, _end, line in code.co_lines():
                if line is not None and line > last:
                    last = line
            index[code] = len(units)
            units.append([path, qualname, code.co_firstlineno, last, sorted(set(code.co_names))])
            return index[code]

        from_children: Dict[Tuple[str, str, int], int] = {}

        def child_unit(row: List[Any]) -> int:
            key = (str(row[0]), str(row[1]), int(row[2]))
            found = from_children.get(key)
            if found is None:
                found = from_children[key] = len(units)
                units.append([key[0], key[1], key[2], int(row[3]), sorted(map(str, row[4]))])
            return found

        tests = []
        for nodeid, (path, codes, duration, outcome, spawned) in self.tests.items():
            found = {u for u in map(unit_of, codes) if u is not None}
            found.update(map(child_unit, self.child_units.get(nodeid, ())))
            ids = sorted(found)
            tests.append([nodeid, path, ids, round(duration, 6), outcome, int(spawned)])
        outside = sorted({u for u in map(unit_of, self.outside) if u is not None})
        sites = []
        for code, paths in self.sites.items():
            unit = unit_of(code)
            if unit is not None:
                sites.append([unit, sorted(paths)])
        early = self._imported_unseen(module_names)
        read_at_import = [[path, sorted(found)] for path, found in sorted(module_names.items())]
        data = {
            "format": FORMAT,
            "interpreter": interpreter,
            "root": self.root,
            "units": units,
            "tests": tests,
            "import_units": outside,
            "import_sites": sorted(sites),
            "module_names": read_at_import,
            "early_files": early,
            "exitstatus": exitstatus,  # None: the session did not finish (pytest_unconfigure)
        }
        os.makedirs(self.folder, exist_ok=True)
        target = os.path.join(self.folder, "map-%d.json" % os.getpid())
        temp = target + ".tmp"
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(temp, target)
        return target


def interpreter_id() -> str:
    """``"3.12.4 /path/python3.12"``: what a map was recorded with: the version and the real
    path of the base interpreter, so that a virtual environment made anew for every run (the
    job venv of ``amoskys run``'s ``setup-python``) keeps finding its maps. Must equal what
    :func:`amoskys.select.runner.interpreter_of` prints."""
    version = "%d.%d.%d" % sys.version_info[:3]
    base = getattr(sys, "_base_executable", "") or sys.executable
    return "%s %s" % (version, os.path.realpath(base))


def _recorder(config: pytest.Config) -> Optional[Recorder]:
    found: Optional[Recorder] = getattr(config, _RECORDER_ATTR, None)
    return found


def _start(config: pytest.Config) -> None:
    folder = os.environ.get(ENV_RECORD, "")
    if not folder or _recorder(config) is not None:
        return
    namespace = getattr(config, "known_args_namespace", None)
    if os.environ.get("PYTEST_XDIST_WORKER") is None and getattr(
        namespace, "numprocesses", None
    ) not in (None, 0, "0"):
        _warn(folder, "not recording: tests run in pytest-xdist workers (-n)")
        return
    try:
        root = str(config.rootpath)
        setattr(config, _RECORDER_ATTR, Recorder(os.path.abspath(folder), root))
    except Exception as error:
        _warn(folder, "not recording: %s: %s" % (type(error).__name__, error))


if hasattr(sys, "monitoring"):

    @pytest.hookimpl(tryfirst=True)
    def pytest_load_initial_conftests(
        early_config: pytest.Config, parser: pytest.Parser, args: List[str]
    ) -> None:
        # 3.12+: sys.monitoring shares nothing with coverage.py's tracer, so start before the
        # initial conftests import the project (what their imports run is recorded)
        _start(early_config)

else:

    @pytest.hookimpl(trylast=True)
    def pytest_load_initial_conftests(
        early_config: pytest.Config, parser: pytest.Parser, args: List[str]
    ) -> None:
        # 3.11, trylast: after the probe started coverage.py, so that we see its tracer and
        # use sys.setprofile beside it (modules the initial conftests imported are written
        # as "early_files": what their import ran is unknown)
        _start(early_config)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    _start(config)  # when initial conftests were not loaded through us (plugin given late)
    _controller_start(config)


_controller: Dict[str, Any] = {}  # an xdist controller's view of its workers' selection


def _is_xdist_controller(config: pytest.Config) -> bool:
    namespace = getattr(config, "known_args_namespace", None)
    workers = getattr(getattr(config, "option", None), "numprocesses", None)
    if workers is None:
        workers = getattr(namespace, "numprocesses", None)
    return os.environ.get("PYTEST_XDIST_WORKER") is None and workers not in (None, 0, "0")


def _controller_start(config: pytest.Config) -> None:
    """Under pytest-xdist only the workers collect (and select); the controller decides the
    exit status and runs pytest-cov's threshold, so it applies ``empty_ok`` and
    ``no_fail_under`` itself."""
    path = os.environ.get(ENV_SELECT, "")
    if not path or not _is_xdist_controller(config):
        return
    try:
        with open(path, encoding="utf-8") as handle:
            wanted = json.load(handle)
    except (OSError, ValueError):
        return  # the workers say so
    expected = wanted.get("interpreter")
    if (expected and expected != interpreter_id()) or not _same_root(config, wanted):
        return
    _controller.clear()
    _controller.update(
        empty_ok=bool(wanted.get("empty_ok")),
        results=os.path.dirname(str(wanted.get("result") or "")),
        since=time.time(),
    )
    if wanted.get("no_fail_under"):
        _no_fail_under(config)


def _same_root(config: pytest.Config, wanted: Dict[str, Any]) -> bool:
    """Whether this pytest's rootdir is the one the selection was made for (when it says)."""
    root = wanted.get("root")
    if not root:
        return True

    def real(path: str) -> str:
        return os.path.normcase(os.path.realpath(path))

    return real(str(config.rootpath)) == real(str(root))


def _workers_selected_none() -> bool:
    """Whether this session's workers wrote selection results, all with no test kept."""
    folder = _controller.get("results")
    if not folder:
        return False
    found = False
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    for name in names:
        if not (name.startswith("selected-") and name.endswith(".json")):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue
        if float(data.get("time", 0)) < _controller["since"]:
            continue  # an earlier pytest of the same step
        if data.get("selected"):
            return False
        found = True
    return found


def pytest_collectstart(collector: pytest.Collector) -> None:
    recorder = _recorder(collector.config)
    if recorder is not None and isinstance(collector, pytest.Module):
        recorder.rearm()  # so that each test module's import reports what it runs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Optional[pytest.Item]) -> Any:
    recorder = _recorder(item.config)
    if recorder is None:
        yield
        return
    recorder.begin_test()
    try:
        yield
    finally:
        try:
            recorder.end_test(item)
        except Exception as error:
            _warn(recorder.folder, "test %s not recorded: %s" % (item.nodeid, error))


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Any:
    recorder = _recorder(request.config)
    if recorder is None:
        yield
        return
    yield from recorder.fixture_setup(fixturedef)


_current: Optional[Recorder] = None  # reports do not carry their config
_result: Dict[str, Any] = {}  # what the selection wrote, completed with the failures at the end


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _current is not None:
        _current.report(report)
    if report.failed and _result:
        failed = _result.setdefault("failed", [])
        if report.nodeid not in failed:
            failed.append(report.nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _current
    _wanted.clear()
    _current = _recorder(session.config)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    _finish(session.config, exitstatus)
    if _result.get("empty_ok") and not _result.get("selected") and _is_no_tests(exitstatus):
        session.exitstatus = 0  # everything was deselected on purpose
    elif _controller.get("empty_ok") and _is_no_tests(exitstatus) and _workers_selected_none():
        session.exitstatus = 0  # the same, decided in pytest-xdist's workers
    if _result.get("path"):
        try:
            _write_result()
        except Exception as error:
            _warn(None, "selection result not written: %s" % error)


def _is_no_tests(exitstatus: Any) -> bool:
    return int(exitstatus) == int(pytest.ExitCode.NO_TESTS_COLLECTED)


def _write_result() -> None:
    with open(_result["path"], "w", encoding="utf-8") as handle:
        json.dump({k: v for k, v in _result.items() if k not in ("path", "empty_ok")}, handle)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    _finish(config)


def _finish(config: pytest.Config, exitstatus: Any = None) -> None:
    global _current
    recorder = _recorder(config)
    if recorder is None:
        return
    setattr(config, _RECORDER_ATTR, None)
    _current = None
    try:
        recorder.write(interpreter_id(), None if exitstatus is None else int(exitstatus))
    except Exception as error:
        _warn(recorder.folder, "map not written: %s: %s" % (type(error).__name__, error))


# -- selection ----------------------------------------------------------------------------------


_ALWAYS_COLLECT = frozenset({"conftest.py", "__init__.py"})


def _selection() -> Optional[Dict[str, Any]]:
    """The selection file's content (read once), or None when no selection runs."""
    path = os.environ.get(ENV_SELECT, "")
    if not path:
        return None
    if _wanted.get("path") != path:
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as error:
            raise pytest.UsageError(
                "amoskys: cannot read the test selection %s: %s" % (path, error)
            )
        _wanted.clear()
        _wanted.update(path=path, data=data)
    found: Dict[str, Any] = _wanted["data"]
    return found


_wanted: Dict[str, Any] = {}


def _file_of(root: str, nodeid: str) -> str:
    return os.path.normcase(os.path.join(root, nodeid.split("::", 1)[0]))


def skipped_files(root: str, wanted: Dict[str, Any]) -> FrozenSet[str]:
    """Absolute, normalised paths of the files the selection need not collect (see the
    module docstring): known to the map, none of their tests kept, not changed."""
    if not wanted.get("files"):
        return frozenset()
    keep = {_file_of(root, n) for n in wanted.get("keep", ())}
    changed = {os.path.normcase(os.path.abspath(p)) for p in wanted.get("changed", ())}
    known = {_file_of(root, n) for n in wanted.get("known", ())}
    return frozenset(known - keep - changed)


def _applicable(config: pytest.Config) -> Optional[Dict[str, Any]]:
    """The selection when it is for this pytest: its interpreter and its rootdir (a pytest
    that a test started inherits the variable but is not the step's); else None."""
    wanted = _selection()
    if wanted is None:
        return None
    expected = wanted.get("interpreter")
    if expected and expected != interpreter_id():
        if not _wanted.get("warned"):
            _wanted["warned"] = True
            _warn(
                None,
                "the test selection was made for %s, not %s: every test runs"
                % (expected, interpreter_id()),
            )
        return None
    if not _same_root(config, wanted):
        return None
    return wanted


def _ignore(path: str, config: pytest.Config) -> Optional[bool]:
    """True for a file the selection need not collect; None lets pytest decide."""
    wanted = _applicable(config)
    if wanted is None or not wanted.get("files"):
        return None
    if "skip" not in _wanted:
        root = str(config.rootpath)
        _wanted["skip"] = skipped_files(root, wanted)
        _wanted["keep"] = frozenset(_file_of(root, n) for n in wanted.get("keep", ()))
    name = os.path.normcase(os.path.abspath(path))
    if os.path.basename(name) in _ALWAYS_COLLECT:
        return None
    if name in _wanted["skip"]:
        return True
    if not wanted.get("new", True) and name not in _wanted["keep"] and os.path.isfile(name):
        return True  # another shard runs the new tests: this one keeps to its own files
    return None


if getattr(pytest, "version_tuple", (0,)) >= (7,):  # ``collection_path`` came with pytest 7

    def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> Optional[bool]:
        """Skip the files no kept test lives in (``"files": true``)."""
        return _ignore(str(collection_path), config)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: List[pytest.Item]
) -> None:
    wanted = _applicable(config)
    if wanted is None:
        return
    apply_selection(config, items, wanted)
    if wanted.get("no_fail_under"):
        _no_fail_under(config)


def _no_fail_under(config: pytest.Config) -> None:
    """Switch off pytest-cov's coverage threshold for this (selected) session."""
    plugin = config.pluginmanager.get_plugin("_cov")
    options = getattr(plugin, "options", None)
    threshold = getattr(options, "cov_fail_under", None)
    if options is not None and threshold:
        options.cov_fail_under = 0
        _warn(
            None,
            "a test selection ran: pytest-cov's fail-under (%s%%) is not applied to the "
            "coverage of a subset" % threshold,
        )


def apply_selection(
    config: pytest.Config, items: List[pytest.Item], wanted: Dict[str, Any]
) -> None:
    """Keep, order and deselect ``items`` in place as ``wanted`` says (see the docstring)."""
    known = set(wanted.get("known", ()))
    rank = {nodeid: n for n, nodeid in enumerate(wanted.get("keep", ()))}
    failures = set(wanted.get("failures", ()))
    with_new = bool(wanted.get("new", True))
    first: List[Any] = []
    new: List[pytest.Item] = []
    rest: List[Any] = []
    dropped: List[pytest.Item] = []
    for item in items:
        nodeid = item.nodeid
        if nodeid in rank:
            (first if nodeid in failures else rest).append((rank[nodeid], item))
        elif nodeid not in known and with_new:
            new.append(item)
        else:
            dropped.append(item)
    first.sort(key=lambda pair: pair[0])
    rest.sort(key=lambda pair: pair[0])
    kept = [i for _, i in first] + new + [i for _, i in rest]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept
    result = wanted.get("result")
    if result:
        _result.clear()
        _result.update(
            path=str(result).replace("{pid}", str(os.getpid())),
            empty_ok=bool(wanted.get("empty_ok")),
            selected=len(kept),
            new=[i.nodeid for i in new],
            ran=[i.nodeid for i in kept],
            deselected=len(dropped),
            failed=[],
            time=time.time(),
        )
        _write_result()
