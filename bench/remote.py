"""The Chastify stand-in in a process of its own, driven over a pipe.

In one process the stand-in's server thread and the bot's event loop take turns on the GIL, so a bench would
time the harness as much as the bot. Here the stand-in runs in a child process; the bench adds locks and reads
what the stand-in received through a ``multiprocessing`` pipe. ``time.perf_counter`` is the system's monotonic
clock on Linux, so the child's receive stamps compare with the bench's own.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sandbox.chastify import StandIn


@dataclass(frozen=True)
class Seen:
    """One request the stand-in received, as the benches need it."""

    path: str
    lock_id: str | None
    status: int
    kind: str
    at: float  # the stand-in's clock
    received_perf: float


def _serve(conn: Connection, clock_offset: float | None) -> None:
    import time

    clock = None
    if clock_offset is not None:
        # a compressed clock: the bench moves it forward with "advance"
        shift = [0.0]

        def clock() -> float:
            return time.time() + clock_offset + shift[0]

    with StandIn(clock=clock) as server:
        conn.send(server.base_url)
        while True:
            op, args = conn.recv()
            if op == "stop":
                conn.send(None)
                return
            if op == "add_lock":
                token, kwargs = args
                conn.send(server.add_lock(token, **kwargs).id)
            elif op == "share":
                lock_id, token = args
                server.share(lock_id, token)
                conn.send(None)
            elif op == "seen":
                start = args
                conn.send([Seen(r.path, r.lock_id, r.status, r.kind, r.at, r.received_perf)
                           for r in server.requests[start:]])
            elif op == "count":
                conn.send(len(server.requests))
            elif op == "rate_limited":
                conn.send(server.rate_limited_count)
            elif op == "advance":
                shift[0] += float(args)
                conn.send(None)
            else:
                conn.send(ValueError(f"unknown op {op!r}"))


class RemoteStandIn:
    """``with RemoteStandIn() as chastify:`` a stand-in in a child process (loopback only)."""

    def __init__(self, *, compressed_clock: bool = False) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, 0.0 if compressed_clock else None), daemon=True)
        self.base_url = ""

    def __enter__(self) -> RemoteStandIn:
        self._proc.start()
        self.base_url = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._call("stop")
        finally:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()

    def _call(self, op: str, args: Any = None) -> Any:
        self._conn.send((op, args))
        out = self._conn.recv()
        if isinstance(out, Exception):
            raise out
        return out

    def add_lock(self, token: str, **kwargs: Any) -> str:
        """A new active lock for ``token``; returns its id."""
        return str(self._call("add_lock", (token, kwargs)))

    def share(self, lock_id: str, token: str) -> None:
        """Let a second person's token (a keyholder's) reach the lock too."""
        self._call("share", (lock_id, token))

    def seen(self, start: int = 0) -> list[Seen]:
        return list(self._call("seen", start))

    def count(self) -> int:
        return int(self._call("count"))

    def rate_limited_count(self) -> int:
        return int(self._call("rate_limited"))

    def advance(self, seconds: float) -> None:
        """Move a compressed clock forward."""
        self._call("advance", seconds)
