"""Read-only answers from the SQLite history store without SQLAlchemy or Alembic.

``amoskys test --select affected`` needs two reads before it can decide anything: the newest
stored test map and the recently failed tests. Importing SQLAlchemy for them cost a third to
half a second, as much as the rest of the decision. :func:`open_quick` answers them with the
standard library's ``sqlite3``, but only for a SQLite store whose stamped schema revision is
the head of the migrations shipped here; anything else (PostgreSQL, no database yet, one that
needs migrating, any SQLite error) returns None and the caller opens the real
:class:`amoskys.store.db.Store`. The queries mirror :mod:`amoskys.store.testmaps` (a test
compares both on one database).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

DATABASE_FILE = "amoskys.db"
URL_VARIABLE = "AMOSKYS_DATABASE_URL"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Commits asked for in one query (one JSON array parameter each).
CHUNK = 500

_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class StoredMap:
    """One stored test map: its key, when it was recorded, how many tests, its bytes."""

    commit: str
    interpreter: str
    created: float
    tests: int
    data: bytes


def head_in_files(folder: Path) -> str | None:
    """The one head revision of the migration files, read as text; None when unsure.

    A cheap stand-in for Alembic's script directory, used only to see that a database is
    current: any answer other than the stamped revision sends the caller to Alembic.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        files = sorted((folder / "versions").glob("*.py"))
        for path in files:
            text = path.read_text(encoding="utf-8")
            found, down = _REVISION.search(text), _DOWN_REVISION.search(text)
            if found is None or down is None:
                return None
            revisions.add(found.group(1))
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    except (OSError, UnicodeDecodeError):
        return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


class QuickReader:
    """The two reads a selection needs, on one plain ``sqlite3`` connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def close(self) -> None:
        self._connection.close()

    def latest_test_map(self, commits: Sequence[str], interpreter: str) -> StoredMap | None:
        """As :meth:`amoskys.store.db.Store.latest_test_map`."""
        other: StoredMap | None = None
        for start in range(0, len(commits), CHUNK):
            chunk = list(commits[start : start + CHUNK])
            rows = self._connection.execute(
                'SELECT "commit", interpreter, created FROM test_maps '
                'WHERE "commit" IN (SELECT value FROM json_each(?))',
                (json.dumps(chunk),),
            ).fetchall()
            found: dict[str, list[tuple[str, float]]] = {}
            for commit, interp, created in rows:
                found.setdefault(str(commit), []).append((str(interp), float(created)))
            for commit in chunk:
                kinds = found.get(commit)
                if not kinds:
                    continue
                if any(interp == interpreter for interp, _ in kinds):
                    return self._load(commit, interpreter)
                if other is None:
                    other = self._load(commit, max(kinds, key=lambda pair: pair[1])[0])
        return other

    def _load(self, commit: str, interpreter: str) -> StoredMap | None:
        row = self._connection.execute(
            'SELECT "commit", interpreter, created, tests, data FROM test_maps '
            'WHERE "commit" = ? AND interpreter = ?',
            (commit, interpreter),
        ).fetchone()
        if row is None:
            return None
        return StoredMap(str(row[0]), str(row[1]), float(row[2]), int(row[3]), bytes(row[4]))

    def recent_test_failures(self, *, days: float = 14.0, limit: int = 200) -> list[str]:
        """As :meth:`amoskys.store.db.Store.recent_test_failures`."""
        joined = (
            "FROM test_results JOIN test_cases ON test_results.case_id = test_cases.id "
            "JOIN job_runs ON test_results.job_run_id = job_runs.id "
            "JOIN runs ON job_runs.run_id = runs.id "
        )
        bad = "test_results.outcome IN ('failed', 'error')"
        since = time.time() - days * 86_400
        rows = self._connection.execute(
            f"SELECT test_cases.test_id, max(runs.started) AS last {joined}"
            f"WHERE runs.started >= ? AND test_cases.test_id IN "
            f"(SELECT test_cases.test_id {joined}WHERE {bad} AND runs.started >= ?) "
            f"GROUP BY test_cases.test_id "
            f"HAVING max(CASE WHEN {bad} THEN runs.started END) = max(runs.started) "
            "ORDER BY last DESC LIMIT ?",
            (since, since, max(0, limit)),
        ).fetchall()
        return [str(row[0]) for row in rows]


def open_quick(state_dir: Path) -> QuickReader | None:
    """A reader of ``state_dir``'s SQLite store when it is current; None otherwise (see the
    module docstring)."""
    if os.environ.get(URL_VARIABLE):
        return None
    path = state_dir / DATABASE_FILE
    try:
        if not path.is_file() or not path.stat().st_size:
            return None
    except OSError:
        return None
    head = head_in_files(MIGRATIONS)
    if head is None:
        return None
    connection: sqlite3.Connection | None = None
    try:
        connection = sqlite3.connect(path, timeout=10.0)
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        connection.execute("SELECT value FROM json_each('[1]')").fetchall()  # JSON1 is there
        if len(rows) == 1 and str(rows[0][0]) == head:
            return QuickReader(connection)
    except sqlite3.Error:
        pass
    if connection is not None:
        connection.close()
    return None
