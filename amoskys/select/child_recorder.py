"""What a test's child Python processes run: recorded in the child, judged in the parent.

Standalone on purpose, like :mod:`amoskys.select.recorder_plugin`: Amoskys copies this file as
``amoskys_select_child.py`` next to the plugin and a ``sitecustomize.py``
(:mod:`amoskys.select.site_hook`) into the folder it puts on the tests' ``PYTHONPATH``. It
imports only the standard library (no pytest: it runs in every Python a test starts) and keeps
to Python 3.8 syntax; it records only on 3.11+ (``co_qualname``), older children say
"uncovered".

The protocol. While a test runs, the plugin sets ``AMOSKYS_SELECT_CHILD=<token>:<folder>``
(:func:`child_value`); children inherit it. A Python child whose ``sitecustomize`` is ours sees
it and calls :func:`start`: it writes ``<folder>/<token>.<pid>.<ns>.started`` at once, records
the code objects of the project it runs (files under the root written in ``<folder>/root``,
not in its own ``sys.prefix``, a virtual environment or this folder) and at exit writes
``<token>.<pid>.<ns>.json``: ``{"uncovered": null or why, "units": [...]}``. A child that
dies first (SIGKILL, ``os._exit``, still running) leaves a marker without a report. After the
test the plugin reads them (:func:`merge_reports`): the test counts as having run the
children's units only when every marker has a report that is not "uncovered".

A spawn is *covered* (:func:`spawn_uncovered` returns None) when it goes through
``subprocess.Popen._execute_child``, its environment carries this very variable and a
``PYTHONPATH`` whose first entry holding a ``sitecustomize`` is our folder, and no word of
its arguments, executable or the program's ``#!`` line could disable ``site``/``PYTHONPATH``
or clear the environment (:func:`risky_words`). Every other way of starting a process is
*uncovered*, and so is a child whose own spawns are. A child's report is also refused when
it imported one of the project's top-level names from outside the project's own place (an
installed copy, a build folder: :func:`foreign_copy`), and on 3.11, where it records with
``sys.settrace``, when another trace function was set meanwhile (calls were hidden).
"""

from __future__ import annotations

import json
import os
import sys
from types import CodeType, FrameType
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Set, Tuple

ENV_CHILD = "AMOSKYS_SELECT_CHILD"
ROOT_FILE = "root"
STARTED = ".started"
REPORT = ".json"
MODULE = "<module>"
"""The qualname of a file's pseudo-unit: its module-level code ran in a child."""

_HERE = os.path.normcase(os.path.dirname(os.path.abspath(__file__)))
_SKIP_PARTS = frozenset({"site-packages", "dist-packages", ".amoskys", ".tox", ".nox", ".venv"})
_CO_OPTIMIZED = 0x0001
_TOOLS = (5, 4, 3)  # sys.monitoring ids: not the debugger's, coverage.py's or cProfile's
# Programs that may start a Python without our variable or PYTHONPATH.
_CLEARING = frozenset(
    {"env", "sudo", "su", "doas", "ssh", "docker", "podman", "unset", "runuser", "chroot"}
    | {"setpriv", "systemd-run", "flatpak", "firejail", "bwrap", "nsenter", "unshare"}
)
# Where a word starts in a command line or a shell string.
_STARTS = " \t\n\r'\"=;&|()`<>"
_SPAWN_FILES = ("os.py", "pty.py", "popen_fork.py", "popen_spawn_posix.py", "popen_forkserver.py")
_SPAWN_NAMES = frozenset(
    {"execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "spawn", "fork", "_launch"}
)


def child_value(token: str, folder: str) -> str:
    """The variable's value for one test: ``<token>:<folder>`` (a token holds no colon)."""
    return "%s:%s" % (token, folder)


def parse_value(value: str) -> Optional[Tuple[str, str]]:
    """``(token, folder)`` from :func:`child_value`'s form, or None."""
    token, colon, folder = value.partition(":")
    if not colon or not token or not folder:
        return None
    return token, folder


# -- which spawns are covered (pure but for reading a #! line) ---------------------------------


def _words(text: str) -> List[str]:
    """The words of ``text`` as a shell would split it, roughly (quotes are separators)."""
    out: List[str] = []
    current: List[str] = []
    for char in text:
        if char in _STARTS:
            if current:
                out.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        out.append("".join(current))
    return out


def risky_words(texts: Iterable[str]) -> List[str]:
    """The words of ``texts`` (arguments, shell strings, a ``#!`` line) that could start a
    Python that does not record itself: a short-flag cluster with ``I``, ``E`` or ``S``
    (``-I``, ``-E``, ``-S``, ``-IS``, also ``grep -E``: conservative), a program that may clear
    the environment (``env`` followed by an option, ``sudo``, ``ssh``, ``docker``...), or a
    word naming ``PYTHONPATH`` or our variable. The words of all ``texts`` are read as one
    command line."""
    found: List[str] = []
    words = [word for text in texts for word in _words(text)]  # `env`, `-i`: two arguments
    for number, word in enumerate(words):
        if len(word) > 1 and word[0] == "-" and word[1] != "-":
            if any(flag in word[1:] for flag in "IES"):
                found.append(word)
        elif os.path.basename(word) == "env":
            # `env python3` (a #! line) keeps the environment; `env -i`, `-u` do not
            after = words[number + 1] if number + 1 < len(words) else ""
            if after.startswith("-"):
                found.append(word)
        elif os.path.basename(word) in _CLEARING:
            found.append(word)
        elif "PYTHONPATH" in word or ENV_CHILD in word:
            found.append(word)
    return found


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return os.fsdecode(value)
    if isinstance(value, os.PathLike):
        return _text(os.fspath(value))
    return str(value)


def _get(env: Mapping[Any, Any], name: str) -> Optional[str]:
    value = env.get(name)
    if value is None:
        value = env.get(name.encode())
    return None if value is None else _text(value)


_SCRIPT_LIMIT = 256 * 1024
_SHELL_SUFFIXES = (".sh", ".bash", ".zsh", ".ksh")
TOO_BIG = "-I  (a script too big to read)"  # a risky word of its own


def _script(path: str, whole: bool) -> str:
    """What of the file ``path`` could start a Python that does not record itself: a
    script's ``#!`` line, and when ``whole`` or the script is not Python's, all of it (its
    commands run out of our sight); "" for anything else."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
            if head != b"#!" and not whole:
                return ""  # a binary: read no further
            head += handle.read(_SCRIPT_LIMIT - 1)
    except OSError:
        return ""
    first = head.split(b"\n", 1)[0]
    if not head.startswith(b"#!") and not whole:
        return ""
    if head.startswith(b"#!") and b"python" in first and not whole:
        return first.decode("utf-8", "replace")  # a Python records itself
    if len(head) > _SCRIPT_LIMIT:
        return TOO_BIG
    return head.decode("utf-8", "replace")


def _program(program: str, path: Optional[str], cwd: Optional[str]) -> str:
    """The file that runs as ``program`` (looked up on ``path`` when it names no folder)."""
    if not program:
        return ""
    if os.sep not in program:
        import shutil

        return shutil.which(program, path=path) or ""
    if not os.path.isabs(program) and cwd is not None:
        return os.path.join(cwd, program)
    return program


def _scripts(texts: List[str], program: str, path: Optional[str], cwd: Optional[str]) -> List[str]:
    """The scripts a spawn runs: its program when that is a script, and every word of its
    arguments that names a shell script (``bash run.sh``, ``sh -c ./run.sh``)."""
    found = [_script(_program(program, path, cwd), False)] if program else []
    for text in texts:
        for word in _words(text):
            if word.endswith(_SHELL_SUFFIXES):
                where = word if os.path.isabs(word) or cwd is None else os.path.join(cwd, word)
                if os.path.isfile(where):
                    found.append(_script(where, True))
    return found


def pythonpath_reaches(pythonpath: Optional[str], folder: str) -> bool:
    """Whether a Python started with ``pythonpath`` imports our ``sitecustomize``: ``folder``
    is on it, and no entry before it is relative or holds a ``sitecustomize`` of its own."""
    if not pythonpath:
        return False
    want = os.path.normcase(os.path.abspath(folder))
    for entry in pythonpath.split(os.pathsep):
        if not entry:
            continue
        if not os.path.isabs(entry):
            return False
        if os.path.normcase(os.path.abspath(entry)) == want:
            return True
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        if any(name.startswith("sitecustomize") for name in names):
            return False
    return False


def spawn_uncovered(
    frame_locals: Mapping[str, Any], value: str, folder: str, environ: Mapping[str, str]
) -> Optional[str]:
    """Why a ``Popen._execute_child`` call (its locals at the start) may start a Python that
    does not record itself into this test's ``value``, or None when it is covered."""
    env = frame_locals.get("env")
    chosen: Mapping[Any, Any] = environ if env is None else env
    if _get(chosen, ENV_CHILD) != value:
        return "its environment does not carry %s" % ENV_CHILD
    if not pythonpath_reaches(_get(chosen, "PYTHONPATH"), folder):
        return "its PYTHONPATH does not reach Amoskys's sitecustomize first"
    args = frame_locals.get("args")
    texts: List[str] = []
    if isinstance(args, (str, bytes, os.PathLike)):
        texts.append(_text(args))
    elif isinstance(args, (list, tuple)):
        texts.extend(_text(a) for a in args)
    else:  # an iterator: reading it here would take it from the real call
        return "its arguments are a %s" % type(args).__name__
    executable = frame_locals.get("executable")
    if executable is not None:
        texts.append(_text(executable))
    program = ""
    if not frame_locals.get("shell"):
        program = _text(executable) if executable is not None else (texts[0] if texts else "")
    cwd = frame_locals.get("cwd")
    texts.extend(
        _scripts(texts, program, _get(chosen, "PATH"), None if cwd is None else _text(cwd))
    )
    if any("$" in text for text in texts):  # a shell may expand flags from the environment
        texts.extend(_text(value) for value in chosen.values())
    risky = risky_words(texts)
    if risky:
        return "its command line holds %s" % ", ".join(repr(w) for w in risky[:3])
    return None


def is_execute_child(code: CodeType) -> bool:
    return code.co_name == "_execute_child" and code.co_filename.endswith("subprocess.py")


def is_other_spawn(code: CodeType) -> bool:
    """``os.exec*``, ``pty`` and ``multiprocessing`` launchers (uncovered; ``os.popen`` starts
    its process through ``Popen``, where it is judged)."""
    return code.co_name in _SPAWN_NAMES and os.path.basename(code.co_filename) in _SPAWN_FILES


# -- the parent's side: the reports of one test's children -------------------------------------


def project_places(root: str, modules: Mapping[str, Any]) -> Dict[str, str]:
    """Where the project's top-level packages and modules live (absolute, normalised): the
    packages under ``root`` and ``root/src``, the ``.py`` files of ``root/src``, and the
    top-level names of ``modules`` (``sys.modules``) loaded from under ``root``."""
    root = os.path.normcase(os.path.abspath(root))
    prefixes = tuple(
        os.path.normcase(os.path.abspath(p)) + os.sep
        for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}
    )
    places: Dict[str, str] = {}
    for name, module in list(modules.items()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or name in ("__main__", "conftest"):
            continue
        path = os.path.normcase(os.path.abspath(filename))
        if not path.startswith(root + os.sep) or path.startswith(prefixes):
            continue
        if _SKIP_PARTS.intersection(path[len(root) + 1 :].split(os.sep)):
            continue  # a virtual environment's packages are not the project's
        parts = name.split(".")
        if os.path.basename(path).startswith("__init__."):
            path = os.path.dirname(path)
        for _ in parts[1:]:
            path = os.path.dirname(path)
        if os.path.splitext(os.path.basename(path))[0] == parts[0]:
            places.setdefault(parts[0], path)
    for base in (root, os.path.join(root, "src")):
        try:
            entries = os.listdir(base)
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(base, entry)
            if os.path.isfile(os.path.join(path, "__init__.py")):
                places.setdefault(entry, path)
            elif base != root and entry.endswith(".py"):
                places.setdefault(entry[:-3], path)
    return places


def foreign_copy(modules: Iterable[Any], places: Mapping[str, str]) -> Optional[str]:
    """The first ``[name, file]`` a child imported under a name of the project's from
    elsewhere (an installed copy, a build folder), said as a reason, or None."""
    for name, filename in modules:
        top = str(name).split(".", 1)[0]
        place = places.get(top)
        if place is None:
            continue
        path = os.path.normcase(os.path.abspath(str(filename)))
        if path != place and not path.startswith(place + os.sep):
            return "imported %s from %s, not from the project's %s" % (name, filename, place)
    return None


def merge_reports(
    started: Iterable[str],
    reports: Mapping[str, Optional[Mapping[str, Any]]],
    places: Optional[Callable[[], Mapping[str, str]]] = None,
) -> Tuple[Optional[str], List[List[Any]]]:
    """``(why not accounted for, units)`` for one test: ``started`` are the stems of its
    markers, ``reports`` what each stem's report holds (None: unreadable). Accounted for
    (None) only when every started child wrote a readable report that is not "uncovered"
    and (given ``places``: :func:`project_places`) imported no copy of the project's code
    from elsewhere (what a copy runs is not the project's files, but changes with them)."""
    units: List[List[Any]] = []
    for stem in sorted(set(started) | set(reports)):
        if stem not in reports:
            return "a child process ended without a report (killed, os._exit, still running)", []
        report = reports[stem]
        if not isinstance(report, Mapping):
            return "a child process's report cannot be read", []
        why = report.get("uncovered")
        if why:
            return "a child process %s" % why, []
        if places is not None and report.get("modules"):
            copy = foreign_copy(report.get("modules", ()), places())
            if copy is not None:
                return "a child process %s" % copy, []
        units.extend(list(u) for u in report.get("units", ()))
    return None, units


def collect(
    folder: str, token: str, places: Optional[Callable[[], Mapping[str, str]]] = None
) -> Tuple[Optional[str], List[List[Any]], bool]:
    """Read and remove ``token``'s markers and reports in ``folder``: :func:`merge_reports`'s
    answer and whether any child started at all."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(token + ".")]
    except OSError:
        return None, [], False
    if not names:
        return None, [], False
    started: Set[str] = set()
    reports: Dict[str, Optional[Mapping[str, Any]]] = {}
    for name in names:
        path = os.path.join(folder, name)
        if name.endswith(STARTED):
            started.add(name[: -len(STARTED)])
        elif name.endswith(REPORT):
            try:
                with open(path, encoding="utf-8") as handle:
                    reports[name[: -len(REPORT)]] = json.load(handle)
            except (OSError, ValueError):
                reports[name[: -len(REPORT)]] = None
        else:
            continue  # a report being written (.tmp): its marker has no report yet
        try:
            os.remove(path)
        except OSError:
            pass
    why, units = merge_reports(started, reports, places)
    return why, units, True


# -- the child's side --------------------------------------------------------------------------


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


def reads_of(code: CodeType) -> Set[str]:
    """The names module or class-body code reads (as the plugin's ``_reads_of``)."""
    import dis

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


def unit_of(code: CodeType, path: str) -> List[Any]:
    """A unit row ``[path, qualname, first, last, names]``; a module's code becomes the
    pseudo-unit ``<module>`` (line 0) whose names are what its statements read."""
    last = code.co_firstlineno
    for _start, _end, line in code.co_lines():
        if line is not None and line > last:
            last = line
    qualname = getattr(code, "co_qualname", code.co_name)
    if qualname == MODULE:
        return [path, MODULE, 0, last, sorted(reads_of(code))]
    return [path, qualname, code.co_firstlineno, last, sorted(set(code.co_names))]


class ChildRecorder:
    """Records one child process (see the module docstring); :meth:`finish` runs at exit."""

    def __init__(self, value: str, token: str, folder: str, root: str) -> None:
        self.value = value
        self.token = token
        self.folder = folder
        self.root = os.path.normcase(os.path.abspath(root))
        self.uncovered: Optional[str] = None
        self.codes: Set[CodeType] = set()
        self._files: Dict[str, Optional[str]] = {}
        self._prefixes = tuple(
            os.path.normcase(os.path.abspath(p)) + os.sep
            for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}
        )
        self.stem = ""
        self._tool: Optional[int] = None
        self._trace: Optional[Callable[..., Any]] = None
        self._settrace: Callable[[Any], None] = sys.settrace

    def relative(self, filename: str) -> Optional[str]:
        known = self._files.get(filename, "")
        if known != "":
            return known
        found: Optional[str] = None
        if filename and not filename.startswith("<"):
            path = os.path.normcase(os.path.abspath(filename))
            if (
                path.startswith(self.root + os.sep)
                and not path.startswith(self._prefixes)
                and os.path.dirname(path) != _HERE
            ):
                parts = path[len(self.root) + 1 :].split(os.sep)
                if not _SKIP_PARTS.intersection(parts):
                    found = "/".join(parts)
        self._files[filename] = found
        return found

    def mark(self) -> None:
        """A new marker for this process (at start, and in a forked child)."""
        self.stem = os.path.join(self.folder, "%s.%d.%d" % (self.token, os.getpid(), _now_ns()))
        with open(self.stem + STARTED, "w", encoding="utf-8"):
            pass

    def spawn(self, frame: FrameType) -> None:
        if self.uncovered is None:
            try:
                why = spawn_uncovered(frame.f_locals, self.value, _HERE, os.environ)
            except Exception as error:  # judge it uncovered
                why = "cannot be judged (%s)" % type(error).__name__
            if why is not None:
                self.uncovered = "started a process: %s" % why

    def first(self, code: CodeType) -> None:
        if self.relative(code.co_filename) is not None:
            self.codes.add(code)
        elif is_other_spawn(code) and self.uncovered is None:
            self.uncovered = "started a process through %s" % code.co_name

    def start(self) -> None:
        early = [
            name
            for name in (getattr(m, "__file__", None) for m in list(sys.modules.values()))
            if isinstance(name, str) and self.relative(name) is not None
        ]
        if early:
            self.uncovered = "imported project code before recording began"
        if sys.version_info < (3, 11):
            self.uncovered = self.uncovered or "runs Python %d.%d" % sys.version_info[:2]
            return
        if hasattr(sys, "monitoring"):
            self._start_monitoring()
        else:
            self._start_trace()

    def _start_monitoring(self) -> None:
        monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        free = [t for t in _TOOLS if monitoring.get_tool(t) is None]
        if not free:
            self.uncovered = "had no free sys.monitoring tool id"
            return
        tool = self._tool = free[0]
        monitoring.use_tool_id(tool, "amoskys-select-child")
        disable = monitoring.DISABLE
        getframe = sys._getframe
        first = self.first
        spawn = self.spawn

        def started(code: CodeType, offset: int) -> Any:
            if code.co_name == "_execute_child" and is_execute_child(code):
                spawn(getframe(1))
                return None  # every call is judged
            first(code)
            return disable

        monitoring.register_callback(tool, monitoring.events.PY_START, started)
        monitoring.set_events(tool, monitoring.events.PY_START)

    def _start_trace(self) -> None:
        seen: Set[CodeType] = set()
        judged: Set[CodeType] = set()
        first = self.first
        spawn = self.spawn

        def trace(frame: FrameType, event: str, arg: Any) -> None:
            code = frame.f_code
            if code not in seen:
                seen.add(code)
                if is_execute_child(code):
                    judged.add(code)
                else:
                    first(code)
            if code in judged:
                spawn(frame)

        import threading

        original = sys.settrace

        def settrace(function: Any) -> None:
            # Another trace function (a debugger, coverage.py) means calls we do not see:
            # also when ours comes back (it was replaced in C meanwhile, or will be again).
            current = sys.gettrace()
            if function is not trace or (current is not None and current is not trace):
                if self.uncovered is None:
                    self.uncovered = "set another trace function (which hides calls from ours)"
            original(function)

        self._trace = trace
        self._settrace = original
        original(trace)
        threading.settrace(trace)
        sys.settrace = settrace

    def finish(self) -> None:
        """Write the report (``atexit``)."""
        if self._tool is not None:
            monitoring = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
            monitoring.set_events(self._tool, 0)
        elif self._trace is not None:
            if sys.gettrace() is not self._trace and self.uncovered is None:
                self.uncovered = "replaced the trace function that recorded it"
            self._settrace(None)
        units: List[List[Any]] = []
        if self.uncovered is None:
            for code in list(self.codes):
                path = self.relative(code.co_filename)
                if path is not None:
                    units.append(unit_of(code, path))
        data = {"uncovered": self.uncovered, "units": units, "modules": self.modules()}
        temp = self.stem + ".tmp"
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(temp, self.stem + REPORT)

    def modules(self) -> List[List[str]]:
        """``[name, file]`` of the modules loaded from files that are not this Python's
        standard library (the parent checks that the project's names come from the project)."""
        found: List[List[str]] = []
        for name, module in list(sys.modules.items()):
            filename = getattr(module, "__file__", None)
            if not isinstance(filename, str) or name == "__main__":
                continue
            path = os.path.normcase(os.path.abspath(filename))
            if path.startswith(self._prefixes) and not _SKIP_PARTS.intersection(path.split(os.sep)):
                continue  # the standard library
            found.append([name, path])
        return found

    def forked(self) -> None:
        """In a forked child: its own marker (it reports at exit, or stays unreported)."""
        try:
            self.mark()
        except Exception:  # nosec B110 - without a marker nothing is claimed
            pass


def _now_ns() -> int:
    import time

    return time.time_ns()


def start(value: str) -> Optional[ChildRecorder]:
    """Start recording this process for the test named in ``value`` (from ``sitecustomize``)."""
    parsed = parse_value(value)
    if parsed is None:
        return None
    token, folder = parsed
    recorder = ChildRecorder(value, token, folder, "")
    recorder.mark()  # first: whatever fails next, the test stays "spawned"
    import atexit

    atexit.register(_finish, recorder)
    try:
        with open(os.path.join(folder, ROOT_FILE), encoding="utf-8") as handle:
            recorder.root = os.path.normcase(os.path.abspath(handle.read().strip()))
    except OSError:
        recorder.uncovered = "cannot read the project's root"
        return recorder
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=recorder.forked)
    try:
        recorder.start()
    except Exception as error:
        recorder.uncovered = "could not record (%s)" % type(error).__name__
    return recorder


def _finish(recorder: ChildRecorder) -> None:
    try:
        recorder.finish()
    except Exception:  # nosec B110 - the marker without a report keeps the test "spawned"
        pass
