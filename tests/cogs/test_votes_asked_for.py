"""Votes people ask for: ballots by buttons (and anonymous ones), wheel votes with a verifiable draw, and votes
that open by themselves on a schedule, driven through simcord against the Chastify stand-in. Defaults: quorum 3,
no cooldown, 10 s tally debounce (``vote_settings``)."""

from __future__ import annotations

import hashlib
import logging

import pytest

from bot.__main__ import main as cli
from bot.voting import proposals
from bot.voting.draw import draw
from tests.support.builders import add_members, crash_and_restart, propose
from tests.support.postgres import ON_BOTH_STORES
from tests.support.settings import VOTE_DEBOUNCE, vote_settings
from tests.support.simcord import embed_of, fields, message, message_posts, outcome, refusal, reply, reply_text
from tests.support.standin import APPLY_TIME, FREEZE, reached

pytestmark = [*ON_BOTH_STORES, pytest.mark.usefixtures("within_rate_limit")]

WINDOW = 600
SEED = "5eed" * 16  # a fixed seed: the draw below is known in advance


@pytest.fixture
def bot_settings(tmp_path, chastify, monkeypatch):
    return vote_settings(tmp_path, chastify, monkeypatch)


@pytest.fixture
def fixed_seed(monkeypatch):
    monkeypatch.setattr(proposals, "new_seed", lambda: SEED)
    return SEED


def buttons(world, msg):
    return [c for row in message(world.channel, msg.id).components for c in getattr(row, "children", [row])
            if getattr(c, "custom_id", None)]


def labels(world, msg):
    return [b.label for b in buttons(world, msg)]


# a ballot as either style casts it: the reaction, or the button with that label
DECISION = {"for": ("✅", "For"), "against": ("❌", "Against")}


async def cast(world, style, member, msg, emoji, label):
    if style == "reactions":
        await member.react(msg, emoji)
        return None
    result = await member.click(message(world.channel, msg.id), label=label)
    assert reply(result).ephemeral
    return result


async def retract(world, style, member, msg, emoji, label, last_answer):
    if style == "reactions":
        await member.unreact(msg, emoji)
        return
    undone = await member.click(reply(last_answer), label="Retract my ballot")
    assert reply(undone).ephemeral and "retracted" in reply_text(undone)


# ---------------------------------------------------------------------------------------------- two ballot styles
@pytest.mark.parametrize("style", ["reactions", "buttons"])
async def test_buttons_and_reactions_give_the_same_result_on_the_same_ballots(world, style):
    """One member votes, one switches, one retracts, the lock's owner (who does not vote on their own lock) and the
    bot itself try: the same ballots in either style give the same tally, the same outcome and the same action."""
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    v = add_members(world, 5)
    result, msg = await propose(world, world.friend, "add-time", duration="1h", window="10m", style=style)
    assert msg is not None, reply_text(result)
    assert labels(world, msg) == ([] if style == "reactions" else ["For", "Against"])
    await cast(world, style, v[0], msg, *DECISION["for"])
    await cast(world, style, v[1], msg, *DECISION["for"])
    await cast(world, style, v[2], msg, *DECISION["for"])
    await cast(world, style, v[2], msg, *DECISION["against"])  # switches: the latest counts
    answer = await cast(world, style, v[3], msg, *DECISION["against"])
    await retract(world, style, v[3], msg, *DECISION["against"], answer)
    await cast(world, style, v[4], msg, *DECISION["for"])
    owner = await cast(world, style, world.owner, msg, *DECISION["for"])  # not counted: the owner's own lock
    if owner is not None:
        assert refusal(owner).startswith("⛔ Your ballot does not count on vote #1: the lock's owner does not vote")
    await world.env.advance_time(VOTE_DEBOUNCE)
    assert fields(embed_of(world.channel, msg.id))["Tally"].startswith("✅ 3 · ❌ 1\n")
    await world.env.advance_time(WINDOW)
    assert outcome(world.channel, msg.id) == ("passed", "Passed (3 for, 1 against): applied.")
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 3600}]
    assert [log["title"] for log in lock.custom_logs()] == ["Discord vote: +1h (3 for, 1 against)"]
    assert buttons(world, msg) == []  # the buttons go when the vote is over


@pytest.mark.parametrize("style", ["reactions", "buttons"])
async def test_a_wheel_counts_the_same_in_both_styles(world, fixed_seed, style):
    await world.link(title="Weekend Challenge", remaining=86400)
    v = add_members(world, 4)
    result, msg = await propose(world, world.friend, "wheel", options="+30m, +1h, nothing", window="10m",
                                style=style)
    assert msg is not None, reply_text(result)
    assert labels(world, msg) == ([] if style == "reactions" else ["+30m", "+1h", "nothing"])
    for member, (emoji, label) in zip(v, [("1️⃣", "+30m"), ("2️⃣", "+1h"), ("2️⃣", "+1h"), ("3️⃣", "nothing")],
                                      strict=True):
        await cast(world, style, member, msg, emoji, label)
    await cast(world, style, v[3], msg, "2️⃣", "+1h")  # switches from nothing to +1h
    await world.env.advance_time(WINDOW)
    status, text = outcome(world.channel, msg.id)
    assert (status, text.split(" won:")[0]) == ("passed", "Option 2 (+1h)")
    assert "tally 1,3,0" in text
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 3600}]


async def test_anonymous_needs_buttons_and_says_so(world):
    await world.link(remaining=86400)
    result, msg = await propose(world, world.friend, "add-time", duration="1h", style="reactions", anonymous=True)
    assert msg is None
    assert refusal(result) == ("⛔ An anonymous vote uses buttons: with reactions everyone can see who reacted. "
                               "Choose `style: buttons` or leave the style out. Nothing was proposed.")


async def test_the_server_setting_makes_buttons_the_default(world):
    await world.link(remaining=86400)
    changed = await world.admin.slash(world.channel, "chastify settings", ballot_style="buttons")
    assert reply(changed).ephemeral and fields(reply(changed).embeds[0])["Ballots"] == "buttons"
    _, msg = await propose(world, world.friend, "freeze", duration="30m")
    assert labels(world, msg) == ["For", "Against"]
    assert message(world.channel, msg.id).reactions == []


# ---------------------------------------------------------------------------------------------- anonymous ballots
async def test_an_anonymous_vote_never_reveals_a_voter_anywhere(world, caplog):
    caplog.set_level(logging.DEBUG)
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    await world.owner.slash(world.channel, "chastify notify", dm=True)
    v = add_members(world, 4, prefix="secret_voter")
    since = len(world.env.http_requests)
    result, msg = await propose(world, world.friend, "add-time", duration="1h", window="10m", anonymous=True)
    assert msg is not None, reply_text(result)
    assert "Anonymous" in embed_of(world.channel, msg.id).description
    answers = []
    for member, label in zip(v, ["For", "For", "Against", "For"], strict=True):
        answers.append(await cast(world, "buttons", member, msg, None, label))
    # only the voter sees their own ballot, privately
    assert all(reply(a).ephemeral and "Only you see this" in reply_text(a) for a in answers)
    await world.env.advance_time(WINDOW)
    assert outcome(world.channel, msg.id) == ("passed", "Passed (3 for, 1 against): applied.")
    listing = await world.admin.slash(world.channel, "vote list")
    history = await world.owner.slash(world.channel, "chastify history")
    assert "+1h" in reply(history).embeds[0].description
    voter_marks = [str(m.id) for m in v] + ["secret_voter"]
    shown = repr(message_posts(world.env, since)) + repr(reply(listing).embeds[0].to_dict())
    assert [m for m in voter_marks if m in shown] == []
    assert [m for m in voter_marks if m in repr(lock.custom_logs())] == []
    logged = [r.getMessage() + repr(r.__dict__) for r in caplog.records]
    assert [m for m in voter_marks if any(m in line for line in logged)] == []


async def test_reactions_on_a_buttons_vote_are_not_ballots(world):
    await world.link(remaining=86400)
    v = add_members(world, 3)
    _, msg = await propose(world, world.friend, "add-time", duration="1h", window="10m", anonymous=True)
    for member in v:
        await member.react(msg, "✅")  # anyone can add a reaction; on an anonymous vote it must not count
    await world.env.advance_time(WINDOW)
    assert outcome(world.channel, msg.id) == ("failed", "Failed: quorum not reached (0 of 3 votes).")


# ---------------------------------------------------------------------------------------------- restarts
async def test_buttons_work_after_a_restart_and_their_ballots_survive_it(world, bot_settings):
    await world.link(remaining=86400)
    v = add_members(world, 3)
    _, msg = await propose(world, world.friend, "add-time", duration="1h", window="10m", style="buttons")
    await cast(world, "buttons", v[0], msg, None, "For")  # answered "it counts": written before the answer
    await crash_and_restart(world, bot_settings)
    for member in v[1:]:
        answer = await cast(world, "buttons", member, msg, None, "For")  # the old message's buttons still work
        assert "It counts" in reply_text(answer)
    await world.env.advance_time(WINDOW)
    assert outcome(world.channel, msg.id) == ("passed", "Passed (3 for, 0 against): applied.")


# ---------------------------------------------------------------------------------------------- wheel votes
async def test_a_wheel_with_a_fixed_seed_draws_the_expected_option_and_verify_draw_agrees(world, fixed_seed, capsys):
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    v = add_members(world, 6)
    result, msg = await propose(world, world.friend, "wheel", options="+30m, freeze 1h, nothing", mode="wheel",
                                window="10m")
    assert msg is not None, reply_text(result)
    open_embed = embed_of(world.channel, msg.id)
    commitment = hashlib.sha256(SEED.encode("ascii")).hexdigest()
    assert fields(open_embed)["Draw commitment (SHA-256 of the seed)"] == f"`{commitment}`"
    assert SEED not in repr(message_posts(world.env))  # the seed stays secret while the vote is open
    for member, emoji in zip(v, ["1️⃣", "1️⃣", "1️⃣", "2️⃣", "2️⃣", "3️⃣"], strict=True):
        await member.react(msg, emoji)
    await world.env.advance_time(VOTE_DEBOUNCE)
    options = fields(embed_of(world.channel, msg.id))["Options"]
    assert "1️⃣ +30m\n▰▰▰▰▰▰▱▱▱▱▱▱ 3 (50%)" in options  # a bar per option while it is open
    # ticket 4 of 6 lands in option 2's slice (tickets 3-4): the wheel, not the most votes, decides
    assert draw(SEED, [3, 2, 1], "wheel").winner == 1
    await world.env.advance_time(WINDOW)
    assert outcome(world.channel, msg.id) == (
        "passed", f"Option 2 (freeze 1h) won: wheel draw: ticket 4 of 6 → option 2 (tally 3,2,1; seed {SEED}): "
                  "applied.")
    assert cli(["verify-draw", SEED, "3,2,1", "--mode", "wheel", "--commitment", commitment]) == 0
    assert "winner:     option 2" in capsys.readouterr().out
    assert [r.json for r in reached(world.chastify, FREEZE)] == [{"durationSeconds": 3600}]
    assert reached(world.chastify, APPLY_TIME) == []
    [log] = lock.custom_logs()
    assert log["title"] == "Discord wheel: option 2 won: freeze 1h"
    assert "tally 3,2,1; seed " + SEED in log["description"]
    assert f"python -m bot verify-draw {SEED} 3,2,1 --mode wheel" in log["description"]


async def test_a_plurality_tie_is_drawn_among_the_tied_only(world, monkeypatch):
    """Options 1 and 2 tie at 2 votes, option 3 has 1: whatever the seed, only 1 or 2 can win; the seed picked
    here draws option 2, the second of the tied, so the draw (not the order) decided."""
    seed = next(s for s in (f"{i:064x}" for i in range(100)) if draw(s, [2, 2, 1], "plurality").winner == 1)
    assert {draw(f"{i:064x}", [2, 2, 1], "plurality").winner for i in range(200)} == {0, 1}
    monkeypatch.setattr(proposals, "new_seed", lambda: seed)
    await world.link(remaining=86400)
    v = add_members(world, 5)
    _, msg = await propose(world, world.friend, "wheel", options="+30m, +1h, nothing", window="10m")
    for member, emoji in zip(v, ["1️⃣", "1️⃣", "2️⃣", "2️⃣", "3️⃣"], strict=True):
        await member.react(msg, emoji)
    await world.env.advance_time(WINDOW)
    status, text = outcome(world.channel, msg.id)
    assert status == "passed"
    assert text.startswith("Option 2 (+1h) won: plurality tie between options 1, 2 drawn: ticket 1 of 2 → option 2")
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 3600}]


async def test_a_wheel_option_outside_the_owners_card_or_limits_is_refused_before_it_opens(world):
    await world.link(remaining=86400)
    result, msg = await propose(world, world.friend, "wheel", options="+30m, +3h, nothing")
    assert msg is None
    assert refusal(result).startswith("⛔ Option 2 (+3h) cannot be on this wheel: ")
    bad, none = await propose(world, world.friend, "wheel", options="+30m, banana")
    assert none is None and "Option 2 (banana) is not something a wheel can do." in refusal(bad)


async def test_a_wheel_below_quorum_draws_nothing_and_reveals_the_seed(world, fixed_seed):
    await world.link(remaining=86400)
    v = add_members(world, 1)
    _, msg = await propose(world, world.friend, "wheel", options="+30m, +1h", window="10m")
    await v[0].react(msg, "1️⃣")
    await world.env.advance_time(WINDOW)
    assert outcome(world.channel, msg.id) == (
        "failed", f"Failed: quorum not reached (1 of 3 votes), nothing was drawn. Seed {SEED}.")
    assert reached(world.chastify, APPLY_TIME) == []


async def test_a_wheel_waits_for_the_veto_window_and_applies_the_same_option_after_a_restart(world, bot_settings,
                                                                                             fixed_seed):
    await world.link(title="Weekend Challenge", remaining=86400)
    await world.owner.slash(world.channel, "chastify limits", veto=5)
    v = add_members(world, 3)
    _, msg = await propose(world, world.friend, "wheel", options="+30m, +1h", mode="wheel", window="10m")
    for member, emoji in zip(v, ["1️⃣", "2️⃣", "2️⃣"], strict=True):
        await member.react(msg, emoji)
    await world.env.advance_time(WINDOW)
    expected = draw(SEED, [1, 2], "wheel")
    assert expected.winner is not None
    waiting = fields(embed_of(world.channel, msg.id))["Passed · the owner may veto it"]
    assert waiting.startswith(f"Option {expected.winner + 1} (")
    await crash_and_restart(world, bot_settings)
    await world.env.advance_time(5 * 60 + 130)
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": [1800, 3600][expected.winner]}]
    status, _ = outcome(world.channel, msg.id)
    assert status == "passed"


# ---------------------------------------------------------------------------------------------- scheduled votes
def _hhmm(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%H:%M")


def _scheduled(world):
    return [m for m in world.channel.history() if m.embeds and "scheduled" in (m.embeds[0].footer.text or "")]


async def test_a_daily_vote_opens_on_time_for_three_days_survives_a_restart_and_is_skipped_while_paused(
        world, bot_settings):
    await world.link(title="Weekend Challenge", remaining=30 * 86400)
    now = world.bot.core.clock()
    first = (int(now) // 60 + 60) * 60  # an hour from now, on the minute
    made = await world.admin.slash(world.channel, "vote schedule add", kind="decision", what="+30m",
                                   when=f"daily {_hhmm(first)}", window="10m")
    assert reply(made).ephemeral
    assert reply_text(made).startswith(f"📅 Schedule #1: vote on +30m (open 10m), daily at {_hhmm(first)} (UTC) in "
                                       f"<#{world.channel.id}>. First opening <t:{first}:F>")
    # day 1: opens at its minute, not before
    await world.env.advance_time(first - now - 5)
    assert _scheduled(world) == []
    await world.env.advance_time(10)
    [day1] = _scheduled(world)
    assert day1.embeds[0].title.startswith("🗳️ Vote · +30m")
    await world.env.advance_time(WINDOW)  # closes (nobody voted)
    # the bot restarts between day 1 and day 2: the schedule is stored, its next opening too
    await crash_and_restart(world, bot_settings)
    await world.env.advance_time(first + 86400 - world.bot.core.clock() - 5)
    assert len(_scheduled(world)) == 1
    await world.env.advance_time(10)
    assert len(_scheduled(world)) == 2
    # day 3: the wearer used the safeword: nothing opens, the schedule says why, in the channel too
    await world.owner.slash(world.channel, "chastify safeword")
    await world.env.advance_time(first + 2 * 86400 - world.bot.core.clock() + 5)
    assert len(_scheduled(world)) == 2
    notes = [m.content for m in world.channel.history() if m.content.startswith("⏭️")]
    assert notes == ["⏭️ Scheduled vote (schedule #1) skipped: the lock is paused."]
    listed = await world.admin.slash(world.channel, "vote schedule list")
    assert "last: skipped: the lock is paused" in reply(listed).embeds[0].description
    assert f"next <t:{first + 3 * 86400}:f>" in reply(listed).embeds[0].description
    # day 4, resumed: it opens again
    await world.owner.slash(world.channel, "chastify resume")
    await world.env.advance_time(first + 3 * 86400 - world.bot.core.clock() + 5)
    assert len(_scheduled(world)) == 3


async def test_an_opening_missed_while_down_opens_at_once_within_its_window_else_is_skipped(world, bot_settings):
    await world.link(remaining=30 * 86400)
    now = world.bot.core.clock()
    first = (int(now) // 60 + 60) * 60
    await world.admin.slash(world.channel, "vote schedule add", kind="board", what="+10m, -5m",
                            when=f"daily {_hhmm(first)}", window="30m")
    await world.env.advance_time(first - now - 60)

    def down_five_minutes():  # the bot is down across the opening, and back 4 minutes after it
        world.env.backend.advance_clock(5 * 60)

    await crash_and_restart(world, bot_settings, down_five_minutes)
    await world.env.advance_time(1)
    [board] = _scheduled(world)
    assert board.embeds[0].title.startswith("⏱️ Time board")
    assert fields(board.embeds[0])["Closes"] == f"<t:{first + 30 * 60}:R>"  # what was left of its window

    def down_two_days():
        world.env.backend.advance_clock(2 * 86400)

    await crash_and_restart(world, bot_settings, down_two_days)
    await world.env.advance_time(1)
    assert len(_scheduled(world)) == 1
    listed = await world.admin.slash(world.channel, "vote schedule list")
    assert "last: skipped: the bot was not running when it was due" in reply(listed).embeds[0].description


async def test_only_manage_server_or_the_locks_people_schedule_and_bad_input_changes_nothing(world):
    await world.link(remaining=86400)
    refused = await world.friend.slash(world.channel, "vote schedule add", kind="decision", what="+30m",
                                       when="daily 20:00")
    assert refusal(refused).startswith("⛔ Only members with Manage Server and the lock's own people")
    bad_when = await world.owner.slash(world.channel, "vote schedule add", kind="decision", what="+30m",
                                       when="tomorrow-ish")
    assert "is not a schedule I understand" in refusal(bad_when)
    bad_what = await world.owner.slash(world.channel, "vote schedule add", kind="decision", what="+30m, +1h",
                                       when="daily 20:00")
    assert refusal(bad_what) == ("⛔ For a vote, `what` is one action: `+1h`, `-30m`, `freeze 1h`, `freeze`, "
                                 "`unfreeze` or `pillory 10m`. Nothing was scheduled.")
    ok = await world.owner.slash(world.channel, "vote schedule add", kind="wheel", what="+30m, nothing",
                                 when="weekly sun 18:30", mode="wheel", anonymous=True)
    assert reply_text(ok).startswith("📅 Schedule #1: wheel wheel: 1. +30m · 2. nothing (anonymous), weekly on "
                                     "Sunday at 18:30 (UTC)")
    gone = await world.friend.slash(world.channel, "vote schedule remove", schedule="1")
    assert refusal(gone).startswith("⛔ Only members with Manage Server and the lock's own people")
    removed = await world.admin.slash(world.channel, "vote schedule remove", schedule="#1")
    assert reply_text(removed) == "Schedule #1 was removed; it opens no more votes."
    listed = await world.admin.slash(world.channel, "vote schedule list")
    assert reply(listed).embeds[0].description == "No scheduled votes. Add one with `/vote schedule add`."


# ---------------------------------------------------------------------------------------------- found in review
async def test_an_old_messages_buttons_never_count_on_a_newer_vote(world):
    """A buttons vote whose link was removed leaves its message behind; a vote made later never takes its number
    (numbers are never given twice), so the old buttons cannot count on it."""
    await world.link(title="Weekend Challenge", remaining=86400)
    v = add_members(world, 1)
    _, old = await propose(world, world.friend, "add-time", duration="1h", window="10m", style="buttons")
    await world.owner.slash(world.channel, "chastify unlink")
    # the old message says why it ended, and its buttons are gone with it
    assert outcome(world.channel, old.id) == ("cancelled", "Cancelled: the lock was unlinked.")
    assert buttons(world, old) == []
    await world.link(title="Weekend Challenge", remaining=86400)
    _, new = await propose(world, world.friend, "freeze", duration="1h", window="10m", style="buttons")
    assert embed_of(world.channel, new.id).footer.text == "Vote #2"  # not #1 again
    await v[0].click(message(world.channel, new.id), label="Against")
    await world.env.advance_time(VOTE_DEBOUNCE)
    assert fields(embed_of(world.channel, new.id))["Tally"].startswith("✅ 0 · ❌ 1\n")


async def test_a_schedule_never_opens_on_another_lock_after_a_relink(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    now = world.bot.core.clock()
    first = (int(now) // 60 + 60) * 60
    await world.admin.slash(world.channel, "vote schedule add", kind="decision", what="+30m",
                            when=f"daily {_hhmm(first)}")
    # the owner links another lock with another token: the link (and its number) stays, the lock changes
    await world.link(token="dev-token-other", title="Another Lock", remaining=86400)
    await world.env.advance_time(first - now + 5)
    assert _scheduled(world) == []
    listed = await world.admin.slash(world.channel, "vote schedule list")
    text = reply(listed).embeds[0].description
    assert "last: stopped: the link now reaches another lock" in text and "no opening left" in text


async def test_a_new_time_zone_moves_the_next_opening(world):
    await world.link(remaining=86400)
    await world.admin.slash(world.channel, "vote schedule add", kind="decision", what="+30m", when="daily 20:00")
    before = reply(await world.admin.slash(world.channel, "vote schedule list")).embeds[0].description
    bad = await world.admin.slash(world.channel, "chastify settings", time_zone="Mars/Olympus")
    assert "is not a time zone I know" in refusal(bad)
    await world.admin.slash(world.channel, "chastify settings", time_zone="Asia/Tokyo")  # UTC+9, no DST
    after = reply(await world.admin.slash(world.channel, "vote schedule list")).embeds[0].description
    import re

    [(utc,)] = [tuple(map(int, re.findall(r"next <t:(\d+):f>", before)))]
    [(tokyo,)] = [tuple(map(int, re.findall(r"next <t:(\d+):f>", after)))]
    assert (utc - tokyo) % 86400 == 9 * 3600  # 20:00 in Tokyo is 11:00 UTC
    assert after.startswith("**#1**") and "Scheduled votes" in reply(
        await world.admin.slash(world.channel, "vote schedule list")).embeds[0].title


async def test_a_buttons_vote_whose_message_was_deleted_while_down_is_cancelled(world, bot_settings):
    await world.link(remaining=86400)
    v = add_members(world, 3)
    _, msg = await propose(world, world.friend, "add-time", duration="1h", window="10m", style="buttons")
    for member in v:
        await cast(world, "buttons", member, msg, None, "For")

    def while_down():
        world.env.backend.delete_message(msg.channel.id, msg.id)

    await crash_and_restart(world, bot_settings, while_down)
    await world.env.advance_time(WINDOW)
    assert reached(world.chastify, APPLY_TIME) == []


async def test_a_reaction_that_is_no_option_of_the_wheel_is_no_ballot_after_a_restart(world, bot_settings):
    await world.link(remaining=86400)
    v = add_members(world, 3)
    _, msg = await propose(world, world.friend, "wheel", options="+30m, +1h, nothing", window="10m")

    def while_down():  # 6️⃣ on a wheel of three options, beside a real ballot
        for member in v:
            world.env.backend.set_reaction(msg.channel.id, msg.id, "2️⃣", member.id, True)
        world.env.backend.set_reaction(msg.channel.id, msg.id, "6️⃣", v[0].id, True)

    await crash_and_restart(world, bot_settings, while_down)
    await world.env.advance_time(WINDOW)
    status, text = outcome(world.channel, msg.id)
    assert status == "passed" and "tally 0,3,0" in text


async def test_the_owner_can_keep_wheels_off_their_lock(world):
    await world.link(remaining=86400)
    await world.owner.slash(world.channel, "chastify limits", wheels=False)
    result, msg = await propose(world, world.friend, "wheel", options="+30m, nothing")
    assert msg is None
    assert refusal(result) == ("⛔ This lock's consent card does not allow wheel votes (an option drawn by the votes);"
                               " decision votes are still open to what the card allows (`/chastify status` shows "
                               "the card).")
    status = await world.stranger.slash(world.channel, "chastify status")
    card = next(v for k, v in fields(reply(status).embeds[0]).items() if k.startswith("Consent card"))
    assert "**Wheels:** not allowed" in card.splitlines()


async def test_a_wheel_turned_off_while_it_runs_applies_nothing(world, fixed_seed):
    await world.link(remaining=86400)
    v = add_members(world, 3)
    _, msg = await propose(world, world.friend, "wheel", options="+30m, +1h", window="10m")
    for member in v:
        await member.react(msg, "2️⃣")
    await world.owner.slash(world.channel, "chastify limits", wheels=False)
    await world.env.advance_time(WINDOW)
    status, text = outcome(world.channel, msg.id)
    assert status == "refused" and text.startswith("Option 2 (+1h) won: ") and "does not allow wheel votes" in text
    assert reached(world.chastify, APPLY_TIME) == []
