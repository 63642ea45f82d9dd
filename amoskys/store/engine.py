"""Connections to the history database, and transactions that never show "database is locked".

SQLite is opened in WAL mode with ``foreign_keys=ON``, ``synchronous=NORMAL`` and a busy
timeout. Write transactions start with ``BEGIN IMMEDIATE`` (they take the write lock up front,
so two writers queue instead of deadlocking on a lock upgrade), and every transaction is
retried with backoff when the database answers busy/locked (or, on PostgreSQL, with a
serialization failure or deadlock). Only if that lasts longer than :data:`RETRY_FOR` seconds
does the user see a message, and it is ours, not the driver's.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy import event

from amoskys.errors import AmoskysError, HistoryError, Location

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5_000
RETRY_FOR = 120.0  # seconds of retrying before giving up
_WRITE = "amoskys_write"
_SQLITE_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_PG_RETRY_STATES = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available
_BUSY_WORDS = ("database is locked", "database is busy", "database table is locked")
_FILE_HINT = "make the file and its folder writable (and not immutable), then run again"
_SQLITE_REFUSALS = {  # primary result code -> what would be right
    sqlite3.SQLITE_READONLY: _FILE_HINT,
    sqlite3.SQLITE_PERM: _FILE_HINT,
    sqlite3.SQLITE_CANTOPEN: _FILE_HINT,
    sqlite3.SQLITE_IOERR: "check the disk and the file's permissions, then run again",
    sqlite3.SQLITE_FULL: "free disk space, then run again",
    sqlite3.SQLITE_CORRUPT: "move the file away; Amoskys will start a new history",
    sqlite3.SQLITE_NOTADB: "move the file away; Amoskys will start a new history",
}
_PG_REFUSALS = ("08", "53", "57", "25006")  # connection, resources, shutdown, read-only


@dataclass(frozen=True)
class Database:
    """An engine and how to name it in messages; ``sqlite_file`` is None for servers."""

    engine: sa.Engine
    where: str
    sqlite_file: Path | None = None


def sqlite_database(path: Path) -> Database:
    """The SQLite file at ``path`` (created on first use)."""
    engine = sa.create_engine(
        sa.URL.create("sqlite", database=str(path)),
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return Database(engine, str(path), path)


def server_database(url: str) -> Database:
    """A database server by SQLAlchemy URL; ``postgresql://`` means psycopg 3."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:  # its text would repeat the URL, password and all
        raise AmoskysError(
            "the history database's URL (AMOSKYS_DATABASE_URL) is not a database URL",
            hint="write it as postgresql://user:password@host:5432/database",
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite":
        return sqlite_database(Path(parsed.database or "amoskys.db"))
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise AmoskysError(
            f"cannot use the database URL {parsed.render_as_string()}: {exc}",
            hint="Amoskys speaks to SQLite and to PostgreSQL (postgresql://...)",
        ) from None
    return Database(engine, parsed.render_as_string(hide_password=True))


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are ours (see _sqlite_on_begin): stop pysqlite from issuing BEGIN itself.
    dbapi_connection.isolation_level = None
    _ensure_math(dbapi_connection)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_MS)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _ensure_math(dbapi_connection: sqlite3.Connection) -> None:
    """``ln`` and ``floor`` (duration buckets in SQL) where SQLite was built without them."""
    try:
        dbapi_connection.execute("SELECT ln(2.0), floor(2.5)").fetchall()
    except sqlite3.OperationalError:
        register_math(dbapi_connection)


def register_math(dbapi_connection: sqlite3.Connection) -> None:
    """Python's ``ln`` and ``floor`` as SQLite functions (NULL where undefined)."""
    dbapi_connection.create_function("ln", 1, _ln, deterministic=True)
    dbapi_connection.create_function("floor", 1, _floor, deterministic=True)


def _ln(value: float | None) -> float | None:
    return math.log(value) if value is not None and value > 0 else None


def _floor(value: float | None) -> int | None:
    return math.floor(value) if value is not None and math.isfinite(value) else None


def _sqlite_on_begin(connection: sa.Connection) -> None:
    if connection.get_execution_options().get(_WRITE):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def is_busy(error: BaseException) -> bool:
    """True for the errors a retry cures: SQLite busy/locked, PostgreSQL serialization."""
    original = getattr(error, "orig", None) or error
    if getattr(original, "sqlite_errorcode", -1) & 0xFF in _SQLITE_BUSY_CODES:
        return True
    if getattr(original, "sqlstate", None) in _PG_RETRY_STATES:
        return True
    text = str(original).lower()
    return any(words in text for words in _BUSY_WORDS)


def transaction(
    database: Database,
    work: Callable[[sa.Connection], T],
    *,
    write: bool,
    foreign_keys: bool = True,
) -> T:
    """Run ``work`` in one transaction, retried from the start while the database is busy.

    ``foreign_keys=False`` is for schema migrations on SQLite: a table rebuilt by a
    migration must not cascade-delete the rows that point at it (SQLite's own procedure for
    schema changes); the migration checks the keys itself before it commits.
    """
    deadline = time.monotonic() + RETRY_FOR
    attempt = 0
    while True:
        try:
            return _once(database.engine, work, write, foreign_keys)
        except (sa.exc.DBAPIError, sqlite3.OperationalError) as exc:
            if not is_busy(exc):
                raise
            if time.monotonic() >= deadline:
                raise AmoskysError(
                    f"the history database {database.where} stayed locked by another process "
                    f"for {RETRY_FOR:.0f} s",
                    hint="another Amoskys process is holding it; let it finish or stop it",
                ) from None
        attempt += 1
        time.sleep(_backoff(attempt))


def store_refused(error: BaseException, where: str, *, write: bool) -> HistoryError | None:
    """The user's error for a read or write the database refused for a reason outside
    Amoskys (a read-only, removed or damaged file, a full disk, a lost server); None for
    anything else (a bug of ours, which the crash handler reports)."""
    original = getattr(error, "orig", None) or error
    first = (str(original).strip().splitlines() or ["unknown error"])[0]
    code = getattr(original, "sqlite_errorcode", None)
    hint: str | None = None
    if isinstance(code, int):
        hint = _SQLITE_REFUSALS.get(code & 0xFF)
        if hint is None and first.startswith("no such table"):
            hint = "the file was removed or replaced while Amoskys used it; run again"
    elif isinstance(error, sa.exc.OperationalError) or str(
        getattr(original, "sqlstate", "") or ""
    ).startswith(_PG_REFUSALS):
        hint = "check that the database server is up and accepts writes, then run again"
    if hint is None:
        return None
    doing = "write to" if write else "read"
    return HistoryError(
        f"cannot {doing} the history database: {first}", location=Location(where), hint=hint
    )


def _once(
    engine: sa.Engine, work: Callable[[sa.Connection], T], write: bool, foreign_keys: bool
) -> T:
    with engine.connect() as connection:
        if write:
            connection.execution_options(**{_WRITE: True})
        if foreign_keys or engine.dialect.name != "sqlite":
            with connection.begin():
                return work(connection)
        raw = connection.connection.dbapi_connection
        if raw is None:
            raise RuntimeError("the SQLite connection closed under us")
        raw.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction does it count
        try:
            with connection.begin():
                return work(connection)
        finally:
            raw.execute("PRAGMA foreign_keys = ON")


def _backoff(attempt: int) -> float:
    """Exponential from 10 ms to 1 s, with jitter so that two waiters do not march in step."""
    ceiling = min(1.0, 0.01 * float(2 ** min(attempt, 10)))
    return ceiling * (0.5 + secrets.randbelow(1000) / 2000)
