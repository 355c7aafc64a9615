"""Shared Discord glue: turning members into core objects, the lock option, embeds and colours."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from discord import app_commands

from bot.app import ChastifyBot
from bot.durations import format_duration
from bot.members import Member, Place
from bot.services import Core, StatusView
from bot.store.models import Link
from bot.text import escape_markdown
from bot.voting.rules import progress_bar

NONE = discord.AllowedMentions.none()
OK = discord.Colour.green()
WARN = discord.Colour.orange()
BAD = discord.Colour.red()
INFO = discord.Colour.blurple()


def core_of(interaction: discord.Interaction) -> Core:
    client = interaction.client
    assert isinstance(client, ChastifyBot)
    return client.core


def member_of(interaction: discord.Interaction) -> Member:
    user = interaction.user
    roles = frozenset(r.id for r in getattr(user, "roles", ()))
    perms = interaction.permissions
    return Member(id=user.id, name=user.display_name, role_ids=roles, manage_guild=perms.manage_guild,
                  is_bot=user.bot, created_at=user.created_at.timestamp())


def place_of(interaction: discord.Interaction) -> Place:
    guild = interaction.guild
    assert guild is not None
    channel = interaction.channel
    return Place(guild_id=guild.id, guild_name=guild.name,
                 channel_id=channel.id if channel else None,
                 channel_name=getattr(channel, "name", None))


def owner_name(guild: discord.Guild | None, link: Link) -> str:
    member = guild.get_member(link.owner_id) if guild else None
    return member.display_name if member else (link.owner_name or f"member {link.owner_id}")


def lock_label(guild: discord.Guild | None, link: Link) -> str:
    label = f"{link.title or 'Untitled lock'} — {owner_name(guild, link)}"
    if link.state != "active":
        label += f" ({link.state})"
    return label[:100]


async def lock_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    if interaction.guild is None:
        return []
    links = await core_of(interaction).links(interaction.guild.id)
    needle = current.lower().strip()
    out = []
    for link in links:
        label = lock_label(interaction.guild, link)
        if not needle or needle in label.lower():
            out.append(app_commands.Choice(name=label, value=str(link.id)))
    return out[:25]


def status_embed(view: StatusView, guild: discord.Guild | None) -> discord.Embed:
    link = view.link
    s = view.session
    data = s.lock_data if s else None
    title = (data.lock_title if data and data.lock_title else link.title) or "Untitled lock"
    embed = discord.Embed(title=f"🔒 {title}", colour=INFO if view.state == "active" else WARN)
    embed.set_footer(text=f"Linked by {owner_name(guild, link)} · {link.role}")
    if view.problem:
        embed.description = f"⚠️ {view.problem}"
    if view.state == "paused":
        embed.add_field(name="Paused", value="The owner used the safeword: nobody can act on this lock, in any "
                                             "server, until they run `/chastify resume`.", inline=False)
    elif view.state == "away":
        embed.add_field(name="Held", value="The lock's owner is no longer a member of this server: nobody here can "
                                           "act on it until they come back and run `/chastify resume`.",
                        inline=False)
    if data is None:
        return embed
    if data.wearer_username:
        embed.add_field(name="Wearer", value=escape_markdown(data.wearer_username))
    if data.keyholder_username:
        embed.add_field(name="Keyholder", value=escape_markdown(data.keyholder_username))
    remaining = data.time_remaining_seconds
    if remaining is not None:
        value = format_duration(remaining)
        if data.max_time_remaining_seconds:
            bar = progress_bar(remaining, data.max_time_remaining_seconds)
            value += f"\n{bar} of {format_duration(data.max_time_remaining_seconds)} max"
        embed.add_field(name="Time remaining", value=value, inline=False)
    if data.time_locked_seconds is not None:
        embed.add_field(name="Locked so far", value=format_duration(data.time_locked_seconds))
    if data.frozen is not None:
        embed.add_field(name="Frozen", value="❄️ yes" if data.frozen else "no")
    pillory = (data.model_extra or {}).get("pillory")
    if isinstance(pillory, bool):
        embed.add_field(name="Pillory", value="yes" if pillory else "no")
    if data.task_assigned is not None:
        task = "assigned" if data.task_assigned else "none"
        if data.task_points is not None and data.task_points_required:
            task += f" · {data.task_points}/{data.task_points_required} points"
        embed.add_field(name="Task", value=task)
    if data.unlockable:
        embed.add_field(name="Unlockable", value="✅ the timer has run out")
    embed.add_field(name="Open votes", value=str(view.open_votes))
    if view.card is not None:
        card = "\n".join(f"**{heading}:** {text}" for heading, text in view.card.lines())
        embed.add_field(name="Consent card (set by the lock's owner, in force in every server)", value=card[:1024],
                        inline=False)
    return embed


def timestamp(epoch: float, style: str = "R") -> str:
    return discord.utils.format_dt(datetime.fromtimestamp(epoch, tz=UTC), style=style)  # type: ignore[arg-type]
