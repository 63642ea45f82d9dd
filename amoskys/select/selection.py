"""Which recorded tests a change can affect, in which order to run them, and why.

Pure: the map, the changed files and the settings in, a :class:`Selection` out. The rules:

* **Run everything** when the change touches what the map cannot see: a ``conftest.py``;
  pytest or coverage configuration (``pytest.ini``, ``.coveragerc``, the pytest and coverage
  sections of ``tox.ini``, ``setup.cfg`` and ``pyproject.toml``, compared by parsed content);
  requirements, constraints and lock files, ``setup.py`` and the dependency tables of
  ``pyproject.toml``/``setup.cfg``; a non-Python file under the package or test paths that
  ``data`` globs do not declare; a deleted or renamed Python file; another interpreter, or
  other packages installed for it (``amoskys test``; a step's venv in ``amoskys run`` is
  built from its requirement files, whose change already runs everything).
* Otherwise select the tests that ran a **changed function** (or code nested in it: lambdas,
  comprehensions, inner functions). A changed default value or annotation counts as a change
  of that function (only its calls can see it).
* A **module-level** change (constants, class attributes, decorators, imports, parametrize
  data): every test that ran code of that file (``module-level = "names"``: only when the
  change may act beyond the names it binds), plus every test that ran code reading a name the
  change binds, following the names through the module's own import-time statements
  (``B = A + 1``). Adding or removing an undecorated function reaches only the readers of its
  name (a new method that overrides an inherited one is read under that name).
* A changed function that ran at **import time** (outside any test): the tests of the test
  file whose import ran it (parametrize data), or a module-level change of the source file
  that ran it, or - when the map does not say where - of its own file with every name.
* In a changed **test file**: its tests whose code changed, all its tests for a module-level
  change that is not only added functions. Tests that **started a process** whose code is
  not accounted for run on any change of a non-test Python file. A test's **child Python
  processes** that record themselves (every process it started is covered: see
  :mod:`amoskys.select.child_recorder`) are not such a start: what they ran is in the test's
  units, functions as usual and, per file whose module-level code a child ran, a pseudo-unit
  ``<module>`` (line 0, its names: what that module code reads). It is reached by the
  module-level rules ("ran code of <file>", "reads a changed name") and never by a function
  change (no function is called ``<module>``). Tests that **failed** when the map
  was recorded or recently always run; **new** tests (not in the map) are kept by the plugin.
* Tests that were **skipped** when recorded ran little or no code, but their skip condition
  (``skipif(WIN)``) was computed at import time: they run on a module-level change of a
  Python file that was imported while recording (or is new), any change of a function that
  ran at import and any change of a declared data file, besides what they ran.
* Code that **ran at import** and reads a changed name (a generator expression in
  ``STEPS = tuple(...)``): the tests of the module whose import ran it. A function of a file
  imported before recording began (``early``: by an initial conftest on 3.11) counts as
  having run at import.
* A changed **data file** (declared in ``data``): the tests that ran code of the Python files
  in the nearest folder at or above it that has recorded code (templates are read by the
  modules next to them). A changed non-Python file that holds tests (doctest text): its tests.

Order: recent failures first, then the tests that ran changed functions, then the rest, each
group shortest first (by recorded duration).
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from amoskys.select.changes import (
    ChangedCode,
    FileChange,
    changed_code,
    defined_names,
    reach_at_import,
)
from amoskys.select.testmap import TestMap, TestRecord, Unit

_REQUIREMENTS = re.compile(
    r"(?:.*/)?(?:(?:requirements|constraints)[^/]*\.(?:txt|in)|requirements/[^/]*\.(?:txt|in)"
    r"|poetry\.lock|uv\.lock|pdm\.lock|Pipfile|Pipfile\.lock|pylock(?:\.[^/]+)?\.toml"
    r"|setup\.py)"
)
_WHOLE_FILE_CONFIG = frozenset({"pytest.ini", ".pytest.ini", ".coveragerc", "conftest.py"})
# pyproject.toml tables that change how the tests run or what they run against.
_PYPROJECT_KEYS: tuple[tuple[str, ...], ...] = (
    ("tool", "pytest"),
    ("tool", "coverage"),
    ("project", "dependencies"),
    ("project", "optional-dependencies"),
    ("project", "requires-python"),
    ("project", "entry-points"),
    ("dependency-groups",),
    ("build-system",),
    ("tool", "poetry", "dependencies"),
    ("tool", "poetry", "dev-dependencies"),
    ("tool", "poetry", "group"),
    ("tool", "pdm", "dev-dependencies"),
    ("tool", "uv"),
)
_FAILED = frozenset({"failed", "error"})
SHOWN_GROUPS = 3
"""How many reasons the summary line spells out before "N for other changes"."""


@dataclass(frozen=True)
class SelectSettings:
    """Where the project's code, tests and data are (POSIX paths and globs, root-relative)."""

    data_globs: tuple[str, ...] = ()
    package_paths: tuple[str, ...] = (".",)
    test_paths: tuple[str, ...] = ("tests",)
    extra_run_all_globs: tuple[str, ...] = ()
    module_level: str = "module"
    """How far a change outside function bodies reaches: "module" (the issue's rule: every
    test that ran code of the file, plus the readers of the names it binds) or "names" (the
    readers of those names, followed through the module's own statements, and the whole
    file only for changes that may act beyond names: calls, decorators, classes...)."""


@dataclass(frozen=True)
class Selection:
    """The tests to run (ordered, only tests the map knows), why, and the summary line.

    ``run_all`` is the reason everything runs, or None. ``known`` is every test in the map, so
    the plugin keeps the tests it collects that the map has never seen (new tests).
    """

    run_all: str | None
    tests: tuple[str, ...]
    reasons: Mapping[str, str]
    summary: str
    known: frozenset[str]
    changed: tuple[ChangedCode, ...] = field(default=(), compare=False)
    skipped: frozenset[str] = field(default=frozenset(), compare=False)
    """The tests the map recorded as skipped (see the module docstring)."""

    def explain(self, nodeid: str) -> str:
        """One line on why ``nodeid`` runs or not (for ``--explain``)."""
        if nodeid in self.reasons:
            return f"{nodeid}: selected, {self.reasons[nodeid]}"
        if nodeid not in self.known:
            return f"{nodeid}: not in the test map: it runs if pytest collects it (a new test)"
        if not self.changed:
            return f"{nodeid}: not selected, no code changed"
        files = ", ".join(c.path for c in self.changed)
        if nodeid in self.skipped:
            return (
                f"{nodeid}: not selected, it was skipped when recorded, and the change in"
                f" {files} reaches neither the code it ran nor import time (where skip"
                " conditions are computed)"
            )
        return f"{nodeid}: not selected, it ran none of the code changed in {files}"


# -- paths and globs ------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _glob_regex(glob: str) -> re.Pattern[str]:
    """``*`` and ``?`` stay inside one folder, ``**`` spans folders; a glob without ``/``
    matches the file name in any folder (as in .gitignore)."""
    pattern = glob.strip().removeprefix("./")
    if "/" not in pattern.rstrip("/"):
        pattern = "**/" + pattern
    if pattern.endswith("/"):
        pattern += "**"
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def glob_matches(path: str, glob: str) -> bool:
    """True when the root-relative POSIX ``path`` matches ``glob`` (see :func:`_glob_regex`)."""
    return _glob_regex(glob).fullmatch(path) is not None


def _under(path: str, folders: Iterable[str]) -> bool:
    for folder in folders:
        folder = folder.strip("/").removeprefix("./")
        if folder in ("", ".") or path == folder or path.startswith(folder + "/"):
            return True
    return False


# -- run-everything rules -------------------------------------------------------------------


def _ini_sections(text: str | None, wanted: Sequence[str]) -> dict[str, dict[str, str]] | None:
    if text is None:
        return {}
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return {
        name: dict(parser[name])
        for name in parser.sections()
        if any(name == w or (w.endswith(":") and name.startswith(w)) for w in wanted)
    }


def _toml_parts(text: str | None) -> dict[tuple[str, ...], Any] | None:
    if text is None:
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    parts: dict[tuple[str, ...], Any] = {}
    for key in _PYPROJECT_KEYS:
        value: Any = data
        for part in key:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            parts[key] = value
    return parts


def _config_reason(change: FileChange) -> str | None:
    """Why a change of a configuration file needs every test, or None."""
    name = change.path.rsplit("/", 1)[-1]
    if name in ("tox.ini", "setup.cfg"):
        wanted = ["pytest", "tool:pytest", "coverage:", "options", "options.extras_require"]
        before = _ini_sections(change.old_text, wanted)
        after = _ini_sections(change.new_text, wanted)
        if before is None or after is None:
            return f"{change.path} cannot be parsed"
        if before != after:
            changed = sorted(
                k for k in before.keys() | after.keys() if before.get(k) != after.get(k)
            )
            return f"{change.path} [{changed[0]}] changed"
        return None
    if name == "pyproject.toml":
        old = _toml_parts(change.old_text)
        new = _toml_parts(change.new_text)
        if old is None or new is None:
            return f"{change.path} is not valid TOML"
        changed_keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        if changed_keys:
            return f"{change.path} [{'.'.join(changed_keys[0])}] changed"
    return None


def _run_all_reason(change: FileChange, settings: SelectSettings) -> str | None:
    path = change.path
    name = path.rsplit("/", 1)[-1]
    verb = "was deleted" if change.new_text is None and change.old_text is not None else "changed"
    if name in _WHOLE_FILE_CONFIG:
        return f"{path} {verb}"
    for glob in settings.extra_run_all_globs:
        if glob_matches(path, glob):
            return f"{path} {verb} (matches run-all glob {glob!r})"
    if _REQUIREMENTS.fullmatch(path):
        return f"{path} {verb} (requirements)"
    reason = _config_reason(change)
    if reason is not None:
        return reason
    if name.endswith(".py"):
        if change.new_text is None and change.old_text is not None:
            return f"{path} was deleted or renamed"
        if change.new_text is None and change.old_text is None:
            return f"{path} is not readable as text"
        return None
    if name in ("tox.ini", "setup.cfg", "pyproject.toml"):
        return None
    if _under(path, (*settings.package_paths, *settings.test_paths)) and not any(
        glob_matches(path, glob) for glob in settings.data_globs
    ):
        return (
            f"{path} {verb}: a file the map cannot see (declare it in [tool.amoskys.select] data)"
        )
    return None


# -- the selection --------------------------------------------------------------------------


@dataclass
class _Why:
    """Candidate reasons for one group of units; first match wins."""

    rank: int  # 1 = ran a changed function (runs before the others)
    reason: str
    units: set[int]


def _test_qualname(nodeid: str) -> str:
    """``tests/t.py::TestA::test_b[x]`` -> ``TestA.test_b``."""
    parts = nodeid.split("::")[1:]
    if parts:
        parts[-1] = parts[-1].split("[", 1)[0]
    return ".".join(parts)


def _line_span(lines: Sequence[int]) -> str:
    if not lines:
        return ""
    first, last = min(lines), max(lines)
    return f"{first}" if first == last else f"{first}-{last}"


def _nested_in(qualname: str, function: str) -> bool:
    return qualname == function or qualname.startswith(function + ".<locals>.")


def _code_near(path: str, by_path: Mapping[str, list[tuple[int, Unit]]]) -> set[int]:
    """Units of the Python files in the nearest folder above ``path`` that has any."""
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    while True:
        found = {
            uid
            for file, units in by_path.items()
            if (file.rsplit("/", 1)[0] if "/" in file else "") == folder
            for uid, _ in units
        }
        if found or not folder:
            return found
        folder = folder.rsplit("/", 1)[0] if "/" in folder else ""


def _order(records: Iterable[TestRecord]) -> list[str]:
    return [r.nodeid for r in sorted(records, key=lambda r: (r.duration, r.nodeid))]


def select_tests(
    m: TestMap,
    changes: Sequence[FileChange],
    settings: SelectSettings,
    interpreter: str,
    recent_failures: Sequence[str] = (),
    installed: str = "",
) -> Selection:
    """Choose the recorded tests that ``changes`` can affect (see the module docstring)."""
    known = frozenset(m.tests)
    total = len(known)
    failures = [n for n in dict.fromkeys(recent_failures) if n in m.tests]
    failures += [n for n, r in m.tests.items() if r.outcome in _FAILED and n not in failures]

    def everything(reason: str) -> Selection:
        first = set(failures)
        rest = _order(r for n, r in m.tests.items() if n not in first)
        ordered = tuple(failures + rest)
        return Selection(
            reason,
            ordered,
            {n: f"runs all: {reason}" for n in ordered},
            f"all {total:,} tests: {reason}",
            known,
        )

    if interpreter != m.interpreter:
        return everything(f"the interpreter changed (map: {m.interpreter}; now: {interpreter})")
    if installed and m.installed and installed != m.installed:
        return everything(
            "the packages installed for the interpreter changed since the map was recorded"
            " (pip install, upgrade or uninstall)"
        )
    for change in changes:
        if change.unseen is not None:
            return everything(f"{change.path}: {change.unseen}")
        reason = _run_all_reason(change, settings)
        if reason is not None:
            return everything(reason)

    by_path: dict[str, list[tuple[int, Unit]]] = {}
    for uid, unit in enumerate(m.units):
        by_path.setdefault(unit.path, []).append((uid, unit))
    test_files: dict[str, list[TestRecord]] = {}
    for record in m.tests.values():
        test_files.setdefault(record.path, []).append(record)

    groups: list[_Why] = []
    direct: dict[str, tuple[int, str]] = {}  # nodeid -> (rank, reason): picked by their file
    changed: list[ChangedCode] = []
    at_import_time: list[str] = []  # changes that run at import, where skip conditions are made
    for change in changes:
        if not change.path.endswith(".py"):
            # A file outside the code, or a data file declared in `data`: it matters when it
            # holds tests itself (doctest text files); a data file is read by the code next to
            # it (the nearest folder up that has recorded code).
            for record in test_files.get(change.path, ()):
                direct.setdefault(record.nodeid, (1, f"is in {change.path}, which changed"))
            if any(glob_matches(change.path, glob) for glob in settings.data_globs):
                at_import_time.append(f"{change.path}, a data file")
                near = _code_near(change.path, by_path)
                if near:
                    groups.append(_Why(2, f"ran code next to {change.path}", near))
            continue
        code = changed_code(change)
        if not code.changed:
            continue
        changed.append(code)
        units = by_path.get(code.path, [])
        names = set(code.names)
        module_level = code.module_level
        wide = code.wide if settings.module_level == "module" else code.opaque
        for function in sorted(code.functions):
            hit = {uid for uid, unit in units if _nested_in(unit.qualname, function)}
            if code.path in m.early:  # imported before recording: it may have run at import
                at_import_time.append(f"{function} in {code.path}, imported before recording")
                module_level = wide = True
                names |= reach_at_import(change, function)
            if not hit:
                continue
            at_import = hit & m.import_units
            if at_import:
                at_import_time.append(f"{function} in {code.path}, which ran at import")
            if at_import and all(uid in m.import_sites for uid in at_import):
                # It ran at import time: what it computed is held where it ran.
                for site in sorted(set().union(*(m.import_sites[uid] for uid in at_import))):
                    if site in test_files:  # e.g. parametrize data built with it
                        for record in test_files[site]:
                            why = f"is in {site}, which ran {function} at import"
                            direct.setdefault(record.nodeid, (1, why))
                    elif site == code.path:
                        module_level = wide = True
                        names |= reach_at_import(change, function)
                    else:
                        touched = {uid for uid, _ in by_path.get(site, [])}
                        reason = f"ran code of {site}, which ran {function} at import"
                        groups.append(_Why(2, reason, touched))
            elif at_import:  # a map without sites: everything that can see this file
                module_level = wide = True
                names |= defined_names(change) | {function.rsplit(".", 1)[-1]}
            own = [unit for uid, unit in units if unit.qualname == function]
            unit = own[0] if own else next(u for uid, u in units if uid in hit)
            where = f"{code.path}:{unit.first_line}-{unit.last_line}"
            groups.append(_Why(1, f"covers {where} ({function})", hit))
        span = _line_span(code.new_lines or code.old_lines)
        if module_level and (
            not m.module_names or code.path in m.module_names or change.old_text is None
        ):
            # A file whose module code never ran while recording cannot have made a skip; a
            # new one may have (an optional `try: import` of it now succeeds).
            at_import_time.append(f"the module-level change at {code.path}:{span}")
        in_test_file = code.path in test_files
        for record in test_files.get(code.path, ()):
            qualname = _test_qualname(record.nodeid)
            if (
                wide
                or any(_nested_in(qualname, f) for f in code.functions)
                or (module_level and qualname.split(".", 1)[0] in names)
            ):
                direct.setdefault(record.nodeid, (1, f"is in {code.path}, changed at line {span}"))
        if not module_level:
            continue
        if wide:
            touched = {uid for uid, _ in units}
            groups.append(
                _Why(2, f"ran code of {code.path} (module-level change at {span})", touched)
            )
        else:  # definitions added or removed: code defined under those names
            touched = {uid for uid, unit in units if unit.qualname.split(".", 1)[0] in names}
            groups.append(_Why(2, f"ran code redefined at {code.path}:{span}", touched))
        local_names: set[str] = set()
        if in_test_file:
            # A test file's imports are its own: `import pytest` there says nothing about
            # the tests elsewhere that use pytest.
            local_names = names & code.import_names
            names -= code.import_names
        readers = {uid for uid, unit in enumerate(m.units) if not names.isdisjoint(unit.names)}
        readers |= {uid for uid, unit in units if not local_names.isdisjoint(unit.names)}
        readers -= touched
        for uid in sorted(readers & m.import_units):
            # A reader that ran at import (a generator expression in `STEPS = tuple(...)`, a
            # helper called there): the value it computed is held where its import ran. Not
            # for a match on dunders only: every class body binds __doc__ and __module__.
            reader = m.units[uid]
            if all(n.startswith("__") and n.endswith("__") for n in names & reader.names):
                continue
            for site in sorted(m.import_sites.get(uid, frozenset({reader.path}))):
                why = f"{site}, whose import ran {reader.qualname}, which reads a changed name"
                for record in test_files.get(site, ()):
                    direct.setdefault(record.nodeid, (2, f"is in {why}"))
                groups.append(_Why(2, f"ran code of {why}", {u for u, _ in by_path.get(site, [])}))
        for other, reads in m.module_names.items():
            # Import-time code elsewhere that reads a changed name holds a value made from it
            # (not from a file that did not exist when the map was recorded: nothing read it).
            if other == code.path or change.old_text is None or names.isdisjoint(reads):
                continue
            why = f"{other}, whose import-time code reads {', '.join(sorted(names & reads)[:3])}"
            for record in test_files.get(other, ()):
                direct.setdefault(record.nodeid, (2, f"is in {why}"))
            groups.append(_Why(2, f"ran code of {why}", {uid for uid, _ in by_path.get(other, [])}))
        if readers:
            shown = sorted(names | local_names)
            listed = ", ".join(shown[:3]) + (", ..." if len(shown) > 3 else "")
            groups.append(_Why(2, f"reads {listed} (changed at {code.path}:{span})", readers))

    if any(c.changed and c.path not in test_files for c in changed):
        # A test that started a process may have run the changed code out of our sight.
        for record in m.tests.values():
            if record.spawned:
                direct.setdefault(record.nodeid, (2, "starts a process that may run changed code"))
    skipped = frozenset(n for n, r in m.tests.items() if r.outcome == "skipped")
    if at_import_time and skipped:
        why = f"was skipped when recorded; its skip condition may read {at_import_time[0]}"
        for nodeid in skipped:
            direct.setdefault(nodeid, (2, why))
    wanted: set[int] = set()
    for group in groups:
        wanted |= group.units
    reasons: dict[str, str] = {}
    first: list[TestRecord] = []
    later: list[TestRecord] = []
    for nodeid in failures:
        reasons[nodeid] = "failed recently"
    for nodeid, record in m.tests.items():
        if nodeid in reasons:
            continue
        rank, reason = direct.get(nodeid, (0, None))
        if not record.units.isdisjoint(wanted):
            for group in groups:
                if not record.units.isdisjoint(group.units):
                    reason, rank = group.reason, group.rank
                    break
        if reason is None:
            continue
        reasons[nodeid] = reason
        (first if rank == 1 else later).append(record)
    ordered = tuple(failures + _order(first) + _order(later))
    summary = _summary(len(ordered), total, reasons, changes, changed)
    return Selection(None, ordered, reasons, summary, known, tuple(changed), skipped)


def _summary(
    count: int,
    total: int,
    reasons: Mapping[str, str],
    changes: Sequence[FileChange],
    changed: Sequence[ChangedCode],
) -> str:
    head = f"{count:,} of {total:,} tests"
    if not reasons:
        if not changes:
            return f"{head}: nothing changed (+ new tests)"
        if not changed:
            return (
                f"{head}: no code changed, only comments, formatting or other files (+ new tests)"
            )
        return f"{head}: no recorded test ran the changed code (+ new tests)"
    tally: dict[str, int] = {}
    for reason in reasons.values():
        tally[reason] = tally.get(reason, 0) + 1
    ranked = sorted(tally.items(), key=lambda item: -item[1])
    parts = []
    plural = {"covers": "cover", "reads": "read", "is": "are"}
    for reason, n in ranked[:SHOWN_GROUPS]:
        verb, _, rest_of_it = reason.partition(" ")
        if n > 1:
            verb = plural.get(verb, verb)
        parts.append(f"{n:,} {verb} {rest_of_it}")
    rest = sum(n for _, n in ranked[SHOWN_GROUPS:])
    if rest:
        parts.append(f"{rest} for other changes")
    return f"{head}: {', '.join(parts)} (+ new tests)"
