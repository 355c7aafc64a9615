"""Small readers for what a member sees and what the Chastify stand-in received (no assertions of their own
beyond the shape they promise)."""

from __future__ import annotations

from typing import Any

from sandbox.chastify import RecordedRequest, StandIn

LOG_PATH = "/api/apps/v1/logs/custom"
SESSION_PATH = "/api/apps/v1/session"


def messages(result: Any) -> list[Any]:
    """Every message the member got for one interaction: the response, then the followups."""
    return ([result.response] if result.response is not None else []) + list(result.followups)


def refusal(result: Any) -> str:
    """The text of an ephemeral refusal; fails unless every message of the interaction is ephemeral and
    the last one carries the ⛔ marker."""
    seen = messages(result)
    assert seen, "the member saw nothing"
    assert all(m.ephemeral for m in seen), [(m.ephemeral, m.content) for m in seen]
    text = seen[-1].content
    assert text.startswith("⛔ "), text
    return text


def public(result: Any) -> Any:
    """The one public message of an interaction (fails if there is none or more than one)."""
    shown = [m for m in messages(result) if not m.ephemeral]
    assert len(shown) == 1, [(m.ephemeral, m.content) for m in messages(result)]
    return shown[0]


def public_text(result: Any) -> str:
    msg = public(result)
    parts = [msg.content]
    for embed in msg.embeds:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{f.name}: {f.value}" for f in embed.fields]
        if embed.footer and embed.footer.text:
            parts.append(embed.footer.text)
    return "\n".join(p for p in parts if p)


def fields(embed: Any) -> dict[str, str]:
    return {f.name: f.value for f in embed.fields}


def writes(chastify: StandIn) -> list[RecordedRequest]:
    """Lock actions the stand-in applied, custom logs left out."""
    return [r for r in chastify.action_requests() if r.path != LOG_PATH]


def log_writes(chastify: StandIn) -> list[RecordedRequest]:
    return [r for r in chastify.action_requests() if r.path == LOG_PATH]


def bot_requests(env: Any, since: int = 0) -> list[Any]:
    """REST calls the bot made to Discord since index ``since`` of ``env.http_requests``."""
    return list(env.http_requests[since:])


def message_posts(env: Any, since: int = 0) -> list[Any]:
    """The bodies of every message the bot sent or edited (interaction callbacks, followups, channel posts)."""
    out = []
    for r in env.http_requests[since:]:
        body = r.json if isinstance(r.json, dict) else None
        if body is None:
            continue
        if "/callback" in r.path:
            body = body.get("data") or {}
        if "content" in body or "embeds" in body:
            out.append(body)
    return out
