"""Errors whose message is written for the member who triggered them.

Cogs never build refusal texts themselves for core rules: services raise these and the central
``tree.on_error`` (``cogs/_errors.py``) shows them ephemerally.
"""

from __future__ import annotations


class UserError(Exception):
    """A refusal or a problem the member can fix; ``str(error)`` is shown as is."""


class NotAllowed(UserError):
    """The member may not do this here (not the owner, not trusted, missing permission)."""


class NotLinked(UserError):
    """No lock is linked (or the named one is not linked in this server)."""


class Refused(UserError):
    """The owner's limits, the safeword or the lock's state refused the action."""

    def __init__(self, message: str, *, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit
