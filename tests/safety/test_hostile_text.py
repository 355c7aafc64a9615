"""Hostile text: a token Chastify echoes back never survives (whatever its case, wherever a message is cut);
invisible and format characters in what members type are refused with a clear message and change nothing;
``/chastify history`` renders no markdown and no masked link; DEBUG logs never show SQL parameters."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.actions import Action, ActionKind
from bot.chastify.errors import MESSAGE_MAX, parse_error
from bot.logs import setup_logging
from bot.store.db import Database
from bot.text import TASK_MAX, TextError, clean_text, escape_markdown, shown_text
from tests.support.simcord import refusal, reply
from tests.support.standin import applied_actions

# ------------------------------------------------------------------------------------ (a) tokens in errors
TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
FILLER_ALPHABET = " .,:;!?()'/"  # shares no character with a token, so a fragment of one cannot occur by chance


def _fragments(token: str, size: int = 5) -> set[str]:
    low = token.lower()
    return {low[i:i + size] for i in range(len(low) - size + 1)}


def _leaks(token: str, *texts: str) -> list[str]:
    joined = "\n".join(texts).lower()
    return sorted(f for f in _fragments(token) if f in joined)


def _mangle_case(token: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if flips[i % len(flips)] else c for i, c in enumerate(token)) if flips else token


BODIES = [
    lambda t: json.dumps({"message": t}),
    lambda t: json.dumps({"error": {"code": "invalid_token", "message": t}}),
    lambda t: json.dumps({"errors": [{"msg": t}]}),
    lambda t: json.dumps({"error": t}),
    lambda t: json.dumps({"code": t, "message": "no"}),
    lambda t: t,  # not JSON at all
]


@settings(max_examples=400, deadline=None, database=None)
@given(token=st.text(alphabet=TOKEN_ALPHABET, min_size=16, max_size=80),
       before=st.text(alphabet=FILLER_ALPHABET, max_size=2 * MESSAGE_MAX),
       after=st.text(alphabet=FILLER_ALPHABET, max_size=40),
       flips=st.lists(st.booleans(), max_size=8),
       shape=st.integers(0, len(BODIES) - 1),
       status=st.sampled_from([400, 401, 403, 404, 409, 422, 429, 500, 503]))
# the cut at MESSAGE_MAX falls inside the token: scrubbed after the cut, its first characters survived
@example(token="dev-token-alice-0123456789", before=" " * (MESSAGE_MAX - 10), after="", flips=[],
         shape=0, status=400)
# echoed in capitals: a case-sensitive scrub missed it
@example(token="dev-token-alice-0123456789", before="bad: ", after=".", flips=[True], shape=0, status=401)
# a token sharing a piece with the body's own words ("_toke" of "invalid_token")
@example(token="000_TOKE00000000", before="", after="", flips=[], shape=1, status=400)
def test_a_token_echoed_by_chastify_never_survives_in_any_case_or_cut(token, before, after, flips, shape, status):
    echoed = before + _mangle_case(token, flips) + after
    err = parse_error(status, BODIES[shape](echoed).encode(), {}, secrets=(token,))
    # not even a piece of it, apart from pieces of the body's own fixed words (a token "000_TOKE..." shares
    # "_toke" with the error code "invalid_token", which is not a leak); nor of the words the parser adds itself
    # for the status (a token "...ERROR" shares "error" with "server_error")
    plain = parse_error(status, BODIES[shape]("").encode(), {}, secrets=())
    fixed = " ".join((BODIES[shape](""), plain.message, plain.code or "")).lower()
    assert [f for f in _leaks(token, err.message, err.code) if f not in fixed] == [], (str(err), err.code)
    assert token.lower() not in (str(err) + repr(err)).lower()


def test_a_token_at_the_cut_is_scrubbed_before_the_cut():
    token = "dev-token-alice-0123456789"
    # unscrubbed, the cut at MESSAGE_MAX would have kept "dev-t"
    body = {"message": "x" * (MESSAGE_MAX - 8) + token + " (rejected)"}
    err = parse_error(400, json.dumps(body).encode(), {}, secrets=(token,))
    assert len(err.message) == MESSAGE_MAX and err.message.endswith("...")
    assert "dev" not in err.message  # shortened, and no part of the token
    upper = parse_error(401, json.dumps({"message": f"token {token.upper()} revoked"}).encode(), {},
                        secrets=(token,))
    assert upper.message == "token *** revoked"


# ------------------------------------------------------------------------------------ (b) invisible text
INVISIBLE = ["\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\u00ad", "\u2060", "\U000e0041", "\u180e",
             "\u2028", "\u2029", "\u3164", "\u2800", "\uffa0", "\u115f", "\u1160", "\u034f"]
VISIBLE = st.text(alphabet=st.characters(categories=["L", "N", "P", "S"], exclude_characters="\u3164\u2800\uffa0"
                                                                                             "\u115f\u1160"),
                  min_size=1, max_size=20)


@settings(max_examples=300, deadline=None, database=None)
@given(head=VISIBLE, tail=st.text(alphabet=" abc", max_size=5), hidden=st.sampled_from(INVISIBLE),
       field=st.sampled_from(["reason", "task text"]))
def test_an_invisible_character_anywhere_is_refused_naming_it(head, tail, hidden, field):
    text = head + hidden + tail
    with pytest.raises(TextError) as info:
        clean_text(text, field=field, max_len=TASK_MAX)
    message = str(info.value)
    assert message.startswith(f"The {field} ")
    assert f"U+{ord(hidden):04X}" in message
    assert "Only visible text is accepted: letters, digits, punctuation, spaces and emoji" in message
    assert all(unicodedata.category(c) not in ("Cf", "Cc", "Zl", "Zp") for c in message)  # the message is clean


@settings(max_examples=200, deadline=None, database=None)
@given(chars=st.lists(st.sampled_from([*INVISIBLE, " ", "\t", "\n"]), min_size=1, max_size=12),
       required=st.booleans())
def test_only_invisible_characters_is_refused_as_empty(chars, required):
    text = "".join(chars)
    if not any(c not in " \t\n" for c in text):
        assert clean_text(text, field="reason", max_len=300, required=False) is None  # plain blank: left out
        return
    with pytest.raises(TextError) as info:
        clean_text(text, field="reason", max_len=300, required=required)
    assert str(info.value).startswith("The reason is empty: it has only invisible characters (")
    assert "Write 1 to 300 visible characters" in str(info.value)


def test_an_action_built_with_invisible_text_is_refused_but_a_stored_one_still_loads():
    with pytest.raises(TextError, match=r"The task text contains an invisible character \(braille blank, U\+2800\)"):
        Action(kind=ActionKind.TASK_ASSIGN, task_text="Kneel\u2800")
    with pytest.raises(TextError, match=r"line separator, U\+2028"):
        Action(kind=ActionKind.ADD_TIME, seconds=60, reason="late\u2028")
    # queued before this rule existed: the outbox and the votes must still read it
    stored = json.dumps({"kind": "add_time", "seconds": 60, "reason": "late\u2028"})
    assert Action.from_json(stored).reason == "late\u2028"


@pytest.fixture
async def trusted_world(world):
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    world.lock = lock
    return world


async def _nothing_changed(world, before_writes: int) -> None:
    assert len(applied_actions(world.chastify)) == before_writes
    core = world.bot.core
    link = (await core.links(world.guild.id))[0]
    assert await core.store.outbox.list_by_status(("pending", "sent", "done", "uncertain")) == []
    assert await core.store.votes.list_for_link(link.id) == []


@pytest.mark.parametrize(("command", "options", "expected"), [
    ("lock add-time", {"duration": "10m", "reason": "late\u3164"},
     "The reason contains an invisible character (Hangul filler, U+3164). Only visible text is accepted"),
    ("lock add-time", {"duration": "10m", "reason": "\u2800 \u3164"},
     "The reason is empty: it has only invisible characters (braille blank, U+2800). Write 1 to 300 visible "
     "characters, or leave it out."),
    ("task assign", {"text": "\u2800\u2800"},
     "The task text is empty: it has only invisible characters (braille blank, U+2800). Write 1 to 1000 visible "
     "characters."),
    ("task assign", {"text": "Kneel\u2028now"}, "The task text contains an invisible character (line separator"),
    ("task assign", {"text": "Drink \u202ewater"}, "The task text contains an invisible character (bidi override"),
    ("vote task", {"text": "Kneel\u2029"}, "The task text contains an invisible character (paragraph separator"),
    ("vote add-time", {"duration": "1h", "reason": "\u200b"}, "The reason is empty: it has only invisible"),
    ("vote freeze", {"duration": "1h", "reason": "cold\u3164"},
     "The reason contains an invisible character (Hangul filler"),
], ids=["lock-reason-filler", "lock-reason-only-invisible", "task-only-braille", "task-line-separator",
        "task-bidi", "vote-task-paragraph-separator", "vote-reason-zero-width", "vote-freeze-reason-filler"])
async def test_invisible_text_through_discord_is_refused_and_changes_nothing(trusted_world, command, options,
                                                                            expected):
    world = trusted_world
    before = len(applied_actions(world.chastify))
    result = await world.friend.slash(world.channel, command, **options)
    text = refusal(result)
    assert expected in text, text
    assert "Something went wrong" not in text
    await _nothing_changed(world, before)


# ------------------------------------------------------------------------------------ (c) markdown in history
def _unescaped(text: str) -> list[str]:
    """Markdown characters not preceded by a backslash (after removing every escape pair)."""
    return re.findall(r"[*_~|`>#\-\[\]()]", re.sub(r"\\.", "", text))


@settings(max_examples=400, deadline=None, database=None)
@given(text=st.text(max_size=300), limit=st.integers(1, 200))
@example(text="[free key](https://evil.example/steal) **now**", limit=150)
@example(text="a" * 149 + "*", limit=150)
def test_shown_text_is_one_escaped_line_that_renders_nothing(text, limit):
    shown = shown_text(text, limit)
    assert "\n" not in shown and "\r" not in shown
    assert _unescaped(shown) == []
    plain = re.sub(r"\\(.)", r"\1", shown)
    assert len(plain) <= limit
    assert not any(unicodedata.category(c) in ("Cf", "Cc", "Zl", "Zp") for c in plain)


def test_escape_markdown_neutralises_a_masked_link():
    assert escape_markdown("[x](https://e.xample)") == "\\[x\\]\\(https://e.xample\\)"


async def test_history_shows_member_text_as_typed_never_as_a_link_or_markdown(world):
    await world.link(title="**Bold** [lock](https://evil.example)", remaining=86400)
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    await world.friend.slash(world.channel, "lock add-time", duration="10m",
                             reason="[click here](https://evil.example/a) **loud** ||spoiler||")
    await world.friend.slash(world.channel, "task assign", text="[free key](https://evil.example/steal) __now__")
    await world.stranger.slash(world.channel, "lock add-time", duration="1h", reason="[x](https://evil.example/r)")

    res = await world.owner.slash(world.channel, "chastify history")
    embed = reply(res).embeds[0]
    assert embed.title == "History of \\*\\*Bold\\*\\* \\[lock\\]\\(https://evil.example\\)"
    description = embed.description
    assert "\\[free key\\]\\(https://evil.example/steal\\) \\_\\_now\\_\\_" in description
    assert "reason: \\[click here\\]\\(https://evil.example/a\\) \\*\\*loud\\*\\* \\|\\|spoiler\\|\\|" in description
    # no masked link can render: every [ ] ( ) that came from a member is escaped
    assert not re.search(r"(?<!\\)\[[^\]\n]*(?<!\\)\]\((?!\\)", description)
    for line in description.split("\n"):
        bold = re.findall(r"(?<!\\)\*\*", line)
        assert len(bold) in (0, 2), line  # only the bot's own bold around the summary


# ------------------------------------------------------------------------------------ (d) DEBUG logs
@pytest.fixture
def loggers_restored() -> Iterator[None]:
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("discord", "aiosqlite", "httpcore", "httpx")}
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in saved.items():
        logging.getLogger(name).setLevel(lvl)


async def test_setup_logging_at_debug_never_writes_sql_parameters(monkeypatch, loggers_restored):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging("DEBUG", json_output=True)
    assert logging.getLogger("aiosqlite").getEffectiveLevel() >= logging.INFO
    assert logging.getLogger("httpcore").getEffectiveLevel() >= logging.WARNING
    db = await Database.open(":memory:")
    try:
        await db.fetchall("SELECT ? AS x", ("sql-param-secret",))
        logging.getLogger("aiosqlite").setLevel(logging.DEBUG)  # even if someone turns it back on
        await db.fetchall("SELECT ? AS y", ("sql-param-secret",))
    finally:
        await db.close()
    out = stream.getvalue()
    assert "sql-param-secret" not in out and "SELECT" not in out
    assert '"msg": "executing _execute_fetchall"' in out  # the line stays, without its arguments


async def test_linking_and_acting_at_debug_log_no_token_ciphertext_or_sql_parameters(world, caplog,
                                                                                     loggers_restored):
    token = "dev-token-Secret-For-Logs-0123456789"
    reason, task = "reason-param-secret", "task-param-secret"
    logging.getLogger("aiosqlite").setLevel(logging.DEBUG)
    with caplog.at_level(logging.DEBUG):
        lock, _ = await world.link(token=token, title="Weekend Challenge", remaining=86400)
        await world.owner.slash(world.channel, "lock add-time", duration="10m", reason=reason)
        await world.owner.slash(world.channel, "task assign", text=task)
        await world.owner.slash(world.channel, "chastify status")
        await world.owner.slash(world.channel, "chastify history")
    [link] = await world.bot.core.store.links.list_all()
    ciphertext = bytes(link.token_ciphertext)
    assert [h["type"] for h in lock.history if h["type"] != "custom"][:1] == ["time_added"]  # it did act
    records = caplog.records
    assert any(r.name == "aiosqlite" for r in records)  # aiosqlite did log at DEBUG...
    for r in records:
        line = r.getMessage() + " " + " ".join(f"{k}={v}" for k, v in r.__dict__.items() if k not in ("msg", "args"))
        assert token.lower() not in line.lower(), r.name
        assert ciphertext.decode("ascii") not in line and repr(ciphertext) not in line, r.name
        assert ciphertext[:40].decode("ascii") not in line, r.name
        assert not re.search(r"\b(INSERT INTO|UPDATE \w+ SET|SELECT .* FROM)\b", line), (r.name, line[:200])
        if r.name == "aiosqlite":  # ...but only the call's name, never its arguments
            assert reason not in line and task not in line, line[:200]
            assert re.fullmatch(r"(executing|operation) \w+( completed)?|returning exception \w+",
                                r.getMessage()), r.getMessage()
