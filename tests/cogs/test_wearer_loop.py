"""The wearer in the loop: the lock's consent card, the veto window and vote reminders, driven through simcord
against the Chastify stand-in. Defaults: quorum 3, no cooldown (``vote_settings``)."""

from __future__ import annotations

import pytest

from tests.support.builders import add_members, crash_and_restart, propose, react_all
from tests.support.settings import VOTE_DEBOUNCE, vote_settings
from tests.support.simcord import embed_of, fields, message, outcome, refusal, reply, reply_text
from tests.support.standin import APPLY_TIME, reached, received_actions

pytestmark = pytest.mark.usefixtures("within_rate_limit")

WINDOW = 600


@pytest.fixture
def bot_settings(tmp_path, chastify, monkeypatch):
    return vote_settings(tmp_path, chastify, monkeypatch)


async def passed_vote(world, *, veto: int):
    """A linked lock with a ``veto`` minute window and a +1h vote that passes 3-0 at its deadline."""
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    await world.owner.slash(world.channel, "chastify limits", veto=veto)
    voters = add_members(world, 3)
    result, msg = await propose(world, world.friend, "add-time", duration="1h", window="10m")
    assert msg is not None, reply_text(result)
    await react_all(voters, msg, "✅")
    await world.env.advance_time(WINDOW)
    return lock, msg


def veto_buttons(world, msg):
    return [c for row in message(world.channel, msg.id).components for c in getattr(row, "children", [row])
            if getattr(c, "label", None) == "Veto"]


# ---------------------------------------------------------------------------------------------- the card
async def test_status_shows_the_consent_card_with_what_is_allowed_and_what_is_left_today(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    await world.owner.slash(world.channel, "chastify limits", votes="time only", trusted="time and freeze",
                            boards=False, veto=10, max_add_per_day="3h")
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    done = await world.friend.slash(world.channel, "lock add-time", duration="30m")
    assert "Applied" in reply(done).embeds[0].description
    shown = await world.stranger.slash(world.channel, "chastify status")
    card = next(v for k, v in fields(reply(shown).embeds[0]).items() if k.startswith("Consent card"))
    assert card.splitlines() == [
        "**By vote:** add time, remove time",
        "**Time boards:** not allowed",
        "**Wheels:** allowed (each option within what votes may do)",
        "**By trusted people:** add time, remove time, freeze, unfreeze",
        "**Limits:** at most 1h added per action, 3h per 24 h; freezes up to 4h, pillory up to 1h; votes need at "
        "least 3 voter(s)",
        "**Veto window:** 10 min: a passed vote waits that long for the owner's veto",
        "**Left today:** 2h 30m may still be added (rolling 24 h)",
    ]


async def test_a_kind_the_card_forbids_is_refused_with_the_cards_words_and_no_call(world):
    await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "chastify limits", votes="time only", boards=False)
    before = len(received_actions(world.chastify))
    result, msg = await propose(world, world.friend, "freeze", duration="10m")
    assert msg is None
    assert refusal(result) == ("⛔ This lock's consent card does not allow votes to freeze. Votes may: add time, "
                               "remove time (`/chastify status` shows the card).")
    result, msg = await propose(world, world.friend, "board", add_per_vote="5m")
    assert msg is None
    assert refusal(result) == ("⛔ This lock's consent card does not allow time boards. Votes may: add time, "
                               "remove time (`/chastify status` shows the card).")
    assert len(received_actions(world.chastify)) == before  # nothing reached Chastify


# ---------------------------------------------------------------------------------------------- the veto window
async def test_a_veto_within_the_window_applies_nothing_and_is_logged_once(world):
    lock, msg = await passed_vote(world, veto=5)
    status = fields(embed_of(world.channel, msg.id))
    assert "Passed (3 for, 0 against): applies <t:" in status["Passed · the owner may veto it"]
    assert reached(world.chastify, APPLY_TIME) == []
    assert len(veto_buttons(world, msg)) == 1  # everyone sees it

    other = await world.friend.click(message(world.channel, msg.id), label="Veto")
    assert refusal(other) == ("⛔ Only the lock's owner (whoever linked it with their own token) can veto a vote "
                              "on it.")
    vetoed = await world.owner.click(message(world.channel, msg.id), label="Veto")
    assert reply(vetoed).ephemeral
    assert reply_text(vetoed) == "✋ Vetoed by wearer\\_wendy (3 for, 0 against): nothing was applied."
    await world.env.advance_time(5 * 60 + 60)
    assert reached(world.chastify, APPLY_TIME) == []
    assert outcome(world.channel, msg.id) == ("cancelled",
                                              "Vetoed by wearer\\_wendy (3 for, 0 against): nothing was applied.")
    assert veto_buttons(world, msg) == []
    [log] = lock.custom_logs()
    assert log["title"] == "Discord: vote vetoed by the owner (+1h)"
    history = await world.owner.slash(world.channel, "chastify history")
    assert "**+1h** · vetoed · <@" in reply(history).embeds[0].description
    assert "↳ vote \\#1: 3 for, 0 against" in reply(history).embeds[0].description


async def test_without_a_veto_the_vote_applies_when_the_window_ends_and_a_late_veto_is_refused(world):
    lock, msg = await passed_vote(world, veto=5)
    await world.env.advance_time(5 * 60)
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 3600}]
    assert outcome(world.channel, msg.id) == ("passed", "Passed (3 for, 0 against): applied.")
    late = await world.owner.slash(world.channel, "vote veto", vote="1")
    assert refusal(late).startswith("⛔ Vote #1 can no longer be vetoed: its veto window has closed")
    assert len(reached(world.chastify, APPLY_TIME)) == 1
    assert [log["title"] for log in lock.custom_logs()] == ["Discord vote: +1h (3 for, 0 against)"]


async def test_the_safeword_during_the_veto_window_applies_nothing(world):
    _, msg = await passed_vote(world, veto=5)
    await world.owner.slash(world.channel, "chastify safeword")
    await world.env.advance_time(10 * 60)
    assert reached(world.chastify, APPLY_TIME) == []
    status, text = outcome(world.channel, msg.id)
    assert status == "cancelled" and "safeword" in text


async def test_a_board_waits_for_the_veto_window_and_applies_its_net_once_after_it(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    await world.owner.slash(world.channel, "chastify limits", veto=5)
    voters = add_members(world, 4)
    result, msg = await propose(world, world.friend, "board", add_per_vote="10m", window="30m")
    assert msg is not None, reply_text(result)
    await react_all(voters, msg, "🔼")
    await world.env.advance_time(30 * 60)  # past several flush periods: nothing applied before the close
    assert reached(world.chastify, APPLY_TIME) == []
    assert "applies <t:" in fields(embed_of(world.channel, msg.id))["Passed · the owner may veto it"]
    await world.env.advance_time(5 * 60)
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 2400}]


# ---------------------------------------------------------------------------------------------- reminders
async def test_a_reminder_is_posted_once_near_the_close_and_mentions_nobody(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    await world.admin.slash(world.channel, "chastify settings", reminder="10%")
    result, msg = await propose(world, world.friend, "add-time", duration="1h", window="10m")
    assert msg is not None, reply_text(result)
    deadline = int(world.env.now().timestamp()) + WINDOW

    def reminders():
        return [m for m in world.channel.history() if m.content and m.content.startswith("⏰")]

    await world.env.advance_time(WINDOW * 0.9 - 5)
    assert reminders() == []
    await world.env.advance_time(10)
    [posted] = reminders()
    assert posted.content == (f"⏰ Vote #1 closes <t:{deadline}:R>: react on the message above if you have not "
                              "voted yet.")
    assert posted.reference is not None and posted.reference.message_id == msg.id
    sent = [r for r in world.env.http_requests if r.method == "POST" and r.path.endswith(
        f"/channels/{world.channel.id}/messages") and (r.json or {}).get("content", "").startswith("⏰")]
    assert [r.json["allowed_mentions"]["parse"] for r in sent] == [[]]
    assert fields(embed_of(world.channel, msg.id))["⏰ Closing soon"] == "Last chance to react."
    await world.env.advance_time(VOTE_DEBOUNCE)
    assert len(reminders()) == 1


async def test_a_reminder_mentions_only_the_servers_reminder_role(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    role = world.guild.create_role("Voters")
    await world.admin.slash(world.channel, "chastify settings", reminder="50%", reminder_role=role)
    result, msg = await propose(world, world.friend, "add-time", duration="1h", window="10m")
    assert msg is not None, reply_text(result)
    await world.env.advance_time(WINDOW / 2 + 1)
    sent = [r for r in world.env.http_requests if r.method == "POST" and r.path.endswith(
        f"/channels/{world.channel.id}/messages") and (r.json or {}).get("content", "").startswith("<@&")]
    assert len(sent) == 1
    assert sent[0].json["content"].startswith(f"<@&{role.id}> ⏰ Vote #1 closes")
    mentions = sent[0].json["allowed_mentions"]
    assert mentions["parse"] == [] and [int(r) for r in mentions["roles"]] == [role.id]


async def test_a_bad_reminder_share_is_refused_and_changes_nothing(world):
    result = await world.admin.slash(world.channel, "chastify settings", reminder="150%")
    assert refusal(result).startswith("⛔ Nothing was changed. `150%` is not a share of the window. Use a percentage "
                                      "from 1% to 90%")
    shown = await world.admin.slash(world.channel, "chastify settings")
    assert fields(reply(shown).embeds[0])["Reminder"] == "off"


async def test_a_vote_waiting_for_its_veto_window_survives_a_restart_and_its_button_still_works(world, bot_settings):
    _, msg = await passed_vote(world, veto=10)
    await crash_and_restart(world, bot_settings)
    assert reached(world.chastify, APPLY_TIME) == []  # the restart does not apply a waiting vote
    vetoed = await world.owner.click(message(world.channel, msg.id), label="Veto")
    assert reply_text(vetoed).startswith("✋ Vetoed by")
    await world.env.advance_time(11 * 60)
    assert reached(world.chastify, APPLY_TIME) == []


async def test_a_waiting_vote_is_applied_once_after_a_restart_when_its_window_ends(world, bot_settings):
    _, msg = await passed_vote(world, veto=10)
    await crash_and_restart(world, bot_settings)
    await world.env.advance_time(10 * 60)
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 3600}]
    assert outcome(world.channel, msg.id) == ("passed", "Passed (3 for, 0 against): applied.")
    await world.env.advance_time(60 * 60)
    assert len(reached(world.chastify, APPLY_TIME)) == 1


async def test_a_veto_window_that_ran_out_while_the_bot_was_down_starts_again(world, bot_settings):
    _, msg = await passed_vote(world, veto=5)

    async def down_for_ten_minutes():
        await world.env.advance_time(10 * 60)

    await world.bot.unload_extension("cogs.votes")  # the bot is down past the window: nobody could veto
    await down_for_ten_minutes()
    await world.bot.load_extension("cogs.votes")
    assert reached(world.chastify, APPLY_TIME) == []  # not applied the moment it is back
    assert "applies <t:" in fields(embed_of(world.channel, msg.id))["Passed · the owner may veto it"]
    vetoed = await world.owner.slash(world.channel, "vote veto", vote="1")
    assert reply_text(vetoed).startswith("✋ Vetoed by")
    await world.env.advance_time(10 * 60)
    assert reached(world.chastify, APPLY_TIME) == []
