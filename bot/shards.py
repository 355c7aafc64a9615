"""Which guilds this process owns when the bot runs as several shard processes.

Discord puts a guild on shard ``(guild_id >> 22) % shard_count``. A process runs the shards in
``discord.shard_ids`` (all of them when unset); work that belongs to a guild (its votes, their deadlines and
reconciliation, its schedules, its outbox entries left behind by a crash) is done only by the process that owns
the guild's shard, so two processes never close one vote or send one entry. Work that belongs to a lock is
safe whichever process does it: its pause and its per-minute budget live in the shared database.
"""

from __future__ import annotations

from dataclasses import dataclass


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord puts a guild on."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class Shards:
    """This process's shards: ``count`` in all (None: not sharded), of which it runs ``ids`` (None: all)."""

    count: int | None = None
    ids: tuple[int, ...] | None = None

    def owns(self, guild_id: int) -> bool:
        if self.count is None or self.ids is None:
            return True
        return shard_of(guild_id, self.count) in self.ids

    def describe(self) -> str:
        if self.count is None:
            return "not sharded"
        ids = "all" if self.ids is None else ", ".join(str(i) for i in self.ids)
        return f"shards {ids} of {self.count}"
