"""``python -m sandbox.chastify --port 8765 --dev-token dev-token-demo``: serve a stand-in from a shell."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .server import StandIn


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.chastify", description="Serve a local Chastify stand-in with one active lock."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind, 0 for any free one (default 8765)")
    parser.add_argument("--dev-token", default="dev-token-demo", help="DEV token that reaches the lock")
    parser.add_argument("--role", choices=("wearer", "keyholder"), default="wearer")
    parser.add_argument("--remaining", type=int, default=86400, help="seconds left on the lock (default 24 h)")
    parser.add_argument("--title", default="Demo lock")
    parser.add_argument("--rate-limit", type=int, default=20, help="lock actions per minute (default 20)")
    parser.add_argument("--extension-key", default="ext-dev-key")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = StandIn(
        host=args.host, port=args.port, rate_limit_per_minute=args.rate_limit, extension_key=args.extension_key
    )
    lock = server.add_lock(args.dev_token, role=args.role, remaining=args.remaining, title=args.title)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        server.start()
    except RuntimeError as exc:
        print(f"error: {exc} ({exc.__cause__})", file=sys.stderr)
        return 1
    print(f"Chastify stand-in at {server.base_url} (lock {lock.id})", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
