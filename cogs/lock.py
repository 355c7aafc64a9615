"""/lock and /task: direct actions by the lock's owner or the people they trust."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.actions import DURATION_BOUNDS, Action, ActionKind
from bot.app import ChastifyBot
from bot.chastify import FREEZE_DEFAULT
from bot.durations import parse_duration
from bot.errors import UserError
from bot.text import REASON_MAX, TASK_MAX, clean_text, escape_markdown
from cogs._ui import NONE, OK, WARN, core_of, lock_autocomplete, member_of, place_of

LOCK_HELP = "Which lock (only needed when several are linked)"


def duration(kind: ActionKind, raw: str | None) -> int | None:
    if raw is None:
        return None
    low, high = DURATION_BOUNDS[kind]
    return parse_duration(raw, minimum=max(1, low), maximum=high)


def reason_of(raw: str | None) -> str | None:
    return clean_text(raw, field="reason", max_len=REASON_MAX)


async def run(interaction: discord.Interaction, lock: str | None, action: Action, reason: str | None = None) -> None:
    """Check fast, then act. Refusals, including those only Chastify can make (lock ended, token revoked, "not
    in pillory"), are answered privately; what happened on the lock (applied, queued, uncertain) is public.

    The acknowledgement is private: the first followup completes it (a private line for the member), a second
    followup is the public message."""
    core = core_of(interaction)
    assert interaction.guild is not None
    link = await core.resolve(interaction.guild.id, lock)
    actor, place = member_of(interaction), place_of(interaction)
    await core.precheck(place, actor, link, action)
    await interaction.response.defer(ephemeral=True, thinking=True)
    result = await core.act(place, actor, link, action, reason=reason)
    title = escape_markdown(link.title or "the lock")
    if result.status not in ("done", "uncertain", "pending"):  # failed, cancelled, refused: nothing was applied
        await interaction.followup.send(f"⛔ {result.message}", ephemeral=True, allowed_mentions=NONE)
        return
    colour = OK if result.applied else WARN
    await interaction.followup.send(f"{'✅' if result.applied else '⚠️'} {result.message} (on **{title}**)",
                                    ephemeral=True, allowed_mentions=NONE)
    embed = discord.Embed(description=f"{result.message}\non **{title}** by {interaction.user.mention}",
                          colour=colour)
    if reason:
        embed.add_field(name="Reason", value=escape_markdown(reason), inline=False)
    await interaction.followup.send(embed=embed, allowed_mentions=NONE)


@app_commands.guild_only()
class LockCog(commands.GroupCog, group_name="lock", group_description="Act on a linked lock (owner or trusted)"):
    def __init__(self, bot: ChastifyBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="add-time", description="Add time to a lock")
    @app_commands.describe(duration="e.g. 30m, 1h30m, 2d", reason="Why (shown on the lock)", lock=LOCK_HELP)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def add_time(self, interaction: discord.Interaction, duration: str, reason: str | None = None,
                       lock: str | None = None) -> None:
        r = reason_of(reason)
        action = Action(kind=ActionKind.ADD_TIME, seconds=_d(ActionKind.ADD_TIME, duration), reason=r)
        await run(interaction, lock, action, r)

    @app_commands.command(name="remove-time", description="Remove time from a lock")
    @app_commands.describe(duration="e.g. 30m, 1h30m, 2d", reason="Why (shown on the lock)", lock=LOCK_HELP)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def remove_time(self, interaction: discord.Interaction, duration: str, reason: str | None = None,
                          lock: str | None = None) -> None:
        r = reason_of(reason)
        action = Action(kind=ActionKind.REMOVE_TIME, seconds=_d(ActionKind.REMOVE_TIME, duration), reason=r)
        await run(interaction, lock, action, r)

    @app_commands.command(name="freeze", description="Freeze a lock's timer (1 minute to 24 hours; default 1h)")
    @app_commands.describe(duration="e.g. 30m (default 1h)", reason="Why", lock=LOCK_HELP)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def freeze(self, interaction: discord.Interaction, duration: str | None = None,
                     reason: str | None = None, lock: str | None = None) -> None:
        r = reason_of(reason)
        action = Action(kind=ActionKind.FREEZE, seconds=_d(ActionKind.FREEZE, duration) or FREEZE_DEFAULT, reason=r)
        await run(interaction, lock, action, r)

    @app_commands.command(name="unfreeze", description="Unfreeze a lock's timer")
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def unfreeze(self, interaction: discord.Interaction, reason: str | None = None,
                       lock: str | None = None) -> None:
        r = reason_of(reason)
        await run(interaction, lock, Action(kind=ActionKind.UNFREEZE, reason=r), r)

    @app_commands.command(name="pillory", description="Put the wearer in the pillory")
    @app_commands.describe(duration="e.g. 10m", reason="Why (shown in the pillory)", lock=LOCK_HELP)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def pillory(self, interaction: discord.Interaction, duration: str, reason: str | None = None,
                      lock: str | None = None) -> None:
        r = reason_of(reason)
        action = Action(kind=ActionKind.PILLORY, seconds=_d(ActionKind.PILLORY, duration), reason=r)
        await run(interaction, lock, action, r)

    @app_commands.command(name="end-pillory", description="End the pillory now")
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def end_pillory(self, interaction: discord.Interaction, lock: str | None = None) -> None:
        await run(interaction, lock, Action(kind=ActionKind.END_PILLORY))

    @app_commands.command(name="hygiene-opening", description="Start a hygiene opening")
    @app_commands.describe(duration="e.g. 15m (the lock's default if left out)", lock=LOCK_HELP)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def hygiene_opening(self, interaction: discord.Interaction, duration: str | None = None,
                              lock: str | None = None) -> None:
        await run(interaction, lock, Action(kind=ActionKind.HYGIENE, seconds=_d(ActionKind.HYGIENE, duration)))


@app_commands.guild_only()
class TaskCog(commands.GroupCog, group_name="task", group_description="Tasks on a linked lock (owner or trusted)"):
    def __init__(self, bot: ChastifyBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="assign", description="Assign a task to the wearer")
    @app_commands.describe(text="The task", points="Points it is worth (0-1000)",
                           duration="Time to do it, e.g. 30m (none if left out)",
                           verification="Whether proof is required", lock=LOCK_HELP)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def assign(self, interaction: discord.Interaction, text: str,
                     points: app_commands.Range[int, 0, 1000] | None = None, duration: str | None = None,
                     verification: bool = False, lock: str | None = None) -> None:
        task_text = clean_text(text, field="task text", max_len=TASK_MAX, required=True)
        action = Action(kind=ActionKind.TASK_ASSIGN, task_text=task_text, points=points,
                        seconds=_d(ActionKind.TASK_ASSIGN, duration), verification=verification)
        await run(interaction, lock, action)

    @app_commands.command(name="start-timer", description="Start the active task's timer")
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def start_timer(self, interaction: discord.Interaction, lock: str | None = None) -> None:
        await run(interaction, lock, Action(kind=ActionKind.TASK_START_TIMER))

    @app_commands.command(name="complete", description="Mark the active task as done or failed")
    @app_commands.describe(successful="Whether the task was done", reason="Why (shown on the lock)", lock=LOCK_HELP)
    @app_commands.autocomplete(lock=lock_autocomplete)
    async def complete(self, interaction: discord.Interaction, successful: bool, reason: str | None = None,
                       lock: str | None = None) -> None:
        r = reason_of(reason)
        await run(interaction, lock, Action(kind=ActionKind.TASK_COMPLETE, successful=successful, reason=r), r)


def _d(kind: ActionKind, raw: str | None) -> int | None:
    try:
        return duration(kind, raw)
    except ValueError as err:
        raise UserError(f"Nothing was changed. {err}") from None


async def setup(bot: ChastifyBot) -> None:
    await bot.add_cog(LockCog(bot))
    await bot.add_cog(TaskCog(bot))
