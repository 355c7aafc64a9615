"""``python -m sandbox.demo [--script]``: the offline demo (see ``sandbox/demo/__init__.py``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import warnings

from bot.logs import setup_logging


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.demo",
        description="Try the bot offline: a simulated Discord server in your browser and a local Chastify stand-in.",
    )
    parser.add_argument("--script", action="store_true",
                        help="play the demo story headless, print a transcript and exit")
    parser.add_argument("--no-browser", action="store_true", help="print the URL but do not open a browser")
    parser.add_argument("--port", type=int, default=0,
                        help="port of the Discord preview on 127.0.0.1 (default: any free port)")
    parser.add_argument("--standin-port", type=int, default=0,
                        help="port of the Chastify stand-in on 127.0.0.1 (default: any free port)")
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="the bot's log level (default WARNING)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=".*audioop.*", category=DeprecationWarning)
    setup_logging(args.log_level, json_output=False)
    if args.log_level != "DEBUG":
        # simcord probes discord.py at import with a client without intents, which discord.py warns about;
        # and voice support is not needed
        logging.getLogger("discord").setLevel(logging.ERROR)
    if args.script:
        from .script import run_script

        return asyncio.run(run_script(log_level=args.log_level))
    from .live import run_live

    return asyncio.run(run_live(open_browser=not args.no_browser, preview_port=args.port,
                                standin_port=args.standin_port, log_level=args.log_level))


if __name__ == "__main__":
    sys.exit(main())
