"""Open votes and boards across a restart: deadlines rebuilt from SQLite, reactions changed while the bot was
down reconciled from the vote message, a deleted message cancels its vote (simcord's ``env.restart_bot``)."""

from __future__ import annotations

import pytest

from tests.support.builders import add_members, crash_and_restart, propose, react_all, set_reaction
from tests.support.postgres import ON_BOTH_STORES
from tests.support.settings import VOTE_DEBOUNCE, vote_settings
from tests.support.simcord import embed_of, fields, outcome, reply_text
from tests.support.standin import APPLY_TIME, CUSTOM_LOG, reached

pytestmark = [*ON_BOTH_STORES, pytest.mark.usefixtures("within_rate_limit")]


@pytest.fixture
def bot_settings(tmp_path, chastify, monkeypatch):
    return vote_settings(tmp_path, chastify, monkeypatch)


async def open_vote(world, command="add-time", window="10m", **options):
    if command != "board":
        options.setdefault("duration", "1h")
    result, msg = await propose(world, world.friend, command, window=window, **options)
    assert msg is not None, reply_text(result)
    return msg


async def test_reactions_changed_while_the_bot_was_down_give_the_right_tally(world, bot_settings):
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    voters = add_members(world, 6)
    msg = await open_vote(world)
    await react_all(voters[:3], msg, "✅")  # 3 for, buffered or written: the crash may lose them from memory

    def while_down():
        set_reaction(world, voters[0], msg, "✅", False)  # retracts
        set_reaction(world, voters[1], msg, "✅", False)  # switches to ❌
        set_reaction(world, voters[1], msg, "❌", True)
        set_reaction(world, voters[3], msg, "❌", True)  # new ballots
        set_reaction(world, voters[4], msg, "✅", True)
        set_reaction(world, voters[5], msg, "✅", True)  # both reactions and no stored ballot: neither counts
        set_reaction(world, voters[5], msg, "❌", True)

    await crash_and_restart(world, bot_settings, while_down)
    await world.env.advance_time(VOTE_DEBOUNCE)
    assert fields(embed_of(world.channel, msg.id))["Tally"].startswith("✅ 2 · ❌ 2\n")
    assert outcome(world.channel, msg.id) is None  # still open: its deadline was rebuilt
    # live reactions count on top of the reconciled ballots after the restart
    await voters[0].react(msg, "✅")
    await world.env.advance_time(600)
    assert outcome(world.channel, msg.id) == ("passed", "Passed (3 for, 2 against): applied.")
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 3600}]
    assert [log["title"] for log in lock.custom_logs()] == ["Discord vote: +1h (3 for, 2 against)"]


async def test_a_deadline_that_passed_while_down_closes_right_after_on_the_reactions_as_they_are(world, bot_settings):
    lock, _ = await world.link(remaining=86400)
    voters = add_members(world, 4)
    msg = await open_vote(world, window="5m")
    await react_all(voters[:3], msg, "✅")  # would pass as it stands

    def while_down():
        for v in voters[:2]:
            set_reaction(world, v, msg, "✅", False)
        set_reaction(world, voters[3], msg, "❌", True)
        world.env.backend.advance_clock(400)  # the bot is down across the deadline

    await crash_and_restart(world, bot_settings, while_down)
    assert outcome(world.channel, msg.id) == ("failed", "Failed: quorum not reached (2 of 3 votes).")
    assert reached(world.chastify, APPLY_TIME) == [] and lock.custom_logs() == []


async def test_a_vote_whose_message_was_deleted_while_down_is_cancelled(world, bot_settings):
    await world.link(remaining=86400)
    voters = add_members(world, 3)
    msg = await open_vote(world)
    await react_all(voters, msg, "✅")

    def while_down():
        world.env.backend.delete_message(msg.channel.id, msg.id)

    await crash_and_restart(world, bot_settings, while_down)
    shown = await world.friend.slash(world.channel, "vote list")
    assert shown.response.embeds[0].description.startswith("No open votes.")
    await world.env.advance_time(600)
    assert reached(world.chastify, APPLY_TIME) == []


async def test_a_board_survives_a_restart_and_applies_its_net_once_at_the_close(world, bot_settings):
    await world.link(remaining=86400)
    voters = add_members(world, 5)
    msg = await open_vote(world, "board", window="10m", add_per_vote="10m", remove_per_vote="5m")
    await react_all(voters[:3], msg, "🔼")

    def while_down():
        set_reaction(world, voters[3], msg, "🔼", True)
        set_reaction(world, voters[4], msg, "🔽", True)

    await crash_and_restart(world, bot_settings, while_down)
    await world.env.advance_time(600)
    status, text = outcome(world.channel, msg.id)
    assert status == "passed" and text == "Net +35m (4 🔼, 1 🔽): applied."
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 2100}]
    assert len(reached(world.chastify, CUSTOM_LOG)) == 1
