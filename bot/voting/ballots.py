"""Ballots: who may vote, one ballot per member, the in-memory tally and the group-committed writes to SQLite."""

from __future__ import annotations

import asyncio

from bot.clock import Clock
from bot.core.part import GuildRules
from bot.members import Member
from bot.services import Core
from bot.store.models import BallotChange, Link, Tally
from bot.voting.display import CurrentReactions
from bot.voting.state import OpenVote


class Ballots:
    """Ballot changes are applied to the vote in memory at once (the live tally) and buffered for the database;
    :meth:`flush` writes the buffer in one transaction (on every tally refresh and before a vote is decided).
    The caller holds the vote's ``ballot_order`` around :meth:`cast` and :meth:`reconcile`."""

    def __init__(self, core: Core, clock: Clock) -> None:
        self.core = core
        self.store = core.store
        self.clock = clock
        self._pending: list[BallotChange] = []
        self._flush_lock = asyncio.Lock()
        self._pending_gen = 0  # which buffer _pending is: bumped whenever a flush takes it
        self._written_gen = 0  # every buffer older than this one is in the database

    async def eligible(self, ov: OpenVote, member: Member) -> str | None:
        """None when the member's ballot counts, else why not."""
        if member.is_bot:
            return "bots do not vote"
        g = await self.core.vote_rules(ov.guild_id)
        link = await self.store.links.get_by_id(ov.link_id)
        owner_votes = link is not None and member.id == link.owner_id \
            and (await self.core.limits(link)).allow_owner_vote
        return self._why_not(member, g, link, owner_votes)

    def _eligible_now(self, ov: OpenVote, member: Member) -> tuple[bool, str | None]:
        """:meth:`eligible` from what is in memory: (False, None) when something it needs is not (the server's
        settings or the link not in the read cache, or the member is the lock's owner, whose limits say whether
        they vote)."""
        if member.is_bot:
            return True, "bots do not vote"
        g = self.core.vote_rules_now(ov.guild_id)
        link = self.store.links.cached_by_id(ov.link_id)
        if g is None or link is None or member.id == link.owner_id:
            return False, None
        return True, self._why_not(member, g, link, False)

    def _why_not(self, member: Member, g: GuildRules, link: Link | None, owner_votes: bool) -> str | None:
        if g.voter_role_id is not None and g.voter_role_id not in member.role_ids:
            return "only members with the voter role vote"
        if link is not None and member.id == link.owner_id and not owner_votes:
            return "the lock's owner does not vote on their own lock"
        if member.created_at > self.clock() - g.min_account_age_days * 86400:
            return f"accounts younger than {g.min_account_age_days} days do not vote"
        return None

    async def voters(self, ov: OpenVote) -> dict[int, int]:
        """The vote's ballots (voter id -> choice), read from the database the first time they are needed."""
        if ov.voters is None:
            loaded = {b.voter_id: b.choice for b in await self.store.ballots.list(ov.id)}
            if ov.voters is None:  # a reconciliation may have filled them meanwhile
                ov.set_voters(loaded)
        assert ov.voters is not None
        return ov.voters

    async def cast(self, ov: OpenVote, member: Member, choice: int, added: bool) -> bool:
        """A reaction for ``choice`` was added or removed: the latest reaction wins, removing it retracts the
        ballot. Returns True when the member's ballot changed."""
        current = (await self.voters(ov)).get(member.id)
        if added:
            if current == choice or await self.eligible(ov, member) is not None:
                return False
            ov.cast(member.id, choice)
            self._pending.append(BallotChange(ov.id, member.id, choice))
        else:
            if current != choice:
                return False  # removing the reaction they had switched away from changes nothing
            ov.cast(member.id, None)
            self._pending.append(BallotChange(ov.id, member.id, None))
        return True

    def cast_now(self, ov: OpenVote, member: Member, choice: int, added: bool) -> bool | None:
        """:meth:`cast` without waiting, when everything it needs is in memory (the vote's ballots, the server's
        settings, the link); None when it is not and :meth:`cast` must be awaited instead. The caller makes sure
        no earlier ballot change of this vote is still waiting."""
        if ov.voters is None:
            return None
        current = ov.voters.get(member.id)
        if added:
            if current == choice:
                return False
            known, why = self._eligible_now(ov, member)
            if not known:
                return None
            if why is not None:
                return False
            ov.cast(member.id, choice)
            self._pending.append(BallotChange(ov.id, member.id, choice))
        else:
            if current != choice:
                return False
            ov.cast(member.id, None)
            self._pending.append(BallotChange(ov.id, member.id, None))
        return True

    async def reconcile(self, ov: OpenVote, current: CurrentReactions) -> bool:
        """Make the vote's ballots match its message's reactions now. A member with both reactions keeps the
        ballot stored before; with none stored, neither counts. A member who left keeps a stored ballot they
        still react with. Returns True when what is shown changes."""
        await self.flush()
        stored = {b.voter_id: b.choice for b in await self.store.ballots.list(ov.id)}
        result: dict[int, int] = {}
        valid = ov.choices()
        for voter, reacted in current.choices.items():
            choices = reacted & valid  # a 6️⃣ on a wheel of three options is no ballot
            if not choices:
                continue
            member = current.members.get(voter)
            if member is None:
                if stored.get(voter) in choices:
                    result[voter] = stored[voter]
                continue
            if await self.eligible(ov, member) is not None:
                continue
            if stored.get(voter) in choices:
                result[voter] = stored[voter]
            elif len(choices) == 1:
                result[voter] = next(iter(choices))
        if result != stored:
            await self.store.ballots.replace_all(ov.id, result)
        emptied = ov.voters is not None and not result and bool(ov.voters)
        ov.set_voters(result)
        return result != stored or emptied

    async def flush(self) -> None:
        """Write the buffered ballot changes in one transaction. Group commit: a caller that finds a write under
        way waits for it, then returns at once if a write took its changes meanwhile."""
        if not self._pending and not self._flush_lock.locked():
            return
        mine = self._pending_gen
        async with self._flush_lock:
            if mine < self._written_gen or not self._pending:
                return  # an earlier caller wrote the buffer holding this caller's changes
            taken = self._pending_gen
            batch, self._pending = self._pending, []
            self._pending_gen += 1
            try:
                await self.store.ballots.apply_many(batch)
            except BaseException:
                self._pending = batch + self._pending  # not written: keep them for the next flush
                raise
            self._written_gen = taken + 1

    async def stored_tally(self, vote_id: int) -> Tally:
        """The tally as the database has it, after writing what is buffered."""
        await self.flush()
        return await self.store.ballots.tally(vote_id)

    async def tallies(self, votes: list[OpenVote]) -> dict[int, Tally]:
        """Current tallies of open votes: from memory where loaded, else from the database in one query."""
        out = {ov.id: ov.tally for ov in votes if ov.voters is not None}
        missing = [ov.id for ov in votes if ov.voters is None]
        if missing:
            for vote_id, t in (await self.store.ballots.tally_many(missing)).items():
                out[vote_id] = t
        return out
