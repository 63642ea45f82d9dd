"""Bring a history database to this Amoskys's schema, or refuse one from a newer Amoskys.

Alembic is driven in code: the :class:`~alembic.config.Config` is built here, with
``script_location`` pointing at the ``migrations`` folder shipped inside the package, so no
``alembic.ini`` is needed at run time. :func:`upgrade` runs inside the caller's write
transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), so two processes that
open a new database at once migrate it once. On SQLite that transaction runs with foreign keys
off, as SQLite's procedure for schema changes asks (a rebuilt ``runs`` table must not cascade
into every row under it), and ``PRAGMA foreign_key_check`` must come back clean before commit.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from amoskys.errors import AmoskysError

if TYPE_CHECKING:  # Alembic is imported only when a database is checked or migrated
    from alembic.config import Config

#: Where the revisions live; tests point this at a copy with extra revisions.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Any fixed number: the PostgreSQL advisory lock that serialises migrations.
_PG_LOCK_KEY = 0x616D6F73


@dataclass(frozen=True)
class Migration:
    """What :func:`upgrade` did: ``before`` is None for a new database."""

    before: str | None
    after: str
    backup: Path | None = None


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic configuration for the shipped migrations (optionally bound to a connection)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this Amoskys knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"{MIGRATIONS} holds no revision")
    return head


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database is stamped with (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: sa.Connection, *, where: str, sqlite_file: Path | None) -> Migration:
    """Migrate to head inside the connection's open transaction.

    ``where`` names the database in messages; ``sqlite_file`` is backed up (as
    ``<name>.bak-<revision>``) before an existing database is changed.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    before = current_revision(connection)
    head = head_revision()
    if before == head:
        return Migration(before, head)
    if before is None:
        _refuse_foreign(connection, where)
    elif before not in known_revisions():
        raise AmoskysError(
            f"the history database {where} was written by a newer Amoskys (revision {before}); "
            f"this one knows revisions up to {head}",
            hint="upgrade Amoskys (pip install -U amoskys), or point AMOSKYS_DATABASE_URL "
            "or the state folder at another database",
        )
    backup = None
    if before is not None and sqlite_file is not None:
        backup = backup_sqlite(sqlite_file, before)
    from alembic import command

    command.upgrade(alembic_config(connection), "head")
    if connection.dialect.name == "sqlite":
        _check_foreign_keys(connection, where)
    return Migration(before, head, backup)


def _check_foreign_keys(connection: sa.Connection, where: str) -> None:
    """Migrations run with SQLite's foreign keys off; never commit one that broke them."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        table, rowid, parent = broken[0][0], broken[0][1], broken[0][2]
        raise RuntimeError(
            f"migrating {where} would leave {len(broken)} rows pointing nowhere "
            f"(first: {table} row {rowid} -> {parent}); nothing was changed"
        )


def _refuse_foreign(connection: sa.Connection, where: str) -> None:
    """An unstamped database must be empty: never build on someone else's tables."""
    if "runs" in sa.inspect(connection).get_table_names():
        raise AmoskysError(
            f"{where} has a 'runs' table but no Amoskys schema revision",
            hint="it is not an Amoskys history database; move it away or choose another one",
        )


def backup_sqlite(path: Path, revision: str) -> Path:
    """A consistent copy of the SQLite file (WAL included) as ``<name>.bak-<revision>``."""
    target = path.with_name(f"{path.name}.bak-{revision}")
    target.unlink(missing_ok=True)
    source = sqlite3.connect(path)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    return target
