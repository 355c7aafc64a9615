"""Who acts and where, as the core sees them: a Discord member and a place, turned into plain values by the
cogs (the core never imports discord)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    """A Discord member as the core sees one."""

    id: int
    name: str
    role_ids: frozenset[int] = frozenset()
    manage_guild: bool = False
    is_bot: bool = False
    created_at: float = 0.0


@dataclass(frozen=True)
class Place:
    guild_id: int
    guild_name: str
    channel_id: int | None = None
    channel_name: str | None = None
