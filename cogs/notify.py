"""Notifications to the people who hold a lock (``bot/notify.py``): the Discord inbox the notifier DMs through, and
``/chastify notify``, added to the ``/chastify`` group of ``cogs.chastify`` while this extension is loaded."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import ChastifyBot
from bot.durations import format_duration
from bot.notify import CHASTIFY_SPACING, CHASTIFY_TARGETS, Notifier, NotifySettings, quiet_text
from bot.text import escape_markdown
from cogs._ui import NONE, OK, WARN, member_of, place_of, timestamp

log = logging.getLogger("cogs.notify")
COMMAND = "notify"
TARGET_NAMES = {"off": "off", "wearer": "the wearer", "keyholder": "the keyholder", "both": "wearer and keyholder"}


class DiscordInbox:
    """The notifier's port to Discord: a DM, never mentioning anyone."""

    def __init__(self, bot: discord.Client) -> None:
        self.bot = bot

    async def dm(self, user_id: int, text: str) -> bool:
        try:
            user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
            await user.send(text[:2000], allowed_mentions=discord.AllowedMentions.none())
        except (discord.Forbidden, discord.NotFound) as err:  # DMs closed, or the user is gone: noted once
            log.info("could not DM a lock's person (%s)", type(err).__name__)
            return False
        # any other failure (Discord trouble, a rate limit) is raised: the notifier logs it, and DMs stay on
        return True


def settings_embed(view: NotifySettings, title: str, *, changed: bool) -> discord.Embed:
    p = view.prefs
    e = discord.Embed(title=f"Notifications about {escape_markdown(title)}" + (" (updated)" if changed else ""),
                      colour=OK)
    e.description = ("What happens to your lock (votes opened and closed, actions by people you trust, a pause or "
                     "resume) is told to you this way, in every server where it is linked. Nobody is told about "
                     "their own doing.")
    e.add_field(name="Discord DM", value="on" if p.dm else "off")
    chastify = TARGET_NAMES.get(p.chastify, p.chastify)
    if p.chastify != "off":
        chastify += (f" (batched: at most one every {format_duration(int(CHASTIFY_SPACING))}, only when the lock's "
                     "action budget has room to spare)")
        if not view.own_link:
            chastify += "\n⚠️ No link made with your own token: nothing can be sent until you link the lock."
    e.add_field(name="Chastify notification", value=chastify, inline=False)
    quiet = quiet_text(p)
    if p.quiet is not None:
        quiet += " · now: quiet" if view.quiet_now else " · now: not quiet"
        quiet += ("\nDuring them news waits and comes as one DM when they end; a pause or resume always comes at "
                  "once.")
    e.add_field(name="Quiet hours", value=quiet, inline=False)
    e.add_field(name="Time zone", value=p.timezone or "not set")
    if view.held_dm or view.held_chastify:
        e.add_field(name="Waiting", value=f"{view.held_dm} for your digest DM · {view.held_chastify} for Chastify")
    if view.dm_failed_since is not None:
        e.colour = WARN
        e.add_field(name="DMs had failed", value=(
            f"A DM could not be delivered {timestamp(view.dm_failed_since, 'R')} (are your DMs closed?). They are "
            "tried again from now on: allow direct messages from this server's members."), inline=False)
    return e


class NotifyCog(commands.Cog):
    def __init__(self, bot: ChastifyBot) -> None:
        self.bot = bot
        self.notifier = Notifier.for_core(bot.core, DiscordInbox(bot))
        self._group: app_commands.Group | None = None

    async def cog_load(self) -> None:
        group = self.bot.tree.get_command("chastify")
        if not isinstance(group, app_commands.Group):
            raise RuntimeError("cogs.notify needs cogs.chastify loaded first (it adds /chastify notify)")
        command: app_commands.Command[Any, ..., None] = app_commands.Command(
            name=COMMAND, description="How you hear about your lock: DM, Chastify notification, quiet hours",
            callback=self.notify)
        group.add_command(command)
        self._group = group
        if self.bot.is_ready():  # loaded into a running bot
            self.notifier.start()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self.notifier.start()  # once: later calls do nothing

    async def cog_unload(self) -> None:
        if self._group is not None:
            self._group.remove_command(COMMAND)
            self._group = None
        await self.notifier.aclose()

    @app_commands.describe(
        dm="Tell me by Discord DM (on by default)",
        chastify="Also send a Chastify notification (batched; spends the lock's action budget)",
        quiet="Quiet hours in your time zone, e.g. 22:00-07:00, or off",
        timezone="Your time zone, e.g. Europe/Berlin (needed for quiet hours)")
    @app_commands.choices(chastify=[app_commands.Choice(name=n, value=n) for n in CHASTIFY_TARGETS])
    async def notify(self, interaction: discord.Interaction, dm: bool | None = None, chastify: str | None = None,
                     quiet: str | None = None, timezone: str | None = None) -> None:
        assert interaction.guild is not None
        core = self.bot.core
        lock_id, title = await core.my_lock(place_of(interaction), member_of(interaction))
        changed = any(v is not None for v in (dm, chastify, quiet, timezone))
        view = await self.notifier.change(lock_id, interaction.user.id, dm=dm, chastify=chastify, quiet=quiet,
                                          timezone=timezone)
        await interaction.response.send_message(embed=settings_embed(view, title, changed=changed), ephemeral=True,
                                                allowed_mentions=NONE)


async def setup(bot: ChastifyBot) -> None:
    await bot.add_cog(NotifyCog(bot))


__all__ = ["DiscordInbox", "NotifyCog", "settings_embed"]
