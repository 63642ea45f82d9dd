"""Queries of the ``test_maps`` table (used through :class:`amoskys.store.db.Store`).

A map is stored as opaque compressed bytes: the store does not know its layout
(:mod:`amoskys.select.testmap` does), only which commit and interpreter it belongs to.
"""

from __future__ import annotations

import time
from typing import Sequence

import sqlalchemy as sa

from amoskys.store.quick import StoredMap
from amoskys.store.schema import job_runs, runs, test_cases, test_maps, test_results

__all__ = ["StoredMap", "latest", "recent_failures", "save"]

#: Commits asked for in one query (``IN`` lists stay well below every server's limit).
CHUNK = 500


def save(
    connection: sa.Connection,
    *,
    commit: str,
    interpreter: str,
    created: float,
    tests: int,
    data: bytes,
) -> None:
    """Insert the map, replacing the one of the same commit and interpreter."""
    connection.execute(
        test_maps.delete().where(
            test_maps.c.commit == commit, test_maps.c.interpreter == interpreter
        )
    )
    connection.execute(
        test_maps.insert().values(
            commit=commit, interpreter=interpreter, created=created, tests=tests, data=data
        )
    )


def latest(connection: sa.Connection, commits: Sequence[str], interpreter: str) -> StoredMap | None:
    """The map of the first of ``commits`` (newest first) that has one for ``interpreter``;
    when none has, the first commit's map of any interpreter (so that the caller can say the
    interpreter changed); None when no commit has a map."""
    other: StoredMap | None = None
    for start in range(0, len(commits), CHUNK):
        chunk = list(commits[start : start + CHUNK])
        query = sa.select(
            test_maps.c.commit, test_maps.c.interpreter, test_maps.c.created, test_maps.c.tests
        ).where(test_maps.c.commit.in_(chunk))
        found: dict[str, list[tuple[str, float]]] = {}
        for commit, interp, created, _count in connection.execute(query):
            found.setdefault(str(commit), []).append((str(interp), float(created)))
        for commit in chunk:
            kinds = found.get(commit)
            if not kinds:
                continue
            if any(interp == interpreter for interp, _ in kinds):
                return _load(connection, commit, interpreter)
            if other is None:
                newest = max(kinds, key=lambda pair: pair[1])[0]
                other = _load(connection, commit, newest)
    return other


def _load(connection: sa.Connection, commit: str, interpreter: str) -> StoredMap | None:
    query = sa.select(
        test_maps.c.commit,
        test_maps.c.interpreter,
        test_maps.c.created,
        test_maps.c.tests,
        test_maps.c.data,
    ).where(test_maps.c.commit == commit, test_maps.c.interpreter == interpreter)
    row = connection.execute(query).first()
    if row is None:
        return None
    return StoredMap(str(row[0]), str(row[1]), float(row[2]), int(row[3]), bytes(row[4]))


def recent_failures(connection: sa.Connection, *, days: float, limit: int) -> list[str]:
    """Test ids whose latest result in runs of the last ``days`` days is a failure (or an
    error), newest first: a test that passed since is no longer failing, as in
    ``select-failures.json``."""
    since = time.time() - days * 86_400
    bad = test_results.c.outcome.in_(("failed", "error"))
    joined = (
        test_results.join(test_cases, test_results.c.case_id == test_cases.c.id)
        .join(job_runs, test_results.c.job_run_id == job_runs.c.id)
        .join(runs, job_runs.c.run_id == runs.c.id)
    )
    failed = sa.select(test_cases.c.test_id).select_from(joined).where(bad, runs.c.started >= since)
    last = sa.func.max(runs.c.started)
    query = (
        sa.select(test_cases.c.test_id, last.label("last"))
        .select_from(joined)
        .where(runs.c.started >= since, test_cases.c.test_id.in_(failed.scalar_subquery()))
        .group_by(test_cases.c.test_id)
        .having(sa.func.max(sa.case((bad, runs.c.started))) == last)
        .order_by(sa.desc("last"))
        .limit(max(0, limit))
    )
    return [str(row[0]) for row in connection.execute(query)]
