"""A real PostgreSQL for the tests that run on both stores: started once per test session by the ``pgserver``
wheel (PostgreSQL's own binaries, no system install), one fresh database per test, never a mock.

A test module runs on both stores with ``pytestmark = ON_BOTH_STORES``: the ``database`` fixture is then
``"sqlite"`` or the URL of a fresh PostgreSQL database, and while the test runs every bot or rig it builds with
``make_settings`` uses it (``current_database``). Without that mark everything runs on SQLite.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

STORES = ["sqlite", "postgres"]
# a test module runs on both stores with ``pytestmark = ON_BOTH_STORES`` (or inside its list of marks)
ON_BOTH_STORES = [pytest.mark.parametrize("database", STORES, indirect=True), pytest.mark.usefixtures("database")]
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A PostgreSQL server for the session: the ``pgserver`` wheel where it exists (Python 3.11, 3.12), else the
    system's own PostgreSQL binaries (``initdb``, ``pg_ctl``; Debian: ``apt-get install postgresql``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is not set (CI containers)
        try:
            import pgserver
        except ImportError:
            pgserver = None
        folder = tempfile.mkdtemp(prefix="chastify-pg-")
        server = pgserver.get_server(folder, cleanup_mode="delete") if pgserver is not None else SystemPostgres(folder)
    try:
        yield server
    finally:
        server.cleanup()


class SystemPostgres:
    """The system's PostgreSQL in a throwaway data folder, listening only on a Unix socket in it (as the
    ``postgres`` user when the tests run as root, which PostgreSQL refuses to run as)."""

    def __init__(self, folder: str) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
        found = shutil.which("pg_ctl")
        self.bin = Path(found).resolve().parent if found else Path(bins[0]) if bins else None
        if self.bin is None:
            raise RuntimeError("PostgreSQL is needed for the tests on both stores: install the pgserver wheel "
                               "(Python 3.11/3.12) or the system's postgresql package")
        self.data = Path(folder) / "data"
        self.socket = Path(folder)
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            shutil.chown(folder, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(Path(folder) / "log"),
                  "-o", f"-c listen_addresses='' -c unix_socket_directories={self.socket}", "start")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    def get_uri(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket}"

    def psql(self, sql: str) -> None:
        self._run("psql", "-h", str(self.socket), "-U", "postgres", "-d", "postgres", "-c", sql)

    def cleanup(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.socket, ignore_errors=True)


def fresh_database(server: Any) -> str:
    """A new, empty database on the session's server; its URL."""
    name = f"t{next(_numbers)}"
    server.psql(f"CREATE DATABASE {name};")
    return str(server.get_uri(name))


_current: list[str] = []


def current_database() -> str | None:
    """The PostgreSQL URL the running test asked for through ``database``, None for SQLite."""
    return _current[-1] if _current else None


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """``"sqlite"``, or the URL of a fresh PostgreSQL database (parametrized indirectly with ``STORES``)."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield "sqlite"
        return
    url = fresh_database(request.getfixturevalue("pg_server"))
    _current.append(url)
    try:
        yield url
    finally:
        _current.remove(url)
