"""The command line: ``python -m bot run [--new-key] | sync [--guild ID] | invite | check`` (``--config PATH``
first)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

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
    args = parser.parse_args(argv)
    if args.command == "config-reference":
        from bot.config import settings_reference_markdown

        print(settings_reference_markdown())
        return 0
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
