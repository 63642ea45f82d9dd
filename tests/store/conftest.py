"""The store's tests run twice: against SQLite and against a real, throwaway PostgreSQL.

The PostgreSQL server lives for the session: ``initdb`` in a temporary folder, ``pg_ctl``
start on a free port of 127.0.0.1 with its socket in that folder, one database per test
(``CREATE DATABASE``, dropped afterwards). As root (CI and the dev machines), the server runs
as the ``postgres`` user through ``runuser``, since ``initdb`` refuses root. Without
PostgreSQL the postgres tests fail when ``CI`` is set, and are skipped otherwise.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess  # nosec B404 - starts the throwaway PostgreSQL server
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from amoskys.store.db import Store, open_store

_BINARIES = ("initdb", "pg_ctl", "postgres")


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


def _find_bin_dir() -> Path | None:
    on_path = [shutil.which(name) for name in _BINARIES]
    if all(on_path):
        return Path(os.path.realpath(str(on_path[0]))).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all((Path(candidate) / name).exists() for name in _BINARIES):
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(  # nosec B603
        _as_server_user(argv), capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session (trust auth, 127.0.0.1 only)."""
    bin_dir = _find_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL (initdb, pg_ctl, postgres) is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the store tests against PostgreSQL too")
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="amoskys-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    port = _free_port()
    _run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        "initdb",
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        "pg_ctl start",
    )
    try:
        yield PostgresServer("127.0.0.1", port, user)
    finally:
        _run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            "pg_ctl stop",
        )
        shutil.rmtree(root, ignore_errors=True)


_names = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database on the session's server; dropped after the test."""
    name = f"amoskys_test_{os.getpid()}_{next(_names)}"
    admin = sa.create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield postgres_server.url(name)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """The database URL of the backend under test (None: SQLite in the state folder)."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("AMOSKYS_DATABASE_URL", raising=False)
    return tmp_path / "state"


@pytest.fixture
def store(state_dir: Path, backend: str | None) -> Iterator[Store]:
    """An open, empty store on each backend."""
    opened = open_store(state_dir, backend)
    try:
        yield opened
    finally:
        opened.close()
