"""/chastify: link, unlink, status, trust, settings, history, limits, safeword, resume."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import permissions
from bot.app import ChastifyBot
from bot.config import VOTE_WINDOW_MAX, VOTE_WINDOW_MIN
from bot.core.history import CHART_DAYS_MAX
from bot.durations import DurationError, format_duration, parse_duration, parse_duration_or_zero, parse_share
from bot.errors import UserError
from bot.events import OwnerNotice
from bot.notify import check_zone
from bot.policy import KIND_PRESETS, OwnerLimits
from bot.services import Core
from bot.store.models import AuditEntry, Link
from bot.text import escape_markdown, shown_text
from cogs._errors import per_member, report
from cogs._ui import (
    INFO,
    NONE,
    OK,
    WARN,
    core_of,
    lock_autocomplete,
    member_of,
    owner_name,
    place_of,
    status_embed,
    timestamp,
)

TOKEN_FIELD = "dev_token"  # noqa: S105 - the modal field id, not a secret
log = logging.getLogger("cogs.chastify")
# per member and server: /chastify link 3 times per 10 minutes (a typo'd token or two, then a pause), /chastify
# status 5 times a minute (each one reads the lock from Chastify, whose budget the lock shares)
LINK_RATE, LINK_PER = 3, 600.0
STATUS_RATE, STATUS_PER = 5, 60.0
HISTORY_REFUSALS = 500  # the refusals /chastify history reads and collapses


class LinkModal(discord.ui.Modal, title="Link your Chastify lock"):
    token: discord.ui.TextInput[LinkModal] = discord.ui.TextInput(
        label="Chastify DEV token", custom_id=TOKEN_FIELD, style=discord.TextStyle.short,
        placeholder="Paste the DEV token from Chastify > Developer API", min_length=1, max_length=600)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        core = core_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            result = await core.link(place_of(interaction), member_of(interaction), self.token.value)
        except UserError as refusal:  # an expected refusal, answered here rather than raised as an error
            await report(interaction, refusal)
            return
        data = result.session.lock_data
        title = escape_markdown(data.lock_title or "your lock")
        verb = "Re-linked" if result.replaced else "Linked"
        lines = [f"{verb} **{title}** as **{result.session.role or 'wearer'}**."]
        if data.time_remaining_seconds is not None:
            lines.append(f"Time remaining: {format_duration(data.time_remaining_seconds)}.")
        lines.append("Your token is stored encrypted and will never be shown again. "
                     "Trust people with `/chastify trust`, set your limits with `/chastify limits`.")
        await interaction.followup.send("\n".join(lines), ephemeral=True, allowed_mentions=NONE)

    # discord.py's Modal.on_error takes (interaction, error) while the View it derives from takes an item too
    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error)


@app_commands.guild_only()
class ChastifyCog(commands.GroupCog, group_name="chastify", group_description="Link and manage Chastify locks"):
    def __init__(self, bot: ChastifyBot) -> None:
        self.bot = bot
        super().__init__()

    @property
    def core(self) -> Core:
        return self.bot.core

    async def cog_load(self) -> None:
        self._unsubscribe = self.core.events.subscribe(OwnerNotice, self._owner_notice)

    async def cog_unload(self) -> None:
        self._unsubscribe()

    async def _owner_notice(self, notice: OwnerNotice) -> None:
        await self.tell_owner(notice.link, notice.message)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was removed from a server: hold every link there and cancel its votes and queue."""
        held = await self.core.guild_gone(guild.id)
        log.info("removed from a server; %d link(s) held", held, extra={"guild": guild.id})

    async def tell_owner(self, link: Link, message: str) -> None:
        """Tell a lock's owner something important (an uncertain action, a broken token, an ended lock) by
        direct message. When the owner does not accept DMs the bot stays silent and writes it to the audit log,
        where ``/chastify history`` shows it."""
        guild = self.bot.get_guild(link.guild_id)
        where = f"From **{escape_markdown(guild.name)}**: " if guild else ""
        embed = discord.Embed(title="About your Chastify lock", description=(where + message)[:4000], colour=WARN)
        try:
            user = self.bot.get_user(link.owner_id) or await self.bot.fetch_user(link.owner_id)
            await user.send(embed=embed, allowed_mentions=NONE)
        except discord.HTTPException as err:
            log.info("could not DM the lock owner (%s)", type(err).__name__,
                     extra={"guild": link.guild_id, "lock": link.lock_id})
            await self.core.note_undelivered(link, message)

    # ---------------------------------------------------------------- link / unlink
    @app_commands.command(name="link", description="Link your active Chastify lock with your DEV token")
    @app_commands.checks.cooldown(LINK_RATE, LINK_PER, key=per_member)  # each link asks Chastify
    async def link(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(LinkModal())

    @app_commands.command(name="unlink", description="Remove a lock's link and its stored token")
    @app_commands.describe(member="Whose lock to unlink (needs Manage Server); yours if left out")
    async def unlink(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        owner_id = member.id if member else interaction.user.id
        link, cancelled = await self.core.unlink(place_of(interaction), member_of(interaction), owner_id)
        text = f"Unlinked **{escape_markdown(link.title or 'the lock')}**; its token was deleted."
        if cancelled:
            text += f" {len(cancelled)} open vote(s) were cancelled."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NONE)

    # ---------------------------------------------------------------- status / history
    @app_commands.command(name="status", description="Show a linked lock")
    @app_commands.describe(lock="Which lock (only needed when several are linked)")
    @app_commands.autocomplete(lock=lock_autocomplete)
    @app_commands.checks.cooldown(STATUS_RATE, STATUS_PER, key=per_member)  # each status asks Chastify
    async def status(self, interaction: discord.Interaction, lock: str | None = None) -> None:
        assert interaction.guild is not None
        link = await self.core.resolve(interaction.guild.id, lock)
        await interaction.response.defer(thinking=True)
        view = await self.core.status(link)
        await interaction.followup.send(embed=status_embed(view, interaction.guild), allowed_mentions=NONE)

    @app_commands.command(name="history", description="The last actions taken or refused on a lock")
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def history(self, interaction: discord.Interaction, lock: str | None = None) -> None:
        assert interaction.guild is not None
        link = await self.core.resolve(interaction.guild.id, lock)
        actions, refusals = await self.core.history(link, member_of(interaction), refusal_window=HISTORY_REFUSALS)
        # every stored text (the lock's title, summaries with a task's text, details with reasons and server
        # messages) is shown through shown_text: one line, cut, then escaped (no markdown, no masked link)
        embed = discord.Embed(title=f"History of {shown_text(link.title or 'the lock', 200)}", colour=INFO)
        icons = {"applied": "✅", "refused": "⛔", "failed": "❌", "uncertain": "❓", "cancelled": "🚫", "vetoed": "✋"}

        def who(e: AuditEntry) -> str:
            return f"<@{e.actor_id}>" if e.actor_id else shown_text(e.source, 40)

        def fit(lines: list[str], line: str, room: int) -> bool:
            """Whole lines only: a cut line could leave half an escape or an open **."""
            if sum(len(x) + 1 for x in lines) + len(line) > room:
                return False
            lines.append(line)
            return True

        # refusals apart, repeats collapsed: however many there are, they never push the actions out
        refused: list[str] = []
        for e, times in refusals:
            via = "" if e.source == "direct" else f" · via {shown_text(e.source, 20)}"
            head = (f"⛔ {timestamp(e.created_at)} **{shown_text(e.action_summary, 80)}** · refused" if times == 1 else
                    f"⛔ **{shown_text(e.action_summary, 80)}** · refused ×{times}, last {timestamp(e.created_at)}")
            line = f"{head} · {who(e)}{via}"
            if e.detail:
                line += f"\n  ↳ {shown_text(e.detail, 150)}"
            if not fit(refused, line, 1500):
                break
        done: list[str] = []
        room = 4000 - (sum(len(x) + 1 for x in refused) + 60 if refused else 0)
        for e in actions:
            line = (f"{icons.get(e.outcome, '•')} {timestamp(e.created_at)} **{shown_text(e.action_summary, 80)}** "
                    f"· {shown_text(e.outcome, 40)} · {who(e)}")
            if e.detail:
                line += f"\n  ↳ {shown_text(e.detail, 150)}"
            if not fit(done, line, room):
                break
        parts = ["\n".join(done) if done else ("No actions yet." if refused else "Nothing yet.")]
        if refused:
            counted = sum(times for _, times in refusals)
            more = f", counted over the last {counted}" if counted >= HISTORY_REFUSALS else ""
            parts.append(f"**Refused** (newest first, repeats collapsed{more})\n" + "\n".join(refused))
        embed.description = "\n\n".join(parts)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="chart", description="A picture of a lock's remaining time over the last days")
    @app_commands.describe(lock="Which lock (only needed when several are linked)",
                           days=f"How many days back (1 to {CHART_DAYS_MAX}, default 7)")
    @app_commands.autocomplete(lock=lock_autocomplete)
    @app_commands.checks.cooldown(STATUS_RATE, STATUS_PER, key=per_member)  # each chart asks Chastify
    async def chart(self, interaction: discord.Interaction, lock: str | None = None,
                    days: app_commands.Range[int, 1, CHART_DAYS_MAX] = 7) -> None:
        assert interaction.guild is not None
        guild = interaction.guild
        link = await self.core.resolve(guild.id, lock)
        reader = member_of(interaction)
        permissions.require_history(reader, await self.core.may_act(link, reader))  # refused privately, not deferred
        await interaction.response.defer(thinking=True)

        def name_of(user_id: int) -> str:
            member = guild.get_member(user_id)
            return member.display_name if member is not None else f"member {str(user_id)[-4:]}"

        data = await self.core.chart(link, reader, days, name_of=name_of)
        from bot.chart import render  # matplotlib loads with it: only when a chart is asked for

        title = f"{link.title or 'Untitled lock'}: remaining time, last {days} day{'s' if days != 1 else ''}"
        png = await asyncio.to_thread(render, data, title=title)
        changes = len(data.window_changes())
        await interaction.followup.send(
            f"📈 **{escape_markdown(link.title or 'Untitled lock')}**: {changes} change{'s' if changes != 1 else ''} "
            f"by the bot in the last {days} day{'s' if days != 1 else ''}"
            + ("" if data.end_date is not None else " (the lock's time could not be read from Chastify now)")
            + ".", file=discord.File(io.BytesIO(png), filename="lock-time.png"), allowed_mentions=NONE)

    # ---------------------------------------------------------------- trust
    @app_commands.command(name="trust", description="Let a member or role act on your lock with /lock and /task")
    async def trust(self, interaction: discord.Interaction, who: discord.Member | discord.Role) -> None:
        assert interaction.guild is not None
        link = await self.core.owned_link(interaction.guild.id, member_of(interaction))
        if isinstance(who, discord.Member) and who.bot:
            raise UserError("Bots cannot be trusted.")
        if isinstance(who, discord.Role) and who.is_default():
            raise UserError("Trusting @everyone would let anyone act on your lock; pick a role or a member.")
        kind: Literal["role", "member"] = "role" if isinstance(who, discord.Role) else "member"
        added = await self.core.trust(link, kind, who.id)
        text = f"{who.mention} {'can now' if added else 'could already'} act on your lock."
        await interaction.response.send_message(text + await self._trusted_text(link), ephemeral=True,
                                                allowed_mentions=NONE)

    @app_commands.command(name="untrust", description="Stop a member or role acting on your lock")
    async def untrust(self, interaction: discord.Interaction, who: discord.Member | discord.Role) -> None:
        assert interaction.guild is not None
        link = await self.core.owned_link(interaction.guild.id, member_of(interaction))
        kind: Literal["role", "member"] = "role" if isinstance(who, discord.Role) else "member"
        removed = await self.core.untrust(link, kind, who.id)
        text = f"{who.mention} {'can no longer' if removed else 'was not trusted and cannot'} act on your lock."
        await interaction.response.send_message(text + await self._trusted_text(link), ephemeral=True,
                                                allowed_mentions=NONE)

    async def _trusted_text(self, link: Link) -> str:
        entries = await self.core.trusted(link)
        if not entries:
            return "\nNobody else is trusted."
        names = [f"<@&{e.target_id}>" if e.kind == "role" else f"<@{e.target_id}>" for e in entries]
        return "\nTrusted: " + ", ".join(names)

    # ---------------------------------------------------------------- settings (Manage Server)
    @app_commands.command(name="settings", description="Server vote settings (Manage Server); no options shows them")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(
        vote_channel="Where votes are posted", voter_role="Only members with this role may vote",
        window="How long votes stay open, e.g. 1h", quorum="Least votes for a decision",
        majority="Share of for-votes that must be exceeded, 50-99 (%)",
        instant_pass="Pass at once at this many for-votes (0 = off)",  # noqa: S106
        cooldown="Time between one member's proposals",
        max_open="Open votes allowed per lock", min_account_age="Least account age of voters, in days",
        reset="Forget all settings and use the bot's defaults",
        reminder="Remind when this share of a vote's window is left, e.g. 10% (off: no reminders)",
        reminder_role="The one role a reminder mentions (@everyone: mention nobody)",
        ballot_style="How members vote on new votes: reactions or buttons (buttons can be anonymous)",
        time_zone="The time zone scheduled votes run in, e.g. Europe/Berlin (default UTC)")
    @app_commands.choices(ballot_style=[app_commands.Choice(name="reactions", value="reactions"),
                                        app_commands.Choice(name="buttons", value="buttons")])
    async def settings(self, interaction: discord.Interaction, vote_channel: discord.TextChannel | None = None,
                       voter_role: discord.Role | None = None, window: str | None = None,
                       quorum: app_commands.Range[int, 1, 1000] | None = None,
                       majority: app_commands.Range[int, 50, 99] | None = None,
                       instant_pass: app_commands.Range[int, 0, 1000] | None = None,
                       cooldown: str | None = None, max_open: app_commands.Range[int, 1, 25] | None = None,
                       min_account_age: app_commands.Range[int, 0, 3650] | None = None,
                       reset: bool = False, reminder: str | None = None,
                       reminder_role: discord.Role | None = None,
                       ballot_style: app_commands.Choice[str] | None = None, time_zone: str | None = None) -> None:
        assert interaction.guild is not None
        permissions.require_manage_server(member_of(interaction))  # before parsing: a refusal says only this
        gid = interaction.guild.id
        changes: dict[str, Any] = {}
        try:
            if window is not None:
                changes["window_seconds"] = parse_duration(window, minimum=VOTE_WINDOW_MIN, maximum=VOTE_WINDOW_MAX)
            if cooldown is not None:
                changes["proposal_cooldown_seconds"] = parse_duration_or_zero(cooldown, maximum=7 * 86400)
            if reminder is not None:
                changes["reminder_fraction"] = parse_share(reminder)
        except DurationError as err:
            raise UserError(f"Nothing was changed. {err}") from None
        if time_zone is not None:
            changes["time_zone"] = check_zone(time_zone)
        if ballot_style is not None:
            changes["ballot_style"] = ballot_style.value
        if reminder_role is not None:
            changes["reminder_role_id"] = None if reminder_role.is_default() else reminder_role.id
        if vote_channel is not None:
            changes["vote_channel_id"] = vote_channel.id
        if voter_role is not None:
            changes["voter_role_id"] = None if voter_role.is_default() else voter_role.id
        for key, value in (("quorum", quorum), ("instant_pass", instant_pass), ("max_open_per_lock", max_open),
                           ("min_account_age_days", min_account_age)):
            if value is not None:
                changes[key] = value
        if majority is not None:
            changes["majority"] = majority / 100
        rules = await self.core.change_settings(gid, member_of(interaction), changes, reset=reset)
        embed = discord.Embed(title="Vote settings" + (" (updated)" if changes or reset else ""), colour=OK)
        embed.add_field(name="Vote channel", value=f"<#{rules.channel_id}>" if rules.channel_id else "where asked")
        embed.add_field(name="Voter role", value=f"<@&{rules.voter_role_id}>" if rules.voter_role_id else "everyone")
        embed.add_field(name="Window", value=format_duration(rules.window_seconds))
        embed.add_field(name="Quorum", value=str(rules.quorum))
        embed.add_field(name="Majority", value=f"more than {rules.majority:.0%}")
        embed.add_field(name="Instant pass", value=str(rules.instant_pass or "off"))
        embed.add_field(name="Proposal cooldown", value=format_duration(rules.proposal_cooldown_seconds))
        embed.add_field(name="Open votes per lock", value=str(rules.max_open_per_lock))
        embed.add_field(name="Least account age", value=f"{rules.min_account_age_days} days")
        embed.add_field(name="Reminder", value=(f"when {rules.reminder_fraction:.0%} of the window is left"
                                                if rules.reminder_fraction else "off"))
        embed.add_field(name="Reminder mentions",
                        value=f"<@&{rules.reminder_role_id}>" if rules.reminder_role_id else "nobody")
        embed.add_field(name="Ballots", value=rules.ballot_style)
        embed.add_field(name="Time zone (schedules)", value=rules.time_zone)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NONE)

    # ---------------------------------------------------------------- the owner's limits and safeword
    @app_commands.command(name="limits", description="Your limits for your lock (only you see this)")
    @app_commands.describe(
        max_add="Most time one action may add, e.g. 1h", max_add_per_day="Most time added per 24 h, e.g. 4h",
        max_freeze="Longest freeze", max_pillory="Longest pillory", min_quorum="Least quorum for votes on your lock",
        votes="Which actions votes and boards may take", trusted="Which actions trusted people may take",
        owner_votes="Whether your own reactions count in votes",
        boards="Whether time boards may be opened on your lock",
        wheels="Whether wheel votes (one option drawn by the votes) may be opened on your lock",
        veto="Minutes a passed vote waits so you can veto it (0 = off, up to 60)")
    @app_commands.choices(
        votes=[app_commands.Choice(name=n, value=n) for n in KIND_PRESETS],
        trusted=[app_commands.Choice(name=n, value=n) for n in KIND_PRESETS])
    async def limits(self, interaction: discord.Interaction, max_add: str | None = None,
                     max_add_per_day: str | None = None, max_freeze: str | None = None,
                     max_pillory: str | None = None, min_quorum: app_commands.Range[int, 1, 1000] | None = None,
                     votes: str | None = None, trusted: str | None = None, owner_votes: bool | None = None,
                     boards: bool | None = None, veto: app_commands.Range[int, 0, 60] | None = None,
                     wheels: bool | None = None) -> None:
        assert interaction.guild is not None
        who = member_of(interaction)
        lock_id, title = await self.core.my_lock(place_of(interaction), who)
        update: dict[str, Any] = {}
        try:
            for key, raw, high in (("max_add_per_action", max_add, 30 * 86400),
                                   ("max_add_per_day", max_add_per_day, 60 * 86400),
                                   ("max_freeze", max_freeze, 86400), ("max_pillory", max_pillory, 86400)):
                if raw is not None:
                    update[key] = parse_duration_or_zero(raw, maximum=high)
        except DurationError as err:
            raise UserError(f"Nothing was changed. {err}") from None
        if min_quorum is not None:
            update["min_vote_quorum"] = min_quorum
        if votes is not None:
            update["vote_allowed"] = KIND_PRESETS[votes]
        if trusted is not None:
            update["direct_allowed"] = KIND_PRESETS[trusted]
        if owner_votes is not None:
            update["allow_owner_vote"] = owner_votes
        if boards is not None:
            update["allow_boards"] = boards
        if wheels is not None:
            update["allow_wheels"] = wheels
        if veto is not None:
            update["veto_minutes"] = veto
        current = await self.core.set_my_limits(lock_id, who, update) if update \
            else await self.core.lock_limits(lock_id)
        await interaction.response.send_message(embed=limits_embed(current, changed=bool(update), title=title),
                                                ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="safeword", description="Pause everything on your lock at once")
    async def safeword(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        done = await self.core.safeword(place_of(interaction), member_of(interaction))
        cancelled = (f"{len(done.cancelled_votes)} open vote(s) and {done.cancelled_actions} queued action(s) were "
                     "cancelled.")
        names = ", ".join(f"**{escape_markdown(t)}**" for t in done.titles)
        await interaction.followup.send(
            f"Paused {names} in every server where it is linked. Nobody can act on it until you run "
            f"`/chastify resume` (in any server). {cancelled}", ephemeral=True, allowed_mentions=NONE)
        channel = interaction.channel
        if done.newly_paused and isinstance(channel, discord.abc.Messageable):
            await channel.send(embed=discord.Embed(
                description=f"The lock {names} is paused by its owner. Votes on it were cancelled.", colour=WARN),
                allowed_mentions=NONE)

    @app_commands.command(name="resume", description="Lift the pause you put on your lock")
    async def resume(self, interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        done = await self.core.resume(place_of(interaction), member_of(interaction))

        def names(titles: list[str]) -> str:
            return ", ".join(f"**{escape_markdown(t)}**" for t in titles)

        lines = []
        if done.resumed:
            lines.append(f"Resumed: {names(done.resumed)} can be acted on again, within your limits.")
        if done.still_paused:
            lines.append(f"You lifted your pause, but {names(done.still_paused)} stays paused: the other person "
                         "who linked it used the safeword too, and only they can lift theirs.")
        if done.unheld:
            lines.append(f"Welcome back: {names(done.unheld)} can be acted on in this server again.")
        await interaction.response.send_message("\n".join(lines), ephemeral=True, allowed_mentions=NONE)


def limits_embed(limits: OwnerLimits, *, changed: bool, title: str) -> discord.Embed:
    from bot.actions import LABELS, ActionKind

    order = list(ActionKind)

    def kinds(values: frozenset[Any]) -> str:
        return ", ".join(LABELS[k] for k in sorted(values, key=order.index)) or "nothing"

    e = discord.Embed(title=f"Limits on {escape_markdown(title)}" + (" (updated)" if changed else ""),
                      colour=OK)
    e.description = ("In force on this lock in every server; they override everyone: trusted people, votes and "
                     "server admins. Where the lock's wearer and keyholder chose differently the stricter applies, "
                     "and a limit is looser than the default only when everyone who holds the lock chose so.")
    e.add_field(name="Most added per action", value=format_duration(limits.max_add_per_action))
    e.add_field(name="Most added per 24 h", value=format_duration(limits.max_add_per_day))
    e.add_field(name="Longest freeze", value=format_duration(limits.max_freeze))
    e.add_field(name="Longest pillory", value=format_duration(limits.max_pillory))
    e.add_field(name="Least vote quorum", value=str(limits.min_vote_quorum))
    e.add_field(name="Your reactions count", value="yes" if limits.allow_owner_vote else "no")
    e.add_field(name="Time boards", value="allowed" if limits.allow_boards else "not allowed")
    e.add_field(name="Wheel votes", value="allowed" if limits.allow_wheels else "not allowed")
    e.add_field(name="Veto window", value=f"{limits.veto_minutes} min" if limits.veto_minutes else "off")
    e.add_field(name="Votes may", value=kinds(limits.vote_allowed), inline=False)
    e.add_field(name="Trusted people may", value=kinds(limits.direct_allowed), inline=False)
    return e


async def setup(bot: ChastifyBot) -> None:
    await bot.add_cog(ChastifyCog(bot))


__all__ = ["ChastifyCog", "LinkModal", "owner_name"]
