"""/lock: each action by the owner or a trusted member, and each refusal, driven through simcord."""

from __future__ import annotations

import pytest

from tests.support.simcord import fields, message_posts, messages, public, public_text, refusal
from tests.support.standin import applied_actions

OWNER = "wearer_wendy"
WHERE = "On the Discord server Lock Club, in #general."


async def audit(world, member=None):
    link = await world.bot.core.store.links.get(world.guild.id, (member or world.owner).id)
    return await world.bot.core.store.audit.list_for_link(link.id, 50)


# (command, options, expected request (path, json), summary in the answer and the log title, check on the lock)
ACTIONS = [
    ("lock add-time", {"duration": "1h", "reason": "late again"},
     ("/api/apps/v1/lock/apply-time", {"deltaSeconds": 3600}), "+1h",
     lambda lock: lock.remaining_seconds() == 86400 + 3600),
    ("lock remove-time", {"duration": "1h30m"},
     ("/api/apps/v1/lock/apply-time", {"deltaSeconds": -5400}), "-1h 30m",
     lambda lock: lock.remaining_seconds() == 86400 - 5400),
    ("lock freeze", {"duration": "2h", "reason": "cold"},
     ("/api/apps/v1/lock/freeze", {"durationSeconds": 7200}), "freeze 2h",
     lambda lock: lock.frozen and lock.frozen_until is not None),
    ("lock freeze", {},
     ("/api/apps/v1/lock/freeze", {"durationSeconds": 3600}), "freeze 1h",
     lambda lock: lock.frozen),
    ("lock pillory", {"duration": "10m", "reason": "cheeky"},
     ("/api/apps/v1/action", {"name": "pillory", "params": {"durationSeconds": 600, "reason": "cheeky"}}),
     "pillory 10m", lambda lock: lock.in_pillory and lock.pillory_reason == "cheeky"),
    ("lock hygiene-opening", {"duration": "15m"},
     ("/api/apps/v1/action", {"name": "hygienic_unlock.start", "params": {"durationSeconds": 900}}),
     "hygiene opening 15m", lambda lock: lock.hygiene_open),
    ("lock hygiene-opening", {},
     ("/api/apps/v1/action", {"name": "hygienic_unlock.start", "params": {}}),
     "hygiene opening", lambda lock: lock.hygiene_open),
]


@pytest.mark.parametrize(("command", "options", "request_", "summary", "on_lock"), ACTIONS,
                         ids=[f"{a[0]} {a[1]}" for a in ACTIONS])
async def test_owner_action_is_applied_once_with_one_custom_log(world, command, options, request_, summary,
                                                               on_lock):
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    n = len(world.env.http_requests)

    res = await world.owner.slash(world.channel, command, **options)

    # the member is told privately, the channel sees what happened on the lock
    assert [m.ephemeral for m in messages(res)] == [True, False]
    assert f"Applied **{summary}**" in messages(res)[0].content
    shown = public(res).embeds[0]
    assert f"Applied **{summary}**." in shown.description
    assert f"on **Weekend Challenge** by {world.owner.mention}" in shown.description
    if options.get("reason"):
        assert fields(shown)["Reason"] == options["reason"]
    # no message of the bot may ping anyone
    bodies = message_posts(world.env, n)
    assert len(bodies) == 2 and all(b["allowed_mentions"] == {"parse": []} for b in bodies), bodies
    # Chastify received the action once and one custom log, in that order
    assert [(r.path, r.json) for r in applied_actions(world.chastify)] == [request_]
    assert [r.path for r in world.chastify.action_requests()] == [request_[0], "/api/apps/v1/logs/custom"]
    assert on_lock(lock)
    logs = lock.custom_logs()
    assert len(logs) == 1
    assert logs[0]["title"] == f"Discord: {summary} by {OWNER}"
    assert logs[0]["role"] == "extension"
    expected = WHERE + (f"\nReason: {options['reason']}" if options.get("reason") else "")
    assert logs[0]["description"] == expected
    assert [e.outcome for e in await audit(world)][:1] == ["applied"]


async def test_unfreeze_and_end_pillory_undo_a_freeze_and_a_pillory(world):
    lock, _ = await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "lock freeze", duration="1h")
    await world.owner.slash(world.channel, "lock pillory", duration="1h")
    assert lock.frozen and lock.in_pillory

    res = await world.owner.slash(world.channel, "lock unfreeze", reason="warm")
    assert "Applied **unfreeze**." in public(res).embeds[0].description
    res = await world.owner.slash(world.channel, "lock end-pillory")
    assert "Applied **end pillory**." in public(res).embeds[0].description

    assert not lock.frozen and not lock.in_pillory
    assert [(r.path, r.json) for r in applied_actions(world.chastify)][2:] == [
        ("/api/apps/v1/lock/unfreeze", {}), ("/api/apps/v1/action", {"name": "pillory.end", "params": {}})]
    assert [log["title"] for log in lock.custom_logs()][2:] == [
        f"Discord: unfreeze by {OWNER}", f"Discord: end pillory by {OWNER}"]
    assert lock.custom_logs()[2]["description"] == WHERE + "\nReason: warm"


async def test_a_trusted_member_acts_in_their_own_name(world):
    lock, _ = await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)

    res = await world.friend.slash(world.channel, "lock add-time", duration="20m")

    assert f"by {world.friend.mention}" in public(res).embeds[0].description
    assert lock.custom_logs()[-1]["title"] == "Discord: +20m by friend_fred"


async def test_the_timer_moves_with_simcord_time(world):
    lock, _ = await world.link(title="Weekend Challenge", remaining=7200)
    await world.owner.slash(world.channel, "lock add-time", duration="1h")
    await world.env.advance_time(1800)
    assert lock.remaining_seconds() == 7200 + 3600 - 1800


# ------------------------------------------------------------------------------------------------ refusals
async def test_not_the_owner_and_not_trusted_is_refused(world):
    lock, _ = await world.link(title="Weekend Challenge")

    res = await world.stranger.slash(world.channel, "lock add-time", duration="1h")

    text = refusal(res)
    assert "Only the lock's owner and the people they trust can act on this lock." in text
    assert "`/chastify trust`" in text
    assert applied_actions(world.chastify) == [] and lock.custom_logs() == []
    entry = (await audit(world))[0]
    assert (entry.outcome, entry.actor_id, entry.detail) == ("refused", world.stranger.id,
                                                             "not the owner and not trusted")


async def test_untrusted_again_is_refused(world):
    await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    await world.owner.slash(world.channel, "chastify untrust", who=world.friend)

    res = await world.friend.slash(world.channel, "lock freeze")

    assert "Only the lock's owner and the people they trust" in refusal(res)
    assert applied_actions(world.chastify) == []


async def test_manage_server_alone_does_not_allow_acting(world):
    await world.link(title="Weekend Challenge")
    res = await world.admin.slash(world.channel, "lock pillory", duration="10m")
    assert "Only the lock's owner and the people they trust" in refusal(res)
    assert applied_actions(world.chastify) == []


async def test_no_lock_linked_is_refused(world):
    res = await world.owner.slash(world.channel, "lock add-time", duration="1h")
    assert "No lock is linked in this server yet. The lock's owner can run `/chastify link`." in refusal(res)
    assert world.chastify.requests == []


async def test_a_lock_that_ended_on_chastify_is_refused_privately(world):
    lock, _ = await world.link(title="Weekend Challenge")
    world.chastify.end_lock(lock.id)

    first = await world.owner.slash(world.channel, "lock add-time", duration="1h")
    assert "This lock has ended on Chastify; nothing was applied." in refusal(first)
    second = await world.owner.slash(world.channel, "lock add-time", duration="1h")
    assert "This lock has ended on Chastify. The owner can link their new lock with `/chastify link`." \
        in refusal(second)

    assert applied_actions(world.chastify) == [] and lock.history == []
    link = await world.bot.core.store.links.get(world.guild.id, world.owner.id)
    assert link.state == "ended"
    assert {"failed", "refused"} <= {e.outcome for e in await audit(world)}


async def test_a_revoked_token_is_refused_privately(world):
    lock, _ = await world.link(token="dev-token-owner", title="Weekend Challenge")
    world.chastify.revoke("dev-token-owner")

    first = await world.owner.slash(world.channel, "lock freeze", duration="1h")
    assert "The owner's Chastify token no longer works; nothing was applied." in refusal(first)
    assert "`/chastify link`" in refusal(first)
    second = await world.owner.slash(world.channel, "lock freeze", duration="1h")
    assert "The owner's Chastify token no longer works. The owner must run `/chastify link` again." \
        in refusal(second)

    assert applied_actions(world.chastify) == [] and lock.history == []


async def test_the_locks_chastify_budget_is_never_overrun(world):
    lock, _ = await world.link(title="Weekend Challenge")
    for _ in range(10):  # each action is one call plus one custom log: 10 use the 20 a minute
        res = await world.owner.slash(world.channel, "lock add-time", duration="1m")
        assert "Applied **+1m**" in public_text(res)

    res = await world.owner.slash(world.channel, "lock add-time", duration="1m")

    text = refusal(res)
    assert "This lock has used its Chastify budget of 20 actions a minute. Try again in" in text
    assert len(world.chastify.action_requests()) == 20
    assert world.chastify.rate_limited_count == 0
    assert (await audit(world))[0].outcome == "refused"

    await world.env.advance_time(60)
    res = await world.owner.slash(world.channel, "lock add-time", duration="1m")
    assert "Applied **+1m**" in public_text(res)
    assert len(lock.custom_logs()) == 11


async def test_chastify_rate_limiting_queues_the_action_and_sends_it_once(world):
    lock, _ = await world.link(title="Weekend Challenge", remaining=3600)
    world.chastify.faults.force_429 = 3  # every attempt of the first send

    res = await world.owner.slash(world.channel, "lock add-time", duration="10m")

    assert "queued and will be sent in about" in public_text(res)
    await world.env.advance_time(120)
    assert [r.json for r in applied_actions(world.chastify)] == [{"deltaSeconds": 600}]
    assert [log["title"] for log in lock.custom_logs()] == [f"Discord: +10m by {OWNER}"]


@pytest.mark.parametrize(
    ("command", "options", "expected"),
    [
        ("lock add-time", {"duration": "soon"}, "`soon` is not a duration I understand"),
        ("lock add-time", {"duration": "0"}, "The duration must be more than zero."),
        ("lock add-time", {"duration": "-1h"}, "The duration cannot be negative."),
        ("lock add-time", {"duration": "31d"}, "is more than the most this action allows (4w 2d)"),
        ("lock remove-time", {"duration": "1h1h"}, "is not a duration I understand"),
        ("lock freeze", {"duration": "30s"}, "The duration must be at least 1m."),
        ("lock pillory", {"duration": "2d"}, "is more than the most this action allows (1d)"),
        ("lock hygiene-opening", {"duration": "5h"}, "is more than the most this action allows (4h)"),
    ],
)
async def test_a_bad_duration_is_refused_and_explained(world, command, options, expected):
    lock, _ = await world.link(title="Weekend Challenge")

    text = refusal(await world.owner.slash(world.channel, command, **options))

    assert text.startswith("⛔ Nothing was changed.") and expected in text
    assert applied_actions(world.chastify) == [] and lock.history == []


async def test_the_owners_limits_refuse_too_much_time(world):
    _lock, _ = await world.link(title="Weekend Challenge")
    text = refusal(await world.owner.slash(world.channel, "lock add-time", duration="2h"))
    assert "The owner allows at most 1h per action (asked: 2h)." in text
    assert applied_actions(world.chastify) == []


async def test_a_paused_lock_is_refused(world):
    lock, _ = await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "chastify safeword")
    before = len(applied_actions(world.chastify))

    text = refusal(await world.owner.slash(world.channel, "lock add-time", duration="10m"))

    assert "The lock owner used the safeword" in text
    assert len(applied_actions(world.chastify)) == before and not any(h["type"] == "time_added" for h in lock.history)


async def test_what_chastify_refuses_is_refused_privately(world):
    lock, _ = await world.link(title="Weekend Challenge")

    text = refusal(await world.owner.slash(world.channel, "lock end-pillory"))

    assert "Chastify refused **end pillory**: The lock is not currently in pillory." in text
    assert applied_actions(world.chastify) == [] and lock.custom_logs() == []


async def test_a_reason_is_checked(world):
    _lock, _ = await world.link(title="Weekend Challenge")
    long = refusal(await world.owner.slash(world.channel, "lock add-time", duration="1m", reason="x" * 301))
    assert "The reason is 301 characters long; at most 300 are accepted." in long
    hidden = refusal(await world.owner.slash(world.channel, "lock add-time", duration="1m", reason="hi\u202eyo"))
    assert "invisible character" in hidden
    assert applied_actions(world.chastify) == []


async def test_echoed_text_never_pings(world):
    lock, _ = await world.link(title="Weekend Challenge")
    n = len(world.env.http_requests)
    reason = f"@everyone @here <@&{world.guild.default_role.id}> {world.stranger.mention}"

    res = await world.owner.slash(world.channel, "lock add-time", duration="1m", reason=reason)

    assert fields(public(res).embeds[0])["Reason"] == reason.replace("_", "\\_")
    message = public(res).message
    assert not message.mention_everyone and message.mentions == [] and message.role_mentions == []
    bodies = message_posts(world.env, n)
    assert len(bodies) == 2 and all(b["allowed_mentions"] == {"parse": []} for b in bodies), bodies
    assert lock.custom_logs()[0]["description"] == f"{WHERE}\nReason: {reason}"


async def test_with_several_locks_the_lock_option_picks_one(world):
    mine, _ = await world.link(world.owner, "dev-token-owner", title="Weekend Challenge")
    theirs, _ = await world.link(world.friend, "dev-token-friend", title="Office Week")

    text = refusal(await world.owner.slash(world.channel, "lock add-time", duration="5m"))
    assert "2 locks are linked here: pick one with the `lock` option." in text

    choices = await world.owner.autocomplete(world.channel, "lock add-time", "lock", "week",
                                             duration="5m")
    assert sorted(c["name"] for c in choices) == ["Office Week — friend_fred", "Weekend Challenge — wearer_wendy"]
    mine_value = next(c["value"] for c in choices if c["name"].startswith("Weekend"))
    res = await world.owner.slash(world.channel, "lock add-time", duration="5m", lock=mine_value)
    assert "on **Weekend Challenge**" in public(res).embeds[0].description
    theirs_value = next(c["value"] for c in choices if c["name"].startswith("Office"))
    text = refusal(await world.owner.slash(world.channel, "lock add-time", duration="5m", lock=theirs_value))
    assert "Only the lock's owner and the people they trust" in text

    assert [r.lock_id for r in applied_actions(world.chastify)] == [mine.id]
    assert theirs.history == []
