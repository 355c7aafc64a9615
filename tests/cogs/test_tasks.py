"""/task assign, start-timer and complete, driven through simcord."""

from __future__ import annotations

import pytest

from tests.support.simcord import message_posts, messages, public, refusal
from tests.support.standin import ACTION, applied_actions

OWNER = "wearer_wendy"


def task_calls(chastify):
    return [r.json for r in applied_actions(chastify) if r.path == ACTION]


async def test_assign_sends_the_task_and_logs_it(world):
    lock, _ = await world.link(title="Weekend Challenge")
    n = len(world.env.http_requests)

    res = await world.owner.slash(world.channel, "task assign", text="Drink water", points=5, duration="30m",
                                  verification=True)

    assert [m.ephemeral for m in messages(res)] == [True, False]
    assert "Applied **task: Drink water**." in public(res).embeds[0].description
    assert all(b["allowed_mentions"] == {"parse": []} for b in message_posts(world.env, n))
    assert task_calls(world.chastify) == [{"name": "task.assign", "params": {
        "actor": "extension", "taskText": "Drink water", "points": 5, "verificationRequired": True,
        "durationSeconds": 1800}}]
    assert lock.task_assigned and lock.task["taskText"] == "Drink water"
    assert [log["title"] for log in lock.custom_logs()] == [f"Discord: task: Drink water by {OWNER}"]


async def test_assign_defaults_and_a_long_text_is_shortened_in_the_log_title_only(world):
    lock, _ = await world.link(title="Weekend Challenge")
    text = "Write a short essay about patience, then read it aloud to your keyholder twice"

    await world.owner.slash(world.channel, "task assign", text=text)

    assert task_calls(world.chastify) == [{"name": "task.assign", "params": {
        "actor": "extension", "taskText": text, "points": 0, "verificationRequired": False,
        "durationSeconds": 0}}]
    title = lock.custom_logs()[0]["title"]
    assert title.startswith("Discord: task: Write a short essay") and "..." in title and len(title) <= 180


async def test_start_timer_then_complete(world):
    lock, _ = await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "task assign", text="Plank", points=10, duration="5m")

    res = await world.owner.slash(world.channel, "task start-timer")
    assert "Applied **start the task timer**." in public(res).embeds[0].description
    assert lock.task["timerStartedAt"] is not None

    res = await world.owner.slash(world.channel, "task complete", successful=True, reason="well done")
    assert "Applied **task completed**." in public(res).embeds[0].description

    assert task_calls(world.chastify)[1:] == [
        {"name": "task.start_timer", "params": {}},
        {"name": "task.complete", "params": {"successful": True, "reason": "well done"}}]
    assert lock.task["status"] == "completed" and lock.task_points == 10
    logs = lock.custom_logs()
    assert [log["title"] for log in logs] == [
        f"Discord: task: Plank by {OWNER}", f"Discord: start the task timer by {OWNER}",
        f"Discord: task completed by {OWNER}"]
    assert logs[2]["description"].endswith("\nReason: well done")


async def test_a_failed_task_by_a_trusted_member(world):
    lock, _ = await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    await world.friend.slash(world.channel, "task assign", text="Plank", points=10)

    res = await world.friend.slash(world.channel, "task complete", successful=False)

    assert "Applied **task failed**." in public(res).embeds[0].description
    assert lock.task["status"] == "failed" and lock.task_points == 0
    assert lock.custom_logs()[-1]["title"] == "Discord: task failed by friend_fred"


# ------------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("command", "options"),
    [("task assign", {"text": "Drink water"}), ("task start-timer", {}), ("task complete", {"successful": True})],
)
async def test_not_trusted_is_refused(world, command, options):
    lock, _ = await world.link(title="Weekend Challenge")
    text = refusal(await world.stranger.slash(world.channel, command, **options))
    assert "Only the lock's owner and the people they trust can act on this lock." in text
    assert applied_actions(world.chastify) == [] and lock.history == []


async def test_no_lock_linked(world):
    text = refusal(await world.owner.slash(world.channel, "task assign", text="Drink water"))
    assert "No lock is linked in this server yet." in text
    assert world.chastify.requests == []


@pytest.mark.parametrize(
    ("command", "options", "expected"),
    [
        ("task start-timer", {}, "Chastify refused **start the task timer**: There is no active task run."),
        ("task complete", {"successful": True}, "Chastify refused **task completed**: There is no active task run."),
    ],
)
async def test_without_a_task_chastify_refuses_and_the_member_is_told_privately(world, command, options, expected):
    lock, _ = await world.link(title="Weekend Challenge")
    assert expected in refusal(await world.owner.slash(world.channel, command, **options))
    assert applied_actions(world.chastify) == [] and lock.custom_logs() == []


async def test_start_timer_of_a_task_without_duration_is_refused(world):
    lock, _ = await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "task assign", text="Drink water")

    text = refusal(await world.owner.slash(world.channel, "task start-timer"))

    assert "The current task has no duration configured." in text
    assert len(applied_actions(world.chastify)) == 1 and len(lock.custom_logs()) == 1


async def test_a_lock_without_tasks_refuses(world):
    lock, _ = await world.link(title="Weekend Challenge", tasks=False)
    text = refusal(await world.owner.slash(world.channel, "task assign", text="Drink water"))
    assert "The Tasks module is not enabled on this lock." in text
    assert applied_actions(world.chastify) == [] and lock.history == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"text": "   "}, "The task text is empty. Write 1 to 1000 characters."),
        ({"text": "x" * 1001}, "The task text is 1001 characters long; at most 1000 are accepted."),
        ({"text": "Drink\u200bwater"}, "invisible character (zero-width space"),
        ({"text": "Drink water", "duration": "later"}, "`later` is not a duration I understand"),
        ({"text": "Drink water", "duration": "8d"}, "is more than the most this action allows (1w)"),
    ],
)
async def test_bad_task_input_is_refused_and_explained(world, options, expected):
    lock, _ = await world.link(title="Weekend Challenge")
    assert expected in refusal(await world.owner.slash(world.channel, "task assign", **options))
    assert applied_actions(world.chastify) == [] and lock.history == []


async def test_ended_lock_and_revoked_token(world):
    _lock, _ = await world.link(token="dev-token-owner", title="Weekend Challenge")
    world.chastify.revoke("dev-token-owner")
    text = refusal(await world.owner.slash(world.channel, "task assign", text="Drink water"))
    assert "token no longer works" in text

    other, _ = await world.link(world.friend, "dev-token-friend", title="Office Week")
    world.chastify.end_lock(other.id)
    link = await world.bot.core.store.links.get(world.guild.id, world.friend.id)
    text = refusal(await world.friend.slash(world.channel, "task assign", text="Drink water", lock=str(link.id)))
    assert "This lock has ended on Chastify" in text

    assert applied_actions(world.chastify) == []


async def test_a_task_text_never_pings(world):
    lock, _ = await world.link(title="Weekend Challenge")
    n = len(world.env.http_requests)
    res = await world.owner.slash(world.channel, "task assign", text="@everyone say hi to @here")
    message = public(res).message
    assert not message.mention_everyone and message.mentions == []
    assert all(b["allowed_mentions"] == {"parse": []} for b in message_posts(world.env, n))
    assert lock.task["taskText"] == "@everyone say hi to @here"
