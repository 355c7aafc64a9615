"""/vote: decision votes and time boards decided by reactions. The rules live in ``bot/voting/``."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.actions import DURATION_BOUNDS, LABELS, Action, ActionKind
from bot.app import ChastifyBot
from bot.config import VOTE_WINDOW_MAX, VOTE_WINDOW_MIN
from bot.durations import format_duration, format_signed, parse_duration, parse_duration_or_zero
from bot.errors import UserError
from bot.members import Member, Place
from bot.text import REASON_MAX, TASK_MAX, clean_text, escape_markdown
from bot.voting.calendar import parse_rule
from bot.voting.display import CurrentReactions, Display, MessageGone
from bot.voting.draw import Mode
from bot.voting.options import WheelOption, parse_options
from bot.voting.proposals import BallotChoice
from bot.voting.rules import board_net, progress_bar
from bot.voting.schedules import Plan, plan_of, rule_of
from bot.voting.service import VoteService
from bot.voting.state import WHEEL_EMOJI, OpenVote, Snapshot, emoji_choices
from cogs._errors import report
from cogs._ui import BAD, INFO, NONE, OK, WARN, lock_autocomplete, member_of, place_of, timestamp

log = logging.getLogger("cogs.votes")
LOCK_HELP = "Which lock (only needed when several are linked)"
WINDOW_HELP = "How long the vote stays open, e.g. 30m (the server's default if left out)"
BALLOT_HELP = {"style": "How members vote: reactions or buttons (the server's default if left out)",
               "anonymous": "Buttons only: the tally is public, who voted what is never shown"}
STYLES = [app_commands.Choice(name="reactions", value="reactions"),
          app_commands.Choice(name="buttons", value="buttons")]
MODE_CHOICES = [app_commands.Choice(name="plurality (most votes wins; ties drawn)", value="plurality"),
                app_commands.Choice(name="wheel (drawn in proportion to the votes)", value="wheel")]


class DiscordDisplay(Display):
    def __init__(self, bot: ChastifyBot) -> None:
        self.bot = bot
        # read once: ``Client.intents`` builds a new Intents object on every read, and it is asked per ballot
        self._members_intent = bot.intents.members

    async def show(self, snapshot: Snapshot) -> None:
        vote = snapshot.vote
        if vote.message_id is None:
            return
        channel = self.bot.get_channel(vote.channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return
        view = view_for(snapshot)  # None: the buttons go once the vote is over
        try:
            await channel.get_partial_message(vote.message_id).edit(embed=vote_embed(snapshot, self.bot),
                                                                    view=view, allowed_mentions=NONE)
        except discord.NotFound:
            log.info("vote message is gone", extra={"vote": vote.id})

    async def remind(self, snapshot: Snapshot, role_id: int | None) -> None:
        """Redraw the vote (it shows that it closes soon) and post one short reply with the relative time; it
        mentions the server's reminder role when one is set, and nobody else."""
        vote = snapshot.vote
        await self.show(snapshot)
        channel = self.bot.get_channel(vote.channel_id)
        if vote.message_id is None or not isinstance(channel, discord.TextChannel | discord.Thread):
            return
        ping = f"<@&{role_id}> " if role_id is not None else ""
        mentions = discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(role_id)]) \
            if role_id is not None else NONE
        how = "vote with the buttons on" if vote.style == "buttons" else "react on"
        await channel.send(f"{ping}⏰ Vote #{vote.id} closes {timestamp(vote.deadline, 'R')}: {how} the message "
                           "above if you have not voted yet.",
                           reference=channel.get_partial_message(vote.message_id).to_reference(fail_if_not_exists=False),
                           allowed_mentions=mentions, mention_author=False)

    async def post(self, snapshot: Snapshot) -> int | None:
        """A scheduled vote's message: posted in its channel, with its buttons or its reactions."""
        channel = self.bot.get_channel(snapshot.vote.channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return None
        try:
            message = await channel.send(embed=vote_embed(snapshot, self.bot), allowed_mentions=NONE,
                                         **_view_kw(view_for(snapshot)))
        except discord.HTTPException:
            log.warning("could not post scheduled vote %s", snapshot.vote.id)
            return None
        await add_ballot_reactions(message, snapshot)
        return message.id

    async def note(self, guild_id: int, channel_id: int, text: str) -> None:
        channel = self.bot.get_channel(channel_id)
        if isinstance(channel, discord.TextChannel | discord.Thread):
            await channel.send(text, allowed_mentions=NONE)

    def place(self, guild_id: int, channel_id: int) -> Place:
        guild = self.bot.get_guild(guild_id)
        channel = self.bot.get_channel(channel_id)
        return Place(guild_id=guild_id, guild_name=guild.name if guild else f"server {guild_id}",
                     channel_id=channel_id, channel_name=getattr(channel, "name", None))

    def potential_voters(self, guild_id: int) -> int | None:
        # Only with the (privileged) members intent is the member count kept current; without it nobody
        # can know how many could still vote, so a vote only closes early through instant_pass.
        if not self._members_intent:
            return None
        guild = self.bot.get_guild(guild_id)
        return guild.member_count if guild else None

    async def current_reactions(self, ov: OpenVote) -> CurrentReactions | None:
        """Read the vote message's reactions now (every page of every ✅ ❌ / 🔼 🔽 reactor)."""
        if ov.message_id is None:
            return None
        try:
            channel = self.bot.get_channel(ov.channel_id) or await self.bot.fetch_channel(ov.channel_id)
            if not isinstance(channel, discord.TextChannel | discord.Thread):
                return None
            message = await channel.fetch_message(ov.message_id)
        except discord.NotFound:
            raise MessageGone(ov.message_id) from None
        if ov.style != "reactions":
            return None  # the message is there; a buttons vote's ballots are all stored already
        emoji_map = emoji_choices(ov.kind)
        guild = self.bot.get_guild(ov.guild_id)
        need_roles = (await self.bot.core.vote_rules(ov.guild_id)).voter_role_id is not None
        choices: dict[int, set[int]] = {}
        members: dict[int, Member] = {}
        departed: set[int] = set()
        for reaction in message.reactions:
            choice = emoji_map.get(str(reaction.emoji))
            if choice is None:
                continue
            async for user in reaction.users(limit=None):
                if user.bot:
                    continue
                choices.setdefault(user.id, set()).add(choice)
                if user.id in members or user.id in departed:
                    continue
                member = await _member_for(guild, user, need_roles)
                if member is None:
                    departed.add(user.id)
                else:
                    members[user.id] = member
        return CurrentReactions(choices, members)


def _vote_number(text: str, where: str) -> int:
    """A vote's (or a schedule's) number as a member types it (``12`` or ``#12``); refused with where to find it."""
    try:
        return int(text.strip().lstrip("#"))
    except ValueError:
        raise UserError(f"Give the number, e.g. `12` ({where}).") from None


def waiting_for_veto(s: Snapshot) -> bool:
    return s.vote.status == "applying" and s.vote.apply_at is not None


class VetoButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"vote-veto:(?P<vote_id>[0-9]+)"):
    """The Veto button on a passed vote that waits for the lock's veto window: everyone sees it, only the lock's
    owner can use it (anyone else is told so, privately). It works after a restart too (its id names the vote)."""

    def __init__(self, vote_id: int) -> None:
        super().__init__(discord.ui.Button(label="Veto", style=discord.ButtonStyle.danger, emoji="✋",
                                           custom_id=f"vote-veto:{vote_id}"))
        self.vote_id = vote_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> VetoButton:
        return cls(int(match["vote_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = interaction.client
        cog = next((c for c in bot.cogs.values() if isinstance(c, VotesCog)), None) \
            if isinstance(bot, commands.Bot) else None
        if cog is None:
            return
        try:
            message_id = interaction.message.id if interaction.message is not None else None
            text = await cog.service.veto(self.vote_id, member_of(interaction), message_id=message_id)
        except UserError as err:
            await report(interaction, err)
            return
        await interaction.response.send_message(f"✋ {text}", ephemeral=True, allowed_mentions=NONE)


def veto_view(vote_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VetoButton(vote_id))
    return view


def _service_of(interaction: discord.Interaction) -> VoteService | None:
    bot = interaction.client
    cog = next((c for c in bot.cogs.values() if isinstance(c, VotesCog)), None) \
        if isinstance(bot, commands.Bot) else None
    return cog.service if cog is not None else None


def ballot_buttons(s: Snapshot) -> list[tuple[int, str, str]]:
    """(choice, label, emoji) of each ballot button of a vote, in order."""
    if s.vote.kind == "wheel":
        keycaps = list(WHEEL_EMOJI)
        return [(n, option.label[:70], keycaps[n - 1]) for n, option in enumerate(s.options, start=1)]
    if s.vote.kind == "board":
        out = []
        if s.vote.add_per_vote:
            out.append((1, f"+{format_duration(s.vote.add_per_vote)}", "🔼"))
        if s.vote.remove_per_vote:
            out.append((-1, f"-{format_duration(s.vote.remove_per_vote)}", "🔽"))
        return out
    return [(1, "For", "✅"), (-1, "Against", "❌")]


def choice_text(s: Snapshot | None, choice: int | None) -> str:
    """A ballot as its voter reads it: ``✅ for``, ``🔽 down``, ``2️⃣ +2h``."""
    if choice is None:
        return "none"
    if s is not None:
        for c, label, emoji in ballot_buttons(s):
            if c == choice:
                return f"{emoji} {escape_markdown(label)}"
    return str(choice)


class BallotButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                   template=r"vote-ballot:(?P<vote_id>[0-9]+):(?P<choice>-?[0-9])"):
    """One choice of a vote with buttons. A click counts as the member's ballot (the latest click wins) and is
    answered privately with their ballot now and a Retract button; it works after a restart too."""

    def __init__(self, vote_id: int, choice: int, label: str = "Vote", emoji: str | None = None, *,
                 style: discord.ButtonStyle = discord.ButtonStyle.primary) -> None:
        super().__init__(discord.ui.Button(label=label, style=style, emoji=emoji,
                                           custom_id=f"vote-ballot:{vote_id}:{choice}"))
        self.vote_id, self.choice = vote_id, choice

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> BallotButton:
        return cls(int(match["vote_id"]), int(match["choice"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _answer_ballot(interaction, self.vote_id, self.choice,
                             message_id=interaction.message.id if interaction.message is not None else None)


class RetractButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                    template=r"vote-retract:(?P<vote_id>[0-9]+)"):
    """On the private answer to a ballot click: take the ballot back."""

    def __init__(self, vote_id: int) -> None:
        super().__init__(discord.ui.Button(label="Retract my ballot", style=discord.ButtonStyle.secondary,
                                           custom_id=f"vote-retract:{vote_id}"))
        self.vote_id = vote_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> RetractButton:
        return cls(int(match["vote_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _answer_ballot(interaction, self.vote_id, None)


async def _answer_ballot(interaction: discord.Interaction, vote_id: int, choice: int | None, *,
                         message_id: int | None = None) -> None:
    """A ballot button or Retract was clicked: count it, then tell only the member their ballot now."""
    service = _service_of(interaction)
    if service is None:
        return
    try:
        now = await service.button(vote_id, member_of(interaction), choice, message_id=message_id)
    except UserError as err:
        await report(interaction, err)
        return
    snap = await service.snapshot(vote_id)
    anonymous = snap is not None and snap.vote.anonymous
    secret = " Only you see this; nobody, not even the admins, sees who voted what." if anonymous else ""
    if now is None:
        text = f"You have no ballot on vote #{vote_id}{' now: it was retracted' if choice is None else ''}." \
               f" Click a button on the vote to vote.{secret}"
        view = None
    else:
        text = (f"Your ballot on vote #{vote_id}: **{choice_text(snap, now)}**. It counts; click another button "
                f"on the vote to change it.{secret}")
        view = discord.ui.View(timeout=None)
        view.add_item(RetractButton(vote_id))
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NONE, **_view_kw(view))


def ballot_view(s: Snapshot) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for choice, label, emoji in ballot_buttons(s):
        # for / up green, against / down red; a wheel's options all alike (none is the "right" one)
        style = discord.ButtonStyle.primary if s.vote.kind == "wheel" else \
            discord.ButtonStyle.success if choice == 1 else discord.ButtonStyle.danger
        view.add_item(BallotButton(s.vote.id, choice, label, emoji, style=style))
    return view


def view_for(s: Snapshot) -> discord.ui.View | None:
    """The buttons a vote message shows now: its ballots while open (buttons style), Veto while a passed vote
    waits for the lock's veto window, none once it is over."""
    if waiting_for_veto(s):
        return veto_view(s.vote.id)
    if s.vote.status == "open" and s.vote.style == "buttons":
        return ballot_view(s)
    return None


def _view_kw(view: discord.ui.View | None) -> dict[str, Any]:
    return {"view": view} if view is not None else {}


async def add_ballot_reactions(message: discord.Message | discord.InteractionMessage, s: Snapshot) -> None:
    """A reactions vote's own reactions (members click them to vote); none on a vote with buttons."""
    if s.vote.style != "reactions":
        return
    for _, _, emoji in ballot_buttons(s):
        try:
            await message.add_reaction(emoji)
        except discord.HTTPException:
            log.warning("could not add %s to vote %s", emoji, s.vote.id)


def _on_lock(s: Snapshot) -> str:
    return f" on <@{s.link.owner_id}>'s lock" if s.link else ""


def how_to_vote(s: Snapshot, reactions: str) -> str:
    if s.vote.style == "buttons":
        text = "Vote with the buttons below. One ballot per member: your latest click counts."
        if s.vote.anonymous:
            text += " **Anonymous:** the tally is public; the bot never shows who voted what, not even to admins."
        return text
    return f"React {reactions}. One vote per member: your latest reaction counts."


def vote_embed(s: Snapshot, bot: discord.Client) -> discord.Embed:
    vote, t = s.vote, s.tally
    title = escape_markdown((s.link.title if s.link else None) or "the lock")
    status = vote.status
    colour = INFO if not s.closed else (OK if status == "passed" else (WARN if status == "cancelled" else BAD))
    if vote.kind == "board":
        e = discord.Embed(title=f"⏱️ Time board · {title}", colour=colour)
        parts = []
        if vote.add_per_vote:
            parts.append(f"🔼 adds **{format_duration(vote.add_per_vote)}**")
        if vote.remove_per_vote:
            parts.append(f"🔽 removes **{format_duration(vote.remove_per_vote)}**")
        lines = [f"Proposed by <@{vote.proposer_id}>{_on_lock(s)}", " · ".join(parts),
                 how_to_vote(s, "🔼 or 🔽") + " The net change is applied when the board closes."]
        e.description = "\n".join(lines)
        e.add_field(name="Votes", value=f"🔼 {t.votes_for} · 🔽 {t.votes_against}")
        e.add_field(name="Net", value=f"**{format_signed(s.net)}**")
        if vote.applied_net_seconds and not s.closed:
            e.add_field(name="Applied so far", value=format_signed(vote.applied_net_seconds))
    elif vote.kind == "wheel":
        e = discord.Embed(title=f"🎡 Wheel · {title}", colour=colour)
        rule = ("the option with the most votes wins (a tie is drawn among the tied)" if vote.mode == "plurality"
                else "one option is drawn, each with a chance in proportion to its votes")
        keycaps = " ".join(list(WHEEL_EMOJI)[: len(s.options)])
        lines = [f"Proposed by <@{vote.proposer_id}>{_on_lock(s)}", f"**{vote.mode}**: {rule}.",
                 how_to_vote(s, keycaps)]
        e.description = "\n".join(lines)
        total = sum(s.counts)
        drawn = vote.drawn_option
        rows = []
        for n, (option, count) in enumerate(zip(s.options, s.counts, strict=False), start=1):
            share = f"{count / total:.0%}" if total else "–"
            mark = " ⬅️ **drawn**" if drawn == n else ""
            rows.append(f"{list(WHEEL_EMOJI)[n - 1]} {escape_markdown(option.label)}\n"
                        f"{progress_bar(count, total)} {count} ({share}){mark}")
        e.add_field(name="Options", value="\n".join(rows)[:1024] or "–", inline=False)
        e.add_field(name="Quorum", value=f"{progress_bar(min(total, vote.quorum), vote.quorum)} "
                                         f"{total}/{vote.quorum} votes")
        e.add_field(name="Draw commitment (SHA-256 of the seed)", value=f"`{vote.commitment}`", inline=False)
    else:
        action = s.action
        summary = action.shown() if action else "?"
        e = discord.Embed(title=f"🗳️ Vote · {summary} · {title}", colour=colour)
        lines = [f"Proposed by <@{vote.proposer_id}>{_on_lock(s)}"]
        if action and action.reason:
            lines.append(f"Reason: {escape_markdown(action.reason)}")
        if action and action.task_text:
            lines.append(f"Task: {escape_markdown(action.task_text)}")
        lines.append(how_to_vote(s, "✅ for or ❌ against"))
        e.description = "\n".join(lines)
        share = f"{t.votes_for / t.total:.0%}" if t.total else "–"
        e.add_field(name="Tally", value=f"✅ {t.votes_for} · ❌ {t.votes_against}\n"
                                        f"{progress_bar(t.votes_for, t.total)} {share} for", inline=False)
        e.add_field(name="Quorum", value=f"{progress_bar(min(t.total, vote.quorum), vote.quorum)} "
                                         f"{t.total}/{vote.quorum} votes")
        e.add_field(name="Majority", value=f"more than {vote.majority:.0%} ✅"
                    + (f" · instant pass at {vote.instant_pass} ✅" if vote.instant_pass else ""))
    by_schedule = " · scheduled" if vote.schedule_id is not None else ""
    if s.closed:
        e.add_field(name=f"Outcome · {status}", value=(s.result or status)[:1000],
                    inline=False)
        e.set_footer(text=f"Vote #{vote.id}{by_schedule} · closed")
    elif waiting_for_veto(s):
        assert vote.apply_at is not None
        e.add_field(name="Passed · the owner may veto it",
                    value=f"{(s.result or 'Passed')[:900]}\nOnly the lock's owner can use **Veto**; "
                          f"it is applied {timestamp(vote.apply_at, 'R')} otherwise.", inline=False)
        e.set_footer(text=f"Vote #{vote.id}{by_schedule} · veto window")
    else:
        if vote.reminded_at is not None:
            e.add_field(name="⏰ Closing soon", value="Last chance to react.")
        e.add_field(name="Closes", value=timestamp(vote.deadline, "R"))
        e.set_footer(text=f"Vote #{vote.id}{by_schedule}")
    return e


@app_commands.guild_only()
class VotesCog(commands.GroupCog, group_name="vote", group_description="Let the server decide by reactions"):
    def __init__(self, bot: ChastifyBot) -> None:
        self.bot = bot
        self.service = VoteService(bot.core, DiscordDisplay(bot))
        self._started = False
        self._stop_reactions: list[Callable[[], None]] = []
        super().__init__()

    async def cog_load(self) -> None:
        # buttons of messages posted before a restart work too (their ids name the vote)
        self.bot.add_dynamic_items(VetoButton, BallotButton, RetractButton)
        await self.service.load()
        self._stop_reactions = [self.bot.on_now("raw_reaction_add", self._reaction_added),
                                self.bot.on_now("raw_reaction_remove", self._reaction_removed)]
        if self.bot.is_ready():  # loaded into a running bot
            await self._catch_up()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if not self._started:
            await self._catch_up()

    async def _catch_up(self) -> None:
        """Deadlines are acted on from now on; reactions added or removed while the bot was down are read in the
        background, and each vote's before it is decided (a vote whose deadline passed meanwhile closes right
        after, on the reactions as they are now)."""
        self._started = True
        await self.service.start()

    async def cog_unload(self) -> None:
        for stop in self._stop_reactions:
            stop()
        self.bot.remove_dynamic_items(VetoButton, BallotButton, RetractButton)
        await self.service.aclose()

    # ------------------------------------------------------------------ proposals
    async def _post(self, interaction: discord.Interaction, lock: str | None, action: Action | None,
                    window: str | None, board: tuple[int, int] | None = None, *,
                    style: app_commands.Choice[str] | None = None, anonymous: bool | None = None,
                    wheel: tuple[list[WheelOption], Mode] | None = None) -> None:
        assert interaction.guild is not None
        core = self.bot.core
        link = await core.resolve(interaction.guild.id, lock)
        window_s = _window(window)
        ballots = _ballots(style, anonymous)
        rules = await core.vote_rules(interaction.guild.id)
        target = interaction.channel
        if rules.channel_id is not None:
            chosen = interaction.guild.get_channel(rules.channel_id)
            if isinstance(chosen, discord.TextChannel):
                target = chosen
        assert isinstance(target, discord.TextChannel | discord.Thread)
        place, proposer = place_of(interaction), member_of(interaction)
        if board is not None:
            ov = await self.service.propose_board(place, proposer, link, add_per_vote=board[0],
                                                  remove_per_vote=board[1], window=window_s, channel_id=target.id,
                                                  ballots=ballots)
        elif wheel is not None:
            ov = await self.service.propose_wheel(place, proposer, link, wheel[0], mode=wheel[1], window=window_s,
                                                  channel_id=target.id, ballots=ballots)
        else:
            assert action is not None
            ov = await self.service.propose(place, proposer, link, action, window=window_s, channel_id=target.id,
                                            ballots=ballots)
        snap = await self.service.snapshot(ov.id)
        assert snap is not None
        embed = vote_embed(snap, self.bot)
        here = target.id == getattr(interaction.channel, "id", None)
        message: discord.Message | discord.InteractionMessage
        view = _view_kw(view_for(snap))
        try:
            if here:
                await interaction.response.send_message(embed=embed, allowed_mentions=NONE, **view)
                message = await interaction.original_response()
            else:
                message = await target.send(embed=embed, allowed_mentions=NONE, **view)
        except discord.HTTPException as err:
            await self.service.discard(ov.id, "the vote message could not be posted")
            raise UserError(f"Nothing was proposed: the bot could not post the vote in {target.mention} "
                            f"({err.text or err.status}). It needs View Channel, Send Messages, Embed Links, "
                            "Add Reactions and Read Message History there.") from None
        await self.service.attach(ov.id, target.id, message.id)
        if not here:
            await interaction.response.send_message(f"Vote #{ov.id} posted in {target.mention}: {message.jump_url}",
                                                    ephemeral=True)
        await add_ballot_reactions(message, snap)

    @app_commands.command(name="add-time", description="Propose adding time to a lock")
    @app_commands.describe(duration="e.g. 1h", reason="Why", lock=LOCK_HELP, window=WINDOW_HELP, **BALLOT_HELP)
    @app_commands.choices(style=STYLES)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def add_time(self, interaction: discord.Interaction, duration: str, reason: str | None = None,
                       lock: str | None = None, window: str | None = None,
                       style: app_commands.Choice[str] | None = None, anonymous: bool | None = None) -> None:
        await self._post(interaction, lock, _action(ActionKind.ADD_TIME, duration, reason), window, style=style,
                         anonymous=anonymous)

    @app_commands.command(name="remove-time", description="Propose removing time from a lock")
    @app_commands.describe(duration="e.g. 1h", reason="Why", lock=LOCK_HELP, window=WINDOW_HELP, **BALLOT_HELP)
    @app_commands.choices(style=STYLES)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def remove_time(self, interaction: discord.Interaction, duration: str, reason: str | None = None,
                          lock: str | None = None, window: str | None = None,
                          style: app_commands.Choice[str] | None = None, anonymous: bool | None = None) -> None:
        await self._post(interaction, lock, _action(ActionKind.REMOVE_TIME, duration, reason), window, style=style,
                         anonymous=anonymous)

    @app_commands.command(name="freeze", description="Propose freezing a lock")
    @app_commands.describe(duration="e.g. 30m (1m to 24h)", reason="Why", lock=LOCK_HELP, window=WINDOW_HELP,
                           **BALLOT_HELP)
    @app_commands.choices(style=STYLES)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def freeze(self, interaction: discord.Interaction, duration: str, reason: str | None = None,
                     lock: str | None = None, window: str | None = None,
                     style: app_commands.Choice[str] | None = None, anonymous: bool | None = None) -> None:
        await self._post(interaction, lock, _action(ActionKind.FREEZE, duration, reason), window, style=style,
                         anonymous=anonymous)

    @app_commands.command(name="unfreeze", description="Propose unfreezing a lock")
    @app_commands.describe(**BALLOT_HELP)
    @app_commands.choices(style=STYLES)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def unfreeze(self, interaction: discord.Interaction, reason: str | None = None, lock: str | None = None,
                       window: str | None = None, style: app_commands.Choice[str] | None = None,
                       anonymous: bool | None = None) -> None:
        await self._post(interaction, lock, _action(ActionKind.UNFREEZE, None, reason), window, style=style,
                         anonymous=anonymous)

    @app_commands.command(name="pillory", description="Propose putting the wearer in the pillory")
    @app_commands.describe(duration="e.g. 10m", reason="Why", lock=LOCK_HELP, window=WINDOW_HELP, **BALLOT_HELP)
    @app_commands.choices(style=STYLES)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def pillory(self, interaction: discord.Interaction, duration: str, reason: str | None = None,
                      lock: str | None = None, window: str | None = None,
                      style: app_commands.Choice[str] | None = None, anonymous: bool | None = None) -> None:
        await self._post(interaction, lock, _action(ActionKind.PILLORY, duration, reason), window, style=style,
                         anonymous=anonymous)

    @app_commands.command(name="task", description="Propose a task for the wearer")
    @app_commands.describe(text="The task", points="Points (0-1000)", duration="Time to do it, e.g. 30m",
                           lock=LOCK_HELP, window=WINDOW_HELP, **BALLOT_HELP)
    @app_commands.choices(style=STYLES)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def task(self, interaction: discord.Interaction, text: str,
                   points: app_commands.Range[int, 0, 1000] | None = None, duration: str | None = None,
                   lock: str | None = None, window: str | None = None,
                   style: app_commands.Choice[str] | None = None, anonymous: bool | None = None) -> None:
        task_text = clean_text(text, field="task text", max_len=TASK_MAX, required=True)
        seconds = _duration(ActionKind.TASK_ASSIGN, duration) if duration else None
        action = Action(kind=ActionKind.TASK_ASSIGN, task_text=task_text, points=points, seconds=seconds)
        await self._post(interaction, lock, action, window, style=style, anonymous=anonymous)

    @app_commands.command(name="board", description="Open a time board: each 🔼 adds and each 🔽 removes time")
    @app_commands.describe(add_per_vote="Time each 🔼 adds, e.g. 10m", remove_per_vote="Time each 🔽 removes",
                           window=WINDOW_HELP, lock=LOCK_HELP, **BALLOT_HELP)
    @app_commands.choices(style=STYLES)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def board(self, interaction: discord.Interaction, add_per_vote: str | None = "10m",
                    remove_per_vote: str | None = "5m", window: str | None = None,
                    lock: str | None = None, style: app_commands.Choice[str] | None = None,
                    anonymous: bool | None = None) -> None:
        add = _per_vote(add_per_vote)
        remove = _per_vote(remove_per_vote)
        await self._post(interaction, lock, None, window, board=(add, remove), style=style, anonymous=anonymous)

    @app_commands.command(name="wheel", description="A wheel: 2 to 6 options, the server's votes decide which applies")
    @app_commands.describe(options="2 to 6 options separated by commas, e.g. +30m, +2h, freeze 1h, pillory 10m, "
                                   "nothing",
                           mode="plurality: most votes wins (ties drawn) · wheel: drawn in proportion to the votes",
                           window=WINDOW_HELP, lock=LOCK_HELP, **BALLOT_HELP)
    @app_commands.choices(style=STYLES, mode=MODE_CHOICES)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def wheel(self, interaction: discord.Interaction, options: str,
                    mode: app_commands.Choice[str] | None = None, window: str | None = None,
                    lock: str | None = None, style: app_commands.Choice[str] | None = None,
                    anonymous: bool | None = None) -> None:
        parsed = parse_options(options)
        await self._post(interaction, lock, None, window, wheel=(parsed, _mode(mode)), style=style,
                         anonymous=anonymous)

    # ------------------------------------------------------------------ managing
    @app_commands.command(name="list", description="The open votes and boards in this server")
    async def list_votes(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        votes = self.service.open_for_guild(interaction.guild.id)[:20]
        tallies = await self.service.tallies(votes)
        e = discord.Embed(title="Open votes", colour=INFO)
        lines = []
        for ov in votes:
            what = ov.action.shown() if ov.action else "wheel" if ov.kind == "wheel" else "time board"
            t = tallies[ov.id]
            net = board_net(t.votes_for, t.votes_against, ov.add_per_vote, ov.remove_per_vote)
            if ov.kind == "wheel":
                snap = await self.service.snapshot(ov.id)
                counts = " · ".join(f"{escape_markdown(o.label)} {c}" for o, c in
                                    zip(snap.options, snap.counts, strict=False)) if snap else ""
            elif ov.kind == "decision":
                counts = f"✅ {t.votes_for} ❌ {t.votes_against}"
            else:
                counts = f"🔼 {t.votes_for} 🔽 {t.votes_against} · net {format_signed(net)}"
            link = f"https://discord.com/channels/{ov.guild_id}/{ov.channel_id}/{ov.message_id}" \
                if ov.message_id else ""
            lines.append(f"**#{ov.id}** {what} · {counts} · closes {timestamp(ov.deadline)} {link}")
        e.description = "\n".join(lines) if lines else "No open votes. Start one with `/vote add-time`."
        await interaction.response.send_message(embed=e, ephemeral=True, allowed_mentions=NONE)

    async def _vote_autocomplete(self, interaction: discord.Interaction,
                                 current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        out = []
        for ov in self.service.open_for_guild(interaction.guild.id):
            what = ov.action.summary() if ov.action else "wheel" if ov.kind == "wheel" else "time board"
            label = f"#{ov.id} · {what}"
            if current.strip().lstrip("#") in label:
                out.append(app_commands.Choice(name=label[:100], value=str(ov.id)))
        return out[:25]

    @app_commands.command(name="cancel", description="Cancel an open vote (proposer, lock owner or Manage Server)")
    @app_commands.describe(vote="The vote's number, e.g. 12")
    @app_commands.autocomplete(vote=_vote_autocomplete)
    async def cancel(self, interaction: discord.Interaction, vote: str) -> None:
        assert interaction.guild is not None
        vote_id = _vote_number(vote, "see `/vote list`")
        await self.service.cancel(vote_id, member_of(interaction), guild_id=interaction.guild.id)
        await interaction.response.send_message(f"Vote #{vote_id} was cancelled.", ephemeral=True)

    @app_commands.command(name="veto", description="Veto a passed vote on your lock while it waits for your veto")
    @app_commands.describe(vote="The vote's number, e.g. 12")
    async def veto(self, interaction: discord.Interaction, vote: str) -> None:
        assert interaction.guild is not None
        vote_id = _vote_number(vote, "the vote message's footer shows it")
        text = await self.service.veto(vote_id, member_of(interaction))  # from any server where the lock is linked
        await interaction.response.send_message(f"✋ {text}", ephemeral=True, allowed_mentions=NONE)

    # ------------------------------------------------------------------ schedules
    schedule = app_commands.Group(name="schedule", description="Votes that open by themselves")

    @schedule.command(name="add", description="Open a vote by itself: once, daily or weekly (Manage Server or the "
                                              "lock's people)")
    @app_commands.describe(
        kind="What opens: a vote on one action, a time board or a wheel",
        what="decision: +1h · board: +10m, -5m · wheel: +30m, +2h, freeze 1h, nothing",
        when="daily 20:00 · weekly sun 18:30 · once 2026-12-24 20:00 (the server's time zone)",
        channel="Where it is posted (the server's vote channel, else here)", window=WINDOW_HELP, lock=LOCK_HELP,
        mode="A wheel's rule: plurality (default) or wheel", **BALLOT_HELP)
    @app_commands.choices(kind=[app_commands.Choice(name=k, value=k) for k in ("decision", "board", "wheel")],
                          style=STYLES, mode=MODE_CHOICES)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def schedule_add(self, interaction: discord.Interaction, kind: app_commands.Choice[str], what: str,
                           when: str, channel: discord.TextChannel | None = None, window: str | None = None,
                           lock: str | None = None, mode: app_commands.Choice[str] | None = None,
                           style: app_commands.Choice[str] | None = None, anonymous: bool | None = None) -> None:
        assert interaction.guild is not None
        core = self.bot.core
        link = await core.resolve(interaction.guild.id, lock)
        window_s = _window(window, nothing="Nothing was scheduled.")
        if window_s is not None and not VOTE_WINDOW_MIN <= window_s <= VOTE_WINDOW_MAX:
            raise UserError(f"A vote runs from {format_duration(VOTE_WINDOW_MIN)} to "
                            f"{format_duration(VOTE_WINDOW_MAX)} (asked: {format_duration(window_s)}). "
                            "Nothing was scheduled.")
        ballots = _ballots(style, anonymous)
        if ballots.anonymous and ballots.style == "reactions":
            raise UserError("An anonymous vote uses buttons: with reactions everyone can see who reacted. Choose "
                            "`style: buttons` or leave the style out. Nothing was scheduled.")
        plan = plan_of(kind.value, what, mode=_mode(mode), window=window_s,
                       style="buttons" if ballots.anonymous else ballots.style, anonymous=ballots.anonymous)
        rule = parse_rule(when)
        rules = await core.vote_rules(interaction.guild.id)
        if channel is not None and channel.id != rules.channel_id and not member_of(interaction).manage_guild:
            raise UserError("Only members with Manage Server choose where a scheduled vote is posted; leave "
                            "`channel` out to post it in the server's vote channel (or here when none is set). "
                            "Nothing was scheduled.")
        target = channel or (interaction.guild.get_channel(rules.channel_id) if rules.channel_id else None) \
            or interaction.channel
        assert isinstance(target, discord.TextChannel | discord.Thread)
        s = await self.service.schedules.add(interaction.guild.id, link, target.id, member_of(interaction), plan,
                                             rule)
        assert s.next_at is not None
        await interaction.response.send_message(
            f"📅 Schedule #{s.id}: {plan.describe()}, {rule.describe()} ({rules.time_zone}) in {target.mention}. "
            f"First opening {timestamp(s.next_at, 'F')} ({timestamp(s.next_at, 'R')}). It opens like any vote: "
            "the lock's pause, card and limits and the open-vote cap apply; while the lock is paused it is skipped.",
            ephemeral=True, allowed_mentions=NONE)

    @schedule.command(name="list", description="This server's scheduled votes")
    async def schedule_list(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        rules = await self.bot.core.vote_rules(interaction.guild.id)
        e = discord.Embed(title=f"Scheduled votes · {rules.time_zone}", colour=INFO)
        lines = []
        for s in await self.service.schedules.of_guild(interaction.guild.id):
            plan = Plan.model_validate_json(s.plan_json)
            nxt = f"next {timestamp(s.next_at, 'f')}" if s.next_at is not None else "no opening left"
            last = f" · last: {escape_markdown(s.last_result)}" if s.last_result else ""
            lines.append(f"**#{s.id}** {plan.describe()} · {rule_of(s).describe()} in <#{s.channel_id}> · "
                         f"{nxt}{last}")
        e.description = "\n".join(lines)[:4000] if lines else \
            "No scheduled votes. Add one with `/vote schedule add`."
        await interaction.response.send_message(embed=e, ephemeral=True, allowed_mentions=NONE)

    @schedule.command(name="remove", description="Remove a scheduled vote (votes it opened run on)")
    @app_commands.describe(schedule="The schedule's number, e.g. 3 (see /vote schedule list)")
    async def schedule_remove(self, interaction: discord.Interaction, schedule: str) -> None:
        assert interaction.guild is not None
        number = _vote_number(schedule, "see `/vote schedule list`")
        s = await self.service.schedules.remove(interaction.guild.id, number, member_of(interaction))
        await interaction.response.send_message(
            f"Schedule #{s.id} was removed; it opens no more votes.", ephemeral=True, allowed_mentions=NONE)

    # ------------------------------------------------------------------ reactions
    # called by the bot as the gateway delivers each reaction, in order, with no task of its own (bot.app on_now):
    # a ballot is counted at once when what it needs is in memory
    def _reaction_added(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.guild_id is None or payload.member is None or payload.member.bot:
            return
        self.service.reaction_now(payload.message_id, _member(payload.member), str(payload.emoji), True)

    def _reaction_removed(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.guild_id is None or (self.bot.user and payload.user_id == self.bot.user.id):
            return
        # removing never needs eligibility: only a counted ballot can be retracted
        who = Member(id=payload.user_id, name=str(payload.user_id))
        self.service.reaction_now(payload.message_id, who, str(payload.emoji), False)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.service.message_deleted(payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """A moderator's purge: every vote whose message went is cancelled, as with a single delete."""
        for message_id in payload.message_ids:
            await self.service.message_deleted(message_id)


async def _member_for(guild: discord.Guild | None, user: discord.User | discord.Member,
                     need_roles: bool) -> Member | None:
    """The member as the eligibility rules need them; None when they left the server (only known when the roles
    had to be looked up)."""
    if isinstance(user, discord.Member) or guild is None:
        return _member(user)
    cached = guild.get_member(user.id)
    if cached is not None:
        return _member(cached)
    if not need_roles:
        return _member(user)
    try:
        return _member(await guild.fetch_member(user.id))
    except discord.NotFound:
        return None


def _member(user: discord.User | discord.Member) -> Member:
    roles = frozenset(r.id for r in getattr(user, "roles", ()))
    # the account's creation time from its snowflake (what ``user.created_at`` computes, without the datetime)
    created = ((user.id >> 22) + discord.utils.DISCORD_EPOCH) / 1000
    return Member(id=user.id, name=user.display_name, role_ids=roles, is_bot=user.bot, created_at=created)


def _duration(kind: ActionKind, raw: str) -> int:
    low, high = DURATION_BOUNDS[kind]
    try:
        return parse_duration(raw, minimum=max(1, low), maximum=high)
    except ValueError as err:
        raise UserError(f"Nothing was proposed. {err}") from None


def _action(kind: ActionKind, duration: str | None, reason: str | None) -> Action:
    r = clean_text(reason, field="reason", max_len=REASON_MAX)
    seconds = _duration(kind, duration) if duration is not None else None
    try:
        return Action(kind=kind, seconds=seconds, reason=r)
    except ValueError as err:
        raise UserError(f"Nothing was proposed: {LABELS[kind]} {err}") from None


def _window(raw: str | None, *, nothing: str = "Nothing was proposed.") -> int | None:
    if raw is None:
        return None
    try:
        # the range (1 minute to 7 days) is the core's to refuse: it audits it and starts the proposer's cooldown
        return parse_duration(raw)
    except ValueError as err:
        raise UserError(f"{nothing} The window: {err}") from None


def _ballots(style: app_commands.Choice[str] | None, anonymous: bool | None) -> BallotChoice:
    chosen: Literal["reactions", "buttons"] | None = None
    if style is not None:
        chosen = "buttons" if style.value == "buttons" else "reactions"
    return BallotChoice(style=chosen, anonymous=bool(anonymous))


def _mode(mode: app_commands.Choice[str] | None) -> Mode:
    return "wheel" if mode is not None and mode.value == "wheel" else "plurality"


def _per_vote(raw: str | None) -> int:
    try:
        return parse_duration_or_zero(raw, maximum=86400, empty_is_zero=True)
    except ValueError as err:
        raise UserError(f"Nothing was proposed. {err}") from None


async def setup(bot: ChastifyBot) -> None:
    await bot.add_cog(VotesCog(bot))


__all__: list[Any] = ["VotesCog", "vote_embed"]
