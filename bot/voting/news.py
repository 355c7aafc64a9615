"""What the lock's people hear about votes on their lock: published as ``LockNews`` for the notifier."""

from __future__ import annotations

from bot.events import LockNews
from bot.services import Core
from bot.text import escape_markdown, message_url
from bot.voting.display import Display
from bot.voting.state import vote_what


class VoteNews:
    """A vote opened, closed, or passed and waiting for the lock's veto window. The proposer is not told about
    their own vote."""

    def __init__(self, core: Core, display: Display) -> None:
        self.core = core
        self.store = core.store
        self.display = display

    async def opened(self, vote_id: int) -> None:
        """The vote's message was posted: tell the lock's people, with a link to it."""
        vote = await self.store.votes.get(vote_id)
        link = await self.store.links.get_by_id(vote.link_id) if vote is not None else None
        if vote is None or link is None or vote.message_id is None:
            return
        place = self.display.place(vote.guild_id, vote.channel_id)
        what = vote_what(vote)
        await self.core.events.publish(LockNews(
            link.lock_id, vote.guild_id, "vote_opened", actor_id=vote.proposer_id,
            url=message_url(vote.guild_id, vote.channel_id, vote.message_id),
            text=f"A vote on your lock **{escape_markdown(link.title or 'your lock')}** was opened in "
                 f"{escape_markdown(place.guild_name)}: {what}, closing <t:{int(vote.deadline)}:R>."))

    async def closed(self, vote_id: int) -> None:
        """Tell the lock's people how a vote ended, or that it passed and waits for their veto."""
        vote = await self.store.votes.get(vote_id)
        link = await self.store.links.get_by_id(vote.link_id) if vote is not None else None
        if vote is None or link is None:
            return
        what = vote_what(vote)
        lock = f"**{escape_markdown(link.title or 'your lock')}**"
        url = message_url(vote.guild_id, vote.channel_id, vote.message_id) if vote.message_id else None
        if vote.status == "applying" and vote.apply_at is not None:
            await self.core.events.publish(LockNews(
                link.lock_id, vote.guild_id, "veto_window", url=url, urgent=True,
                text=f"Vote #{vote.id} ({what}) on your lock {lock} passed. It applies <t:{int(vote.apply_at)}:R> "
                     "unless you veto it: the **Veto** button on the vote message, or "
                     f"`/vote veto {vote.id}` in any server where the lock is linked."))
        else:
            await self.core.events.publish(LockNews(
                link.lock_id, vote.guild_id, "vote_closed", url=url, actor_id=vote.proposer_id,
                text=f"Vote #{vote.id} ({what}) on your lock {lock} closed. {vote.outcome_reason or ''}".strip()))

