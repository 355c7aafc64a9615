"""Hostile and bad input, on the parsers and on every string option a member can type.

Each input gets a clear refusal or is accepted as plain text; nothing is stored half-way; the bot never pings
(every message it sends allows no mention at all, whatever the member typed).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.actions import DURATION_BOUNDS, ActionKind
from bot.durations import DurationError, format_duration, parse_duration
from bot.text import REASON_MAX, TextError, clean_text
from tests.support.simcord import reply

NASTY = [
    "", " ", "\t", "@everyone", "@here", "<@&1>", "<@1>", "<#1>", "@everyone 1h", "1h @here",
    "**bold** __under__ ~~strike~~ ||spoiler|| > quote", "`", "```py\nprint(1)```", "[link](https://e.xample)",
    "\u202e1h", "1\u200bh", "\u200b", "\ufeff1h", "\u2066x\u2069", "\u061c", "١h", "١٢m", "１ｈ", "²h", "⑤m",
    "1h\x00", "-1h", "0", "0s", "1e9", "99999999999h", "1h1h", "1w 1w", "1:99:00", "10,000", "NaN", "∞", "1.5h",
    "a" * 10_000, "@" * 10_000, "`" * 10_000, "\u200b" * 10_000, "1" * 10_000, "🔒" * 2_000,
    "𝟏𝐡", "1 h\u0301", "İ", "K", "\U000e0041",
    "\u3164", "\u2800", "\u2028", "\u2029", "a\u3164b", "\u2800\u3164 \u200b", "1h\u2028",
]
HOSTILE = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Nd", "No", "Cf", "Zs", "Zl", "Zp", "Mn"],
                                   include_characters="\u3164\u2800\uffa0"), min_size=1, max_size=6),
    st.builds(lambda a, b: a + b, st.sampled_from(["1", "30", "1:00:", "@", "<@"]), st.text(max_size=8)),
)
SIMCORD = settings(max_examples=25, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---------------------------------------------------------------- the parsers themselves

@settings(max_examples=600, deadline=None, database=None)
@given(text=HOSTILE, low=st.integers(1, 120), high=st.one_of(st.none(), st.integers(120, 40 * 86400)))
# found in CI: invisible characters spelled out (\x1f, \U00010000) made the echo ten times longer than the input
@example(text="00" + "\x1f" * 19 + "\x08" * 3 + "ĀĀ" + "\U00010000" * 8, low=1, high=None)
def test_duration_parser_accepts_in_range_or_refuses_clearly(text, low, high):
    try:
        seconds = parse_duration(text, minimum=low, maximum=high)
    except DurationError as err:
        message = str(err)
        assert message and len(message) < 300
        assert ("Use a duration like" in message or "at least" in message or "more than the most" in message)
        assert message.count("`") % 2 == 0  # the echoed input can never break out of its code span
        assert all(unicodedata.category(ch) not in ("Cc", "Cf") for ch in message)
        return
    assert isinstance(seconds, int) and seconds >= low and (high is None or seconds <= high)
    assert text.strip().isascii()  # only ASCII digits and units are ever read


@given(seconds=st.integers(1, 30 * 86400))
def test_every_duration_the_bot_shows_can_be_typed_back(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


@settings(max_examples=600, deadline=None, database=None)
@given(text=HOSTILE, max_len=st.integers(1, 2000), required=st.booleans())
def test_free_text_is_kept_whole_or_refused_clearly(text, max_len, required):
    try:
        cleaned = clean_text(text, field="reason", max_len=max_len, required=required)
    except TextError as err:
        assert str(err).startswith("The reason ")
        return
    if cleaned is None:
        assert not required and not unicodedata.normalize("NFC", text).strip()
        return
    assert cleaned == unicodedata.normalize("NFC", text).strip()  # refused or kept: never silently rewritten
    assert 1 <= len(cleaned) <= max_len
    for ch in cleaned:
        assert unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp")
        assert unicodedata.category(ch) != "Cf" or ch == "\u200d"
        assert ch not in "\u3164\u2800\uffa0\u115f\u1160"


@pytest.mark.parametrize("text", ["x\u202egnp.exe", "a\u200bb", "\u2067abc", "a\u00adb", "ok\U000e0041",
                                  "a\u2028b", "a\u2029b", "a\u3164b", "a\u2800b", "late\u2028"])
def test_hidden_and_reordering_characters_are_named(text):
    with pytest.raises(TextError, match=r"invisible character \(.+, U\+[0-9A-F]{4,5}\)"):
        clean_text(text, field="reason", max_len=REASON_MAX)


def test_emoji_sequences_are_text():
    family = "good job 👨\u200d👩\u200d👧"
    assert clean_text(family, field="reason", max_len=REASON_MAX) == family


# ---------------------------------------------------------------- every option, through Discord

def _no_pings(env: Any, since: int) -> None:
    """Every message the bot sent or edited since ``since`` allows no mention of anyone."""
    for request in env.http_requests[since:]:
        body = request.json
        if not isinstance(body, dict):
            continue
        payload = body.get("data") if isinstance(body.get("data"), dict) else body
        if not any(key in payload for key in ("content", "embeds")):
            continue
        mentions = payload.get("allowed_mentions")
        assert mentions is not None, (request.method, request.path, payload)
        assert mentions.get("parse") == [], mentions
        assert not mentions.get("users") and not mentions.get("roles") and not mentions.get("replied_user")


async def _state(world) -> tuple[Any, ...]:
    core = world.bot.core
    link = (await core.links(world.guild.id))[0]
    statuses = ("pending", "sent", "done", "uncertain")  # anything that may change the lock (failed ones cannot)
    return (len(await core.store.outbox.list_by_status(statuses)), len(await core.store.votes.list_for_link(link.id)),
            await core.limits(link), await core.vote_rules(world.guild.id))


def _refused(result) -> bool:
    answer = reply(result)
    return bool(answer.content and answer.content.startswith("⛔") and (result.ephemeral or answer.flags.ephemeral))


@pytest.fixture
async def hostile_world(world):
    await world.link(title="Weekend Challenge", remaining=30 * 86400)
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    await world.owner.slash(world.channel, "chastify limits", max_add_per_day="60d", max_add="30d")
    return world


COMMANDS: list[tuple[str, str, dict[str, Any]]] = [
    ("lock add-time", "duration", {}),
    ("lock add-time", "reason", {"duration": "1s"}),
    ("lock add-time", "lock", {"duration": "1s"}),
    ("lock freeze", "duration", {}),
    ("lock pillory", "reason", {"duration": "1m"}),
    ("lock hygiene-opening", "duration", {}),
    ("task assign", "text", {}),
    ("task assign", "duration", {"text": "Drink water"}),
    ("task complete", "reason", {"successful": True}),
    ("vote add-time", "duration", {}),
    ("vote add-time", "reason", {"duration": "1m"}),
    ("vote add-time", "window", {"duration": "1m"}),
    ("vote task", "text", {}),
    ("vote board", "add_per_vote", {}),
    ("vote board", "window", {}),
    ("vote cancel", "vote", {}),
    ("chastify status", "lock", {}),
    ("chastify history", "lock", {}),
    ("chastify limits", "max_add", {}),
    ("chastify limits", "max_add_per_day", {}),
    ("chastify limits", "max_freeze", {}),
    ("chastify limits", "max_pillory", {}),
    ("chastify settings", "window", {}),
    ("chastify settings", "cooldown", {}),
]


@pytest.mark.parametrize(("command", "option", "others"), COMMANDS, ids=[f"{c}:{o}" for c, o, _ in COMMANDS])
@SIMCORD
@given(value=HOSTILE)
async def test_every_string_option_refuses_clearly_stores_nothing_half_way_and_never_pings(
        hostile_world, command, option, others, value):
    world = hostile_world
    # the members who may use each command: the owner has limits, the admin settings, the friend is trusted
    actor = world.owner if command.startswith("chastify limits") else (
        world.admin if command.startswith("chastify settings") else world.friend)
    mark = len(world.env.http_requests)
    before = await _state(world)
    result = await actor.slash(world.channel, command, **{**others, option: value})
    _no_pings(world.env, mark)
    assert "Something went wrong" not in (reply(result).content or "")  # every bad input is an expected refusal
    if _refused(result):
        assert len(reply(result).content) > 10  # says what was wrong
        assert await _state(world) == before  # nothing stored half-way
    for message in [result.response, *result.followups]:
        if message is None:
            continue
        for embed in message.embeds:  # what the member typed is shown as plain text, never as markdown
            for text in [embed.description or "", *(f.value or "" for f in embed.fields)]:
                assert "**bold**" not in text and "||spoiler||" not in text
    await world.env.advance_time(61)  # keep clear of the per-minute budget and proposal cooldowns


async def test_a_10000_character_reason_is_refused_and_nothing_reaches_chastify(hostile_world):
    world = hostile_world
    lock = world.chastify.locks()[0]
    result = await world.friend.slash(world.channel, "lock add-time", duration="1m", reason="@everyone." * 1000)
    assert reply(result).content == "⛔ The reason is 10000 characters long; at most 300 are accepted."
    assert [h for h in lock.history if h["type"] != "custom"] == []


async def test_mentions_in_a_reason_are_shown_but_ping_nobody(hostile_world):
    world = hostile_world
    mark = len(world.env.http_requests)
    result = await world.friend.slash(world.channel, "lock add-time", duration="1m",
                                      reason=f"@everyone {world.stranger.mention} <@&{world.guild.id}> **loud**")
    embed = reply(result).embeds[0]
    assert any("@everyone" in (f.value or "") and "\\*\\*loud\\*\\*" in (f.value or "") for f in embed.fields)
    _no_pings(world.env, mark)
    posted = world.channel.last_message
    assert not posted.mention_everyone and posted.mentions == [] and posted.role_mentions == []


def test_the_action_bounds_are_what_chastify_accepts():
    assert DURATION_BOUNDS[ActionKind.FREEZE] == (60, 86400)  # API-NOTES: freeze durationSeconds 60..86400
