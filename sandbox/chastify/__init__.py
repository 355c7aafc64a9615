"""A faithful local stand-in for Chastify's Developer API (DEV-token and extension modes).

Real loopback HTTP on its own thread and event loop, an injectable clock, rate limits and fault injection.
``sandbox.chastify.testing`` has pytest fixtures; ``python -m sandbox.chastify`` serves it from a shell.
"""

from .faults import Faults
from .server import RecordedRequest, StandIn
from .state import FakeLock

__all__ = ["FakeLock", "Faults", "RecordedRequest", "StandIn"]
