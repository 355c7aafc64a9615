"""``python -m sandbox.demo --script``: the demo story played headless, printed as a transcript.

Wendy links her lock in the modal and checks its status, trusts Fred, Fred adds time directly and then
proposes a vote, three members vote, the vote passes when its window closes, then a time board runs. At the
end the stand-in's history of the lock shows every action that landed. Exits 1 if any step did not do what
the story expects.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import discord

from sandbox.chastify.page import format_duration

from .world import DEMO_TOKEN, LOCK_TITLE, QUORUM, VOTE_WINDOW_SECONDS, DemoWorld, demo_world

INDENT = " " * 11


class StoryFailed(Exception):
    pass


class Transcript:
    def __init__(self, world: DemoWorld) -> None:
        self.world = world
        self.start = world.env.now()
        self.names: dict[int, str] = {m.id: m.name for m in world.members}
        self.lines: list[str] = []

    def stamp(self) -> str:
        elapsed = int((self.world.env.now() - self.start).total_seconds())
        minutes, seconds = divmod(elapsed, 60)
        return f"[{minutes:02d}:{seconds:02d}]"

    def say(self, text: str) -> None:
        line = f"{self.stamp()} {text}"
        self.lines.append(line)
        print(line, flush=True)

    def more(self, text: str) -> None:
        for part in text.splitlines() or [""]:
            line = INDENT + part
            self.lines.append(line)
            print(line, flush=True)

    def plain(self, text: str = "") -> None:
        self.lines.append(text)
        print(text, flush=True)

    def readable(self, text: str) -> str:
        """Mentions as @names, no markdown stars."""
        text = re.sub(r"<@!?(\d+)>", lambda m: "@" + self.names.get(int(m.group(1)), m.group(1)), text)
        text = re.sub(r"<t:(\d+)(?::\w)?>", lambda m: _when(int(m.group(1))), text)
        return re.sub(r"\\([_*~`|>\\])", r"\1", text.replace("**", ""))

    def message(self, who: str, msg: Any) -> str:
        """What a bot message shows: its text and each embed's title, description and fields."""
        parts: list[str] = []
        if msg.content:
            parts.append(self.readable(msg.content))
        for embed in msg.embeds:
            parts.append(self.embed(embed))
        head = f"bot ({'only ' + who + ' sees' if getattr(msg, 'ephemeral', False) else 'to everyone'}):"
        return head + "\n" + "\n".join("  " + line for part in parts for line in part.splitlines())

    def embed(self, embed: discord.Embed) -> str:
        lines = [f"[{self.readable(embed.title)}]"] if embed.title else []
        if embed.description:
            lines.extend(self.readable(embed.description).splitlines())
        for field in embed.fields:
            value = self.readable(str(field.value)).replace("\n", " / ")
            lines.append(f"{self.readable(str(field.name))}: {value}")
        if embed.footer and embed.footer.text:
            lines.append(f"({embed.footer.text})")
        return "\n".join(lines)


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%S UTC")


def _reply(result: Any) -> Any:
    if result.followups:
        return result.followups[-1]
    return result.response


def _reactions(msg: Any) -> str:
    return " ".join(str(r.emoji) for r in msg.message.reactions)


def _field(msg: Any, name: str) -> str | None:
    for embed in msg.embeds:
        for field in embed.fields:
            if str(field.name).startswith(name):
                return str(field.value)
    return None


async def story(world: DemoWorld, t: Transcript) -> None:
    env, channel = world.env, world.channel
    wendy, fred = world.owner, world.friend
    vic, val, vera = world.voters

    async def slash(member: Any, name: str, **options: Any) -> Any:
        shown = " ".join(f"{k}={('@' + v.name) if hasattr(v, 'mention') else v}" for k, v in options.items())
        t.say(f"{member.name}: /{name}" + (f" {shown}" if shown else ""))
        result = await member.slash(channel, name, **options)
        msg = _reply(result)
        if result.modal is not None:
            t.more(f"bot shows a form: \"{result.modal.get('title')}\"")
        elif msg is not None:
            t.more(t.message(member.name, msg))
        return result

    # 1. link the lock through the modal
    shown = await slash(wendy, "chastify link")
    if shown.modal is None:
        raise StoryFailed("/chastify link did not open the link form")
    t.say(f"{wendy.name} pastes the DEV token {DEMO_TOKEN!r} and submits the form")
    done = await wendy.submit_modal(shown, {"dev_token": DEMO_TOKEN})
    t.more(t.message(wendy.name, _reply(done)))
    if "Linked" not in (_reply(done).content or ""):
        raise StoryFailed("the lock was not linked")

    # 2. status
    await slash(wendy, "chastify status")

    # 3. trust a friend, who acts directly
    await slash(wendy, "chastify trust", who=fred)
    before = world.lock.remaining_seconds()
    await slash(fred, "lock add-time", duration="30m", reason="late for the call")
    if world.lock.remaining_seconds() < before + 1700:
        raise StoryFailed("/lock add-time did not add time on the lock")

    # 4. a vote that passes
    res = await slash(fred, "vote add-time", duration="1h", reason="for fun")
    vote = res.response
    if vote is None or not vote.embeds:
        raise StoryFailed("/vote add-time posted no vote")
    t.more(f"the bot reacts {_reactions(vote)} on its vote")
    for member, emoji in ((vic, "✅"), (val, "✅"), (vera, "❌")):
        await member.react(vote.message, emoji)
        t.say(f"{member.name} reacts {emoji}")
    await env.advance_time(3)
    t.more(f"live tally on the vote: {_field(vote, 'Tally')!s}".replace("\n", " / "))
    t.say(f"... {VOTE_WINDOW_SECONDS // 60} minutes pass (the vote's window) ...")
    before = world.lock.remaining_seconds()
    await env.advance_time(VOTE_WINDOW_SECONDS)
    outcome = _field(vote, "Outcome")
    t.more(f"the bot edits the vote: Outcome: {outcome}")
    if not outcome or not outcome.startswith("Passed"):
        raise StoryFailed(f"the vote did not pass: {outcome}")
    if world.lock.remaining_seconds() < before + 3500 - VOTE_WINDOW_SECONDS:
        raise StoryFailed("the passed vote did not add its hour on the lock")

    # 5. a time board
    res = await slash(fred, "vote board", add_per_vote="10m", remove_per_vote="5m")
    board = res.response
    if board is None:
        raise StoryFailed("/vote board posted no board")
    t.more(f"the bot reacts {_reactions(board)} on its board")
    for member, emoji in ((vic, "🔼"), (val, "🔼"), (vera, "🔽")):
        await member.react(board.message, emoji)
        t.say(f"{member.name} reacts {emoji}")
    await wendy.react(board.message, "🔽")
    t.say(f"{wendy.name} reacts 🔽 (the wearer's own reaction is not counted unless her /chastify limits allow it)")
    await env.advance_time(3)
    t.more(f"live count on the board: {_field(board, 'Votes')} · net {_field(board, 'Net')}".replace("**", ""))
    t.say(f"... {VOTE_WINDOW_SECONDS // 60} minutes pass ...")
    await env.advance_time(VOTE_WINDOW_SECONDS)
    outcome = _field(board, "Outcome")
    t.more(f"the bot edits the board: Outcome: {outcome}")
    if not outcome:
        raise StoryFailed("the board did not close")

    # 6. the lock now
    await slash(wendy, "chastify status")


async def run_script(*, log_level: str = "WARNING") -> int:
    async with demo_world(check_errors=True, log_level=log_level) as world:
        t = Transcript(world)
        t.plain(f"Chastify bot demo (scripted): server \"{world.guild.name}\", channel #{world.channel.name}, "
                f"members {', '.join(m.name for m in world.members)}.")
        t.plain(f"Stand-in Chastify at {world.standin.base_url}: lock \"{LOCK_TITLE}\" "
                f"({format_duration(world.lock.remaining_seconds())} left), DEV token {DEMO_TOKEN}.")
        t.plain(f"Votes: quorum {QUORUM}, window {VOTE_WINDOW_SECONDS // 60} minutes; simulated time.")
        t.plain()
        failed: str | None = None
        try:
            await story(world, t)
        except StoryFailed as err:
            failed = str(err)
        t.plain()
        t.plain(f"The stand-in's history of \"{world.lock.title}\" (what reached Chastify):")
        for entry in world.lock.history:
            details = ", ".join(f"{k}={v}" for k, v in entry.items()
                                if k not in ("type", "at", "source", "icon", "color", "role") and v is not None)
            t.plain(f"  {_when(int(entry['at']))}  {entry['type']:<12} {details}".rstrip().replace("\n", " / "))
        t.plain(f"Time left on the lock: {format_duration(world.lock.remaining_seconds())}.")
        if failed:
            t.plain(f"\nDEMO FAILED: {failed}")
            return 1
        t.plain("\nDemo finished: every step did what it should.")
        return 0
