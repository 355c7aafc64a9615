"""The command line: ``python -m bot run [--new-key] | sync [--guild ID] | invite | check`` (``--config PATH``
first), and ``verify-draw SEED TALLY`` to recompute a wheel vote's draw (no config needed)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

if TYPE_CHECKING:
    from bot.voting.draw import Mode

log = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The Chastify Discord bot.")
    parser.add_argument("--config", type=Path, default=None,
                        help="config file (default: $CHASTIFY_BOT_CONFIG, else ./config.toml if present)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot")
    run.add_argument("--new-key", action="store_true",
                     help="start even though the token key file is missing or cannot decrypt stored tokens: "
                          "generate a missing key file and mark those links broken (their owners must link again)")
    sync = sub.add_parser("sync", help="register the slash commands with Discord once")
    sync.add_argument("--guild", type=int, default=None, help="sync to one server only (instant; for testing)")
    sub.add_parser("invite", help="print the invite URL")
    check = sub.add_parser("check", help="check the config, the database, the key file and the linked tokens")
    check.add_argument("--offline", action="store_true", help="do not contact Chastify (for health checks)")
    sub.add_parser("config-reference", help="print the configuration reference (Markdown) for the README")
    verify = sub.add_parser("verify-draw", help="recompute a wheel vote's draw from its revealed seed and tally",
                            description="Recompute a wheel vote's draw: the seed's commitment, the ticket and "
                                        "the winner (options numbered from 1). Exit code 0, 1 when --commitment "
                                        "does not match the seed, 2 on bad input.")
    verify.add_argument("seed", metavar="SEED", help="the seed revealed at the close (64 hex characters)")
    verify.add_argument("tally", metavar="TALLY", nargs="+",
                        help='the votes per option in their listed order: "5,3,0" or 5 3 0')
    verify.add_argument("--mode", choices=["wheel", "plurality"], default="wheel",
                        help="the vote's mode (default: wheel)")
    verify.add_argument("--commitment", metavar="HASH", default=None,
                        help="the hash the vote message showed while open: checked against the seed")
    args = parser.parse_args(argv)
    if args.command == "config-reference":
        from bot.config import settings_reference_markdown

        print(settings_reference_markdown())
        return 0
    if args.command == "verify-draw":
        return verify_draw(args.seed, " ".join(args.tally), args.mode, args.commitment)
    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(f"Configuration error: {err}", file=sys.stderr)
        return 2
    setup_logging(settings.logging.level, settings.logging.json_output)
    if args.command == "invite":
        return invite(settings)
    if args.command == "check":
        from bot.check import run_check

        return asyncio.run(run_check(settings, online=not args.offline))
    try:
        token = settings.require_discord_token().get_secret_value()
    except ConfigError as err:
        print(f"Configuration error: {err}", file=sys.stderr)
        return 2
    from bot.keycheck import KeyProblem

    try:
        if args.command == "sync":
            return asyncio.run(sync_commands(settings, token, args.guild))
        return asyncio.run(run_bot(settings, token, new_key=args.new_key))
    except KeyProblem as err:  # the token key cannot read stored tokens: never go on silently
        print(f"Start-up refused: {err}", file=sys.stderr)
        return 2


def invite(settings: Settings) -> int:
    from bot.app import invite_url

    app_id = settings.discord.application_id
    if app_id is None:
        print("Set discord.application_id (env CHASTIFY_BOT_DISCORD__APPLICATION_ID) to your application's id "
              "from the Discord developer portal, then run this again.", file=sys.stderr)
        return 2
    print(invite_url(app_id))
    return 0


def verify_draw(seed: str, tally_text: str, mode: Mode, expected: str | None) -> int:
    """Print what anyone can recompute of a draw (``bot/voting/draw.py`` documents the algorithm): 0, 1 when
    ``expected`` is not the seed's commitment, 2 on bad input."""
    from bot.voting.draw import commitment, draw, format_draw, format_tally, parse_tally

    try:
        result = draw(seed, parse_tally(tally_text), mode)
    except ValueError as err:
        print(f"verify-draw: {err}", file=sys.stderr)
        return 2
    shown = None if expected is None else expected.strip().lower()
    if shown is not None and (len(shown) != 64 or any(c not in "0123456789abcdef" for c in shown)):
        print("verify-draw: --commitment must be 64 hex characters (the SHA-256 the vote message showed), "
              f"not {expected!r}", file=sys.stderr)
        return 2
    committed = commitment(result.seed)
    print(f"seed:       {result.seed}")
    print(f"commitment: {committed}")
    matches = shown is None or shown == committed
    if shown is not None:
        print("            matches --commitment" if matches
              else f"            DOES NOT match --commitment {shown}: this is not the seed that was committed")
    print(f"mode:       {result.mode}")
    print(f"tally:      {format_tally(result.tally)}")
    if result.ticket is None or result.out_of is None:
        print("ticket:     none (no draw)")
    else:
        print(f"ticket:     {result.ticket} of {result.out_of} (numbered 0 to {result.out_of - 1})")
    print("winner:     " + ("none (nobody voted)" if result.winner is None else f"option {result.winner + 1}"))
    print(format_draw(result))
    return 0 if matches else 1


async def run_bot(settings: Settings, token: str, *, new_key: bool = False) -> int:
    """Run until Discord ends the session or SIGINT / SIGTERM (``docker stop``) arrives; either way the bot
    closes its database, outbox and HTTP client before the process exits."""
    import discord

    from bot.app import create_bot

    bot = create_bot(settings, new_key=new_key)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' event loop
            loop.add_signal_handler(sig, stop.set)
    try:
        async with bot:
            running = asyncio.create_task(bot.start(token), name="discord-client")
            stopping = asyncio.create_task(stop.wait(), name="stop-signal")
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping.done():
                log.info("stop signal received; closing")
                await bot.close()
                running.cancel()  # it may be sleeping before a reconnect attempt
                with contextlib.suppress(asyncio.CancelledError):
                    await running
            else:
                stopping.cancel()
                await running  # raises what ended the session, if anything did
    except discord.LoginFailure:
        print("Discord rejected the bot token. Copy the token again from the Discord developer portal "
              "(Bot > Reset Token) into DISCORD_TOKEN.", file=sys.stderr)
        return 1
    log.info("closed")
    return 0


async def sync_commands(settings: Settings, token: str, guild_id: int | None) -> int:
    import discord

    from bot.app import create_bot

    bot = create_bot(settings)

    async def do_sync() -> None:
        if guild_id is not None:
            guild = discord.Object(id=guild_id)
            bot.tree.copy_global_to(guild=guild)
            synced = await bot.tree.sync(guild=guild)
        else:
            synced = await bot.tree.sync()
        print(f"Synced {len(synced)} commands" + (f" to server {guild_id}" if guild_id else " globally"))

    async with bot:
        await bot.login(token)
        await do_sync()
    return 0


if __name__ == "__main__":
    sys.exit(main())
