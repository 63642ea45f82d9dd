"""The test map: which code each test ran, per commit and interpreter, and its JSON form.

A :class:`TestMap` is what one full, recorded test run learned: the code objects ("units")
executed under the project root, and for each test the units it ran, its duration and outcome.
Selection (:mod:`amoskys.select.selection`) reads it; the recorder plugin and the runner make it.

The JSON form is compact because a map of 64,000 tests must load in well under a second: lists
instead of dicts of dicts, paths and names interned in tables, and identical unit sets (the
many parametrised variants of one test) stored once and shared as one frozenset after loading.
Format 2 stores the tests by column: the node ids as one newline-joined string (one JSON
string to scan instead of 64,000), then flat lists of path ids, set ids and durations and a
string of outcome digits; loading it no longer parses a small list per test. Format 1 (a row
per test) is still read, so stored maps keep working until the next full run replaces them.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FORMAT = 2
"""Version of the JSON layout written; 1 and 2 are read, others are refused (and re-recorded)."""
READABLE = (1, 2)
OUTCOMES = ("passed", "failed", "skipped", "error")
_DIGITS = {str(number): name for number, name in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class Unit:
    """One code object the tests ran: a function, method, lambda, comprehension or class body.

    ``qualname`` is the code object's ``co_qualname`` ("func", "Class.method",
    "outer.<locals>.inner"); module code ("<module>") is never a unit. ``names`` is its
    ``co_names``: the globals and attributes it reads, so a change of ``MAX = 5`` at module
    level can select the tests that ran a function reading ``MAX``.
    """

    path: str
    qualname: str
    first_line: int
    last_line: int
    names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TestRecord:
    """One test of the recorded run: its file, the units it ran, how long it took, its end."""

    __test__ = False  # not a pytest test class, whatever its name says

    nodeid: str
    path: str
    units: frozenset[int]
    duration: float = 0.0
    outcome: str = "passed"
    spawned: bool = False
    """It started a process: what that process ran is not in ``units``."""


@dataclass(frozen=True)
class TestMap:
    """Everything one recorded run knows; ``dirty`` holds the text of files that differed
    from ``commit`` while recording (the "old side" for those files on the next change).

    ``import_units`` are units that ran outside any test (at import or collection time): a
    change in one of them can alter what the modules that ran them hold, so selection widens.
    """

    __test__ = False

    commit: str
    interpreter: str
    created: float
    units: tuple[Unit, ...]
    tests: Mapping[str, TestRecord]
    dirty: Mapping[str, str] = field(default_factory=dict)
    import_units: frozenset[int] = frozenset()
    import_sites: Mapping[int, frozenset[str]] = field(default_factory=dict)
    """For import units: the files whose module-level code ran them (the nearest ``<module>``
    frame on the stack), e.g. a test file that builds parametrize data with them."""
    module_names: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per file imported under the root: the names its module and class-body code read (what
    its import-time statements read, e.g. a test file's ``CASES = [mod.LIMIT]``)."""
    early: frozenset[str] = frozenset()
    """Files imported before recording began (by an initial conftest on 3.11): which of their
    functions ran at import is unknown, so a change of any of them counts as one."""
    installed: str = ""
    """What was installed for the interpreter (:func:`amoskys.run.installed.installed_digest`);
    empty when unknown (older maps, a shim): a map recorded against other packages cannot
    say what a test runs now."""


class MapFormatError(ValueError):
    """The bytes are not a test map this version can read (old layout, truncated, ...)."""


def _record(
    nodeid: str, path: str, units: frozenset[int], duration: float, outcome: str, spawned: bool
) -> Any:
    # Frozen dataclasses set fields through object.__setattr__, which dominates the load time
    # of 64,000 records; filling __dict__ directly gives the same object three times faster.
    record = object.__new__(TestRecord)
    record.__dict__.update(
        nodeid=nodeid,
        path=path,
        units=units,
        duration=duration,
        outcome=outcome,
        spawned=spawned,
    )
    return record


def map_to_json(m: TestMap) -> bytes:
    """Serialise ``m`` compactly (UTF-8 JSON; the store compresses it)."""
    paths: dict[str, int] = {}
    names: dict[str, int] = {}
    sets: dict[tuple[int, ...], int] = {}

    def path_id(path: str) -> int:
        return paths.setdefault(path, len(paths))

    def name_id(name: str) -> int:
        return names.setdefault(name, len(names))

    units = [
        [path_id(u.path), u.qualname, u.first_line, u.last_line, sorted(map(name_id, u.names))]
        for u in m.units
    ]
    outcome_ids = {name: i for i, name in enumerate(OUTCOMES)}
    nodeids: list[str] = []
    test_paths: list[int] = []
    test_sets: list[int] = []
    durations: list[float] = []
    outcomes: list[int | str] = []
    spawned: list[int] = []
    for number, record in enumerate(m.tests.values()):
        key = tuple(sorted(record.units))
        nodeids.append(record.nodeid)
        test_paths.append(path_id(record.path))
        test_sets.append(sets.setdefault(key, len(sets)))
        durations.append(round(record.duration, 6))
        outcomes.append(outcome_ids.get(record.outcome, record.outcome))
        if record.spawned:
            spawned.append(number)
    joined = not any("\n" in nodeid for nodeid in nodeids)
    digits = all(isinstance(o, int) for o in outcomes)
    sites = [[uid, sorted(map(path_id, where))] for uid, where in sorted(m.import_sites.items())]
    module_names = [
        [path_id(path), sorted(map(name_id, found))]
        for path, found in sorted(m.module_names.items())
    ]
    doc = {
        "format": FORMAT,
        "commit": m.commit,
        "interpreter": m.interpreter,
        "created": m.created,
        "paths": list(paths),
        "names": list(names),
        "units": units,
        "sets": [list(key) for key in sets],
        "nodeids": "\n".join(nodeids) if joined else nodeids,
        "test_paths": test_paths,
        "test_sets": test_sets,
        "durations": durations,
        "outcomes": "".join(map(str, outcomes)) if digits else outcomes,
        "spawned": spawned,
        "dirty": dict(m.dirty),
        "import_units": sorted(m.import_units),
        "import_sites": sites,
        "module_names": module_names,
        "early": sorted(m.early),
        "installed": m.installed,
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def map_from_json(data: bytes | str) -> TestMap:
    """Read what :func:`map_to_json` wrote; :class:`MapFormatError` for anything else."""
    # Hundreds of thousands of small objects would trigger the cyclic GC over and over while
    # nothing here can form a cycle: pausing it halves the load time.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(data)
    finally:
        if enabled:
            gc.enable()


def _load(data: bytes | str) -> TestMap:
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") not in READABLE:
            raise MapFormatError(f"not a test map of format {' or '.join(map(str, READABLE))}")
        paths: list[str] = doc["paths"]
        names: list[str] = doc["names"]
        units = tuple(
            Unit(paths[p], q, first, last, frozenset([names[i] for i in ns]))
            for p, q, first, last, ns in doc["units"]
        )
        sets = [frozenset(ids) for ids in doc["sets"]]
        tests = _rows(doc, paths, sets) if doc["format"] == 1 else _columns(doc, paths, sets)
        return TestMap(
            commit=doc["commit"],
            interpreter=doc["interpreter"],
            created=doc["created"],
            units=units,
            tests=tests,
            dirty=dict(doc.get("dirty", {})),
            import_units=frozenset(doc.get("import_units", ())),
            import_sites={
                uid: frozenset(paths[i] for i in ids) for uid, ids in doc.get("import_sites", ())
            },
            module_names={
                paths[p]: frozenset(names[i] for i in ids) for p, ids in doc.get("module_names", ())
            },
            early=frozenset(doc.get("early", ())),
            installed=str(doc.get("installed", "")),
        )
    except MapFormatError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
        raise MapFormatError(f"the test map cannot be read: {err}") from None


def _rows(doc: dict[str, Any], paths: list[str], sets: list[frozenset[int]]) -> dict[str, Any]:
    """Format 1: one ``[nodeid, path, set, duration, outcome(, spawned)]`` row per test."""
    tests: dict[str, TestRecord] = {}
    for row in doc["tests"]:
        nodeid, p, s, duration, outcome = row[:5]
        if outcome.__class__ is int:
            outcome = OUTCOMES[outcome]
        spawned = len(row) > 5 and bool(row[5])
        tests[nodeid] = _record(nodeid, paths[p], sets[s], duration, outcome, spawned)
    return tests


def _columns(doc: dict[str, Any], paths: list[str], sets: list[frozenset[int]]) -> dict[str, Any]:
    """Format 2: the tests by column (see the module docstring)."""
    nodeids = doc["nodeids"]
    if isinstance(nodeids, str):
        nodeids = nodeids.split("\n") if nodeids else []
    outcomes = doc["outcomes"]
    if isinstance(outcomes, str):  # one digit per test: the usual case
        names = list(map(_DIGITS.__getitem__, outcomes))
    else:  # some outcome is none of OUTCOMES: ids and strings mixed
        names = [OUTCOMES[o] if o.__class__ is int else str(o) for o in outcomes]
    columns = (doc["test_paths"], doc["test_sets"], doc["durations"], names)
    if any(len(column) != len(nodeids) for column in columns):
        raise MapFormatError("the test map's columns differ in length")
    flags = [False] * len(nodeids)
    for number in doc.get("spawned", ()):
        flags[number] = True
    new = object.__new__
    tests: dict[str, TestRecord] = {}
    for nodeid, p, s, duration, outcome, spawned in zip(nodeids, *columns, flags):
        record = new(TestRecord)
        fields = record.__dict__  # item by item: the fastest way to fill a frozen dataclass
        fields["nodeid"] = nodeid
        fields["path"] = paths[p]
        fields["units"] = sets[s]
        fields["duration"] = duration
        fields["outcome"] = outcome
        fields["spawned"] = spawned
        tests[nodeid] = record
    return tests
