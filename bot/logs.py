"""Logging set-up: JSON lines when stderr is not a terminal, readable lines when it is.

Records carry structured fields (guild, lock, outcome, ...) through ``extra=``. Tokens never reach a log
line: nothing in the bot logs request headers, the Chastify client scrubs server messages, and neither
aiosqlite's DEBUG lines (each call with its SQL parameters) nor httpcore's (headers) are ever written.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({k: v if isinstance(v, str | int | float | bool | None) else repr(v)
                     for k, v in _extras(record).items()})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = _extras(record)
        if extras:
            text += "  " + " ".join(f"{k}={v}" for k, v in extras.items())
        return text


def setup_logging(level: str = "INFO", json_output: bool | None = None) -> None:
    use_json = (not sys.stderr.isatty()) if json_output is None else json_output
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # httpcore's DEBUG trace shows headers; aiosqlite's DEBUG lines show each call with its SQL parameters
    # (encrypted tokens, reasons, task texts). Neither is ever wanted, even at DEBUG (and bot.store.db strips
    # aiosqlite's arguments anyway, should another logging set-up lower this level).
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLevelName(level)))
