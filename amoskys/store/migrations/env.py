"""Alembic's environment for the history database.

Amoskys runs this programmatically (:mod:`amoskys.store.migrate`): the connection to migrate,
already inside the transaction that holds the database's write lock, is handed over in
``config.attributes["connection"]``. Developers can also point the ``alembic`` command at a
database with ``-x url=...`` (or ``sqlalchemy.url`` in an ini file of their own).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from amoskys.store.schema import metadata


def _configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    return url or context.config.get_main_option("sqlalchemy.url") or ""


def run() -> None:
    """Migrate the given connection, or a database named by URL (online or offline)."""
    given = context.config.attributes.get("connection")
    if given is not None:
        _configure(given)
    elif context.is_offline_mode():
        context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        engine = sa.create_engine(_url())
        try:
            with engine.connect() as connection:
                _configure(connection)
                connection.commit()
        finally:
            engine.dispose()


run()
