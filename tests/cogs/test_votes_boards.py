"""/vote board: time boards (🔼 adds, 🔽 removes a fixed amount per member), applied in ONE call at the close."""

from __future__ import annotations

import itertools

import pytest

from tests.support.builders import add_members, propose, react_all
from tests.support.postgres import ON_BOTH_STORES
from tests.support.settings import vote_settings
from tests.support.simcord import edits, embed_of, fields, outcome, reply_text
from tests.support.standin import APPLY_TIME, CUSTOM_LOG, reached, received_actions

pytestmark = [*ON_BOTH_STORES, pytest.mark.usefixtures("within_rate_limit")]

# simcord gives every bot timer a real-time fallback: once a timer's virtual delay has passed in wall-clock time
# it fires by itself. Hundreds of reactions take tens of wall-clock seconds (simcord settles each one), so the
# board tests use the longest debounce and react in batches: the tally is redrawn only when a test advances
# virtual time, never by a wall-clock wait.
DEBOUNCE = 60.0  # the most the config accepts


@pytest.fixture
def bot_settings(tmp_path, chastify, monkeypatch):
    return vote_settings(tmp_path, chastify, monkeypatch, tally_debounce_seconds=DEBOUNCE)


async def open_board(world, **options):
    result, msg = await propose(world, world.friend, "board", **options)
    assert msg is not None, reply_text(result)
    return msg


async def test_the_board_message_shows_the_amounts_and_a_live_net(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    msg = await open_board(world, add_per_vote="10m", remove_per_vote="5m", window="10m")
    e = embed_of(world.channel, msg.id)
    assert e.title == "⏱️ Time board · Weekend Challenge"
    assert "🔼 adds **10m** · 🔽 removes **5m**" in e.description
    assert f"on <@{world.owner.id}>'s lock" in e.description
    assert fields(e)["Votes"] == "🔼 0 · 🔽 0" and fields(e)["Net"] == "**0s**"
    assert [str(r.emoji) for r in msg.reactions] == ["🔼", "🔽"]
    voters = add_members(world, 5)
    await react_all(voters[:4], msg, "🔼")
    await voters[4].react(msg, "🔽")
    await voters[0].react(msg, "🔽")  # switches: one vote per member per board
    await world.env.advance_time(DEBOUNCE)
    f = fields(embed_of(world.channel, msg.id))
    assert f["Votes"] == "🔼 3 · 🔽 2" and f["Net"] == "**+20m**"


async def test_500_members_on_a_board_give_one_apply_time_call_and_one_custom_log(world):
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    voters = add_members(world, 500)
    msg = await open_board(world, add_per_vote="1m", remove_per_vote="1m", window="10m")
    plan = [(v, "🔼") for v in voters[:300]] + [(v, "🔽") for v in voters[300:]]
    plan += [(v, "🔽") for v in voters[:20]]  # 20 switch sides: 280 up, 220 down
    batches = [plan[i:i + 130] for i in range(0, len(plan), 130)]
    for n, batch in enumerate(batches):
        for member, emoji in batch:
            await member.react(msg, emoji)
        if n < len(batches) - 1:
            await world.env.advance_time(DEBOUNCE)
    # 520 reactions: one immediate edit, then one per debounce period; the last batch waits for the next one
    assert edits(world.env, msg.id) == len(batches)
    await world.env.advance_time(DEBOUNCE)
    assert fields(embed_of(world.channel, msg.id))["Net"] == "**+1h**"
    assert received_actions(world.chastify) == []  # nothing is applied while the board runs
    await world.env.advance_time(600)
    status, text = outcome(world.channel, msg.id)
    assert status == "passed" and text == "Net +1h (280 🔼, 220 🔽): applied."
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 3600}]
    assert len(reached(world.chastify, CUSTOM_LOG)) == 1
    assert len(received_actions(world.chastify)) == 2
    [log] = lock.custom_logs()
    assert log["title"] == "Discord board: +1h (280 up, 220 down)"
    assert "Lock Club" in log["description"]
    assert [h["seconds"] for h in lock.history if h["type"] == "time_added"] == [3600]
    assert edits(world.env, msg.id) <= len(batches) + 3  # and the outcome: a handful for 520 reactions


async def test_a_board_net_is_clamped_to_the_owners_limits(world):
    _lock, _ = await world.link(remaining=86400)
    voters = add_members(world, 10)
    msg = await open_board(world, add_per_vote="10m", remove_per_vote="0", window="10m")
    assert [str(r.emoji) for r in msg.reactions] == ["🔼"]  # only what the board counts
    await react_all(voters, msg, "🔼")  # +1h40m, the default limit is 1h per action
    await world.env.advance_time(600)
    status, text = outcome(world.channel, msg.id)
    assert status == "passed"
    assert text == "Net +1h 40m (10 🔼, 0 🔽); the owner's limits allowed +1h of +1h 40m: applied."
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 3600}]


async def test_a_long_board_applies_at_most_every_flush_period_and_the_rest_at_the_close(world):
    """board_flush_seconds is 300: a 30-minute board applies what changed every 5 minutes, never in its last 5."""
    lock, _ = await world.link(remaining=86400)
    voters = add_members(world, 6)
    msg = await open_board(world, add_per_vote="5m", remove_per_vote="5m", window="30m")
    await react_all(voters[:3], msg, "🔼")  # +15m
    await world.env.advance_time(300)  # first flush: +15m
    await world.env.advance_time(300)  # nothing changed: no call
    await voters[3].react(msg, "🔼")
    await voters[4].react(msg, "🔼")  # +25m
    await world.env.advance_time(300)  # second flush: +10m
    assert fields(embed_of(world.channel, msg.id))["Applied so far"] == "+25m"
    await world.env.advance_time(700)  # a flush at 20 minutes finds nothing new; none at 25 (the last 5)
    assert len(reached(world.chastify, APPLY_TIME)) == 2
    await voters[0].react(msg, "🔽")
    await voters[5].react(msg, "🔽")  # 4 up, 2 down: net +10m, so 15m to take back
    await world.env.advance_time(200)  # the close
    status, text = outcome(world.channel, msg.id)
    assert status == "passed" and text == "Net +10m (4 🔼, 2 🔽); +25m applied earlier: applied."
    calls = reached(world.chastify, APPLY_TIME)
    assert [r.json["deltaSeconds"] for r in calls] == [900, 600, -900]
    assert all(b.at - a.at >= 300 for a, b in itertools.pairwise(calls))
    assert len(lock.custom_logs()) == 3


async def test_a_board_the_owner_does_not_allow_is_refused(world):
    await world.link(remaining=86400)
    await world.owner.slash(world.channel, "chastify limits", votes="none")
    result, msg = await propose(world, world.friend, "board")
    assert msg is None and result.ephemeral
    assert reply_text(result) == ("⛔ This lock's consent card does not allow votes to add time. Votes may: nothing "
                                  "(`/chastify status` shows the card). Open the board with `add_per_vote: 0`.")
