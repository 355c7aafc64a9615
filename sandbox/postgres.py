"""A throwaway PostgreSQL for the tests and the benches, started by this process, never a mock.

``shared_postgres()``: one server for the whole process, started on first use and stopped when the process exits
(the tests' session and the benches share it: two servers of one process must not stop each other).
``start_postgres(folder)``: the ``pgserver`` wheel where it exists (Python 3.11, 3.12; it ships PostgreSQL
itself), else the system's PostgreSQL binaries (``initdb``, ``pg_ctl``; Debian: ``apt-get install postgresql``),
run as the ``postgres`` user when this process is root (PostgreSQL refuses to run as root). Either way the
server listens only on a Unix socket in ``folder``; ``fresh_database(server)`` makes an empty database on it.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

_numbers = itertools.count(1)


def start_postgres(folder: str) -> Any:
    """A running server in ``folder`` (made if missing, empty); stop it with ``server.cleanup()``."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is not set (CI containers)
        try:
            import pgserver
        except ImportError:
            return SystemPostgres(folder)
        return pgserver.get_server(folder, cleanup_mode="delete")  # type: ignore[attr-defined]


_shared: list[Any] = []


def shared_postgres() -> Any:
    """The process's one throwaway server (see the module docstring)."""
    if not _shared:
        server = start_postgres(tempfile.mkdtemp(prefix="chastify-pg-"))
        atexit.register(server.cleanup)
        _shared.append(server)
    return _shared[0]


def fresh_database(server: Any) -> str:
    """A new, empty database on ``server``; its URL."""
    name = f"t{os.getpid()}_{next(_numbers)}"
    server.psql(f"CREATE DATABASE {name};")
    return str(server.get_uri(name))


class SystemPostgres:
    """The system's PostgreSQL in a throwaway data folder, listening only on a Unix socket in it (as the
    ``postgres`` user when the tests run as root, which PostgreSQL refuses to run as)."""

    def __init__(self, folder: str) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
        found = shutil.which("pg_ctl")
        if found is None and not bins:
            raise RuntimeError("PostgreSQL is needed for the tests on both stores: install the pgserver wheel "
                               "(Python 3.11/3.12) or the system's postgresql package")
        self.bin: Path = Path(found).resolve().parent if found else Path(bins[0])
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
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.socket, ignore_errors=True)


