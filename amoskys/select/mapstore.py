"""Test maps in and out of the history store, and the recorder's raw files turned into one.

A map belongs to a (commit, interpreter) pair: the commit that was checked out when it was
recorded, and the interpreter that ran the tests (its version and base interpreter: a venv
counts as the interpreter it was made from). Switching branches loses nothing, because
each commit keeps its own map; the map to compare against is the one of the newest commit in
``git rev-list HEAD`` that has one. Files that differed from that commit while recording keep
their recorded text in the map (``dirty``), so the next change is measured against what the
tests really ran.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from amoskys.errors import AmoskysError
from amoskys.run.process import output_of
from amoskys.select.testmap import (
    MapFormatError,
    TestMap,
    TestRecord,
    Unit,
    map_from_json,
    map_to_json,
)

if TYPE_CHECKING:  # SQLAlchemy is imported only when a map is written
    from amoskys.store.db import Store
    from amoskys.store.quick import StoredMap


class MapSource(Protocol):
    """Where stored maps are read from: the store, or its quick SQLite reader."""

    def latest_test_map(
        self, commits: Sequence[str], interpreter: str
    ) -> StoredMap | None: ...  # pragma: no cover - a protocol


#: How far back ``git rev-list`` looks for a commit with a map.
MAX_COMMITS = 2000
#: Dirty files bigger than this are not kept (the next change then compares with the commit,
#: which can only select more tests, never fewer).
MAX_DIRTY_BYTES = 1_000_000


def head_commit(root: Path) -> str | None:
    """The checked-out commit, or None outside git or before the first commit."""
    try:
        return output_of(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=root).strip() or None
    except AmoskysError:
        return None


def candidate_commits(root: Path, limit: int = MAX_COMMITS) -> list[str]:
    """HEAD and its ancestors, newest first (``git rev-list``); empty outside git."""
    try:
        text = output_of(["git", "rev-list", f"--max-count={limit}", "HEAD"], cwd=root)
    except AmoskysError:
        return []
    return text.split()


def dirty_texts(root: Path, commit: str) -> dict[str, str]:
    """Path -> working-tree text of every text file that differs from ``commit`` now."""
    from amoskys.select.changes import changes_since

    texts: dict[str, str] = {}
    for change in changes_since(root, commit, {}):
        text = change.new_text
        if text is not None and len(text) <= MAX_DIRTY_BYTES:
            texts[change.path] = text
    return texts


def save_map(store: Store, m: TestMap) -> None:
    """Store ``m`` (compressed), replacing the map of the same commit and interpreter."""
    store.save_test_map(
        commit=m.commit,
        interpreter=m.interpreter,
        created=m.created,
        tests=len(m.tests),
        data=zlib.compress(map_to_json(m), 6),
    )


def latest_map(store: MapSource, root: Path, interpreter: str) -> TestMap | None:
    """The map of the newest ancestor of HEAD that has one (preferring ``interpreter``'s);
    None when there is none, or when the stored one cannot be read (it will be re-recorded)."""
    commits = candidate_commits(root)
    if not commits:
        return None
    stored = store.latest_test_map(commits, interpreter)
    if stored is None:
        return None
    try:
        return map_from_json(zlib.decompress(stored.data))
    except (MapFormatError, zlib.error):
        return None


# -- the recorder's raw files ---------------------------------------------------------------------


def read_raw(folder: Path) -> list[dict[str, Any]]:
    """Every ``map-<pid>.json`` the plugin wrote into ``folder`` (unreadable ones skipped)."""
    found: list[dict[str, Any]] = []
    for path in sorted(folder.glob("map-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("format") == 1:
            found.append(data)
    return found


#: Outcomes from the least to the most telling, for one test recorded by several processes.
#: Skipped outranks passed: a test one job skipped keeps the skip rule for that job's sake.
_OUTCOME_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def merge_records(old: TestRecord | None, new: TestRecord) -> TestRecord:
    """One record for a test that several pytest processes ran (jobs of one interpreter with
    different environments): every unit any of them reached, the worst outcome, the longest
    duration. Keeping only one would forget code that only another environment reaches."""
    if old is None:
        return new
    outcome = max(old.outcome, new.outcome, key=lambda o: _OUTCOME_RANK.get(o, 2))
    return TestRecord(
        new.nodeid,
        new.path,
        old.units | new.units,
        max(old.duration, new.duration),
        outcome,
        spawned=old.spawned or new.spawned,
    )


def merge_raw(
    raws: Iterable[Mapping[str, Any]],
    *,
    commit: str,
    interpreter: str,
    created: float,
    dirty: Mapping[str, str],
) -> TestMap:
    """One :class:`TestMap` from the plugin's files (one per pytest process); a file that is
    not what the plugin writes raises :class:`MapFormatError`.

    A test recorded more than once is merged (:func:`merge_records`). A test that was only
    ever skipped keeps its record and outcome: selection runs it when a change reaches what it
    ran or import time, where skip conditions are computed (:mod:`amoskys.select.selection`)."""
    try:
        return _merge(raws, commit=commit, interpreter=interpreter, created=created, dirty=dirty)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise MapFormatError(
            f"a raw map file is malformed ({type(error).__name__}: {error})"
        ) from None


def _merge(
    raws: Iterable[Mapping[str, Any]],
    *,
    commit: str,
    interpreter: str,
    created: float,
    dirty: Mapping[str, str],
) -> TestMap:
    units: list[Unit] = []
    index: dict[tuple[str, str, int], int] = {}
    tests: dict[str, TestRecord] = {}
    outside: set[int] = set()
    sites: dict[int, set[str]] = {}
    module_names: dict[str, set[str]] = {}
    early: set[str] = set()
    for raw in raws:
        local: list[int] = []
        for path, qualname, first, last, names in raw.get("units", ()):
            key = (str(path), str(qualname), int(first))
            if key not in index:
                index[key] = len(units)
                units.append(Unit(key[0], key[1], key[2], int(last), frozenset(names)))
            local.append(index[key])
        for row in raw.get("tests", ()):
            nodeid, path, ids, duration, outcome = row[:5]
            record = TestRecord(
                str(nodeid),
                str(path),
                frozenset(local[i] for i in ids),
                float(duration),
                str(outcome),
                spawned=len(row) > 5 and bool(row[5]),
            )
            tests[record.nodeid] = merge_records(tests.get(record.nodeid), record)
        outside.update(local[i] for i in raw.get("import_units", ()))
        for unit, paths in raw.get("import_sites", ()):
            sites.setdefault(local[unit], set()).update(paths)
        for path, names in raw.get("module_names", ()):
            module_names.setdefault(str(path), set()).update(map(str, names))
        early.update(map(str, raw.get("early_files", ())))
    return TestMap(
        commit=commit,
        interpreter=interpreter,
        created=created,
        units=tuple(units),
        tests=tests,
        dirty=dict(dirty),
        import_units=frozenset(outside),
        import_sites={u: frozenset(p) for u, p in sites.items()},
        module_names={p: frozenset(n) for p, n in module_names.items()},
        early=frozenset(early),
    )
