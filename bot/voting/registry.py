"""The votes running now, in memory: by id and by the message that shows them."""

from __future__ import annotations

from bot.actions import Action
from bot.store.models import Vote
from bot.voting.options import options_from_json
from bot.voting.rules import Rules
from bot.voting.state import OpenVote


class OpenVotes:
    """Which votes are open in this process and where their messages are. Owns nothing else: the parts that
    schedule, count or draw a vote keep their own state and are told when a vote is dropped."""

    def __init__(self) -> None:
        self._by_id: dict[int, OpenVote] = {}
        self._by_message: dict[int, int] = {}

    def add(self, vote: Vote, *, fresh: bool = False) -> OpenVote:
        """Keep a vote from the database in memory; ``fresh``: a new vote, known to have no ballots yet."""
        ov = open_vote_of(vote)
        if fresh:
            ov.set_voters({})  # a new vote has no ballots: nothing to load
        self._by_id[vote.id] = ov
        if vote.message_id is not None:
            self._by_message[vote.message_id] = vote.id
        return ov

    def attach(self, vote_id: int, channel_id: int, message_id: int) -> None:
        ov = self._by_id.get(vote_id)
        if ov is not None:
            ov.message_id, ov.channel_id = message_id, channel_id
            self._by_message[message_id] = vote_id

    def drop(self, ov: OpenVote) -> None:
        self._by_id.pop(ov.id, None)
        if ov.message_id is not None:
            self._by_message.pop(ov.message_id, None)

    def get(self, vote_id: int) -> OpenVote | None:
        return self._by_id.get(vote_id)

    def __contains__(self, vote_id: object) -> bool:
        return vote_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def ids(self) -> set[int]:
        return set(self._by_id)

    def for_message(self, message_id: int) -> OpenVote | None:
        vote_id = self._by_message.get(message_id)
        return self._by_id.get(vote_id) if vote_id is not None else None

    def for_guild(self, guild_id: int) -> list[OpenVote]:
        """A server's open votes, soonest deadline first."""
        return sorted((v for v in self._by_id.values() if v.guild_id == guild_id), key=lambda v: v.deadline)

    def soonest_first(self, vote_ids: set[int]) -> list[OpenVote]:
        return sorted((self._by_id[v] for v in vote_ids if v in self._by_id), key=lambda ov: ov.deadline)


def open_vote_of(vote: Vote) -> OpenVote:
    """A vote from the database as it is kept in memory (its ballots not loaded)."""
    return OpenVote(
        id=vote.id, guild_id=vote.guild_id, link_id=vote.link_id, kind=vote.kind, channel_id=vote.channel_id,
        message_id=vote.message_id, deadline=vote.deadline,
        rules=Rules(vote.quorum, vote.majority, vote.instant_pass),
        action=Action.from_json(vote.action_json) if vote.action_json else None,
        add_per_vote=vote.add_per_vote or 0, remove_per_vote=vote.remove_per_vote or 0,
        applied_net=vote.applied_net_seconds, last_flush=vote.last_flush_at or vote.created_at,
        style=vote.style, anonymous=bool(vote.anonymous),
        options=tuple(options_from_json(vote.options_json)) if vote.options_json else ())
