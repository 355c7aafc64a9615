"""/chastify chart: a PNG of the lock's remaining time, drawn from what the bot applied (every server and link)."""

from __future__ import annotations

import io

import matplotlib.image
import pytest

from bot.chart import series, steps
from bot.members import Member
from tests.support.simcord import refusal, reply

pytestmark = pytest.mark.usefixtures("within_rate_limit")

HOUR = 3600


async def test_the_chart_of_a_lock_with_ten_changes_is_a_1200x600_png_drawn_from_those_changes(world):
    await world.link(title="Weekend Challenge", remaining=72 * HOUR)
    await world.owner.slash(world.channel, "chastify limits", max_add="2h", max_add_per_day="10h")
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    start = world.env.now().timestamp()
    done = []
    for i in range(10):
        await world.env.advance_time(2 * HOUR)
        command, minutes = ("lock add-time", 30) if i % 3 else ("lock remove-time", 15)
        result = await world.friend.slash(world.channel, command, duration=f"{minutes}m")
        assert "Applied" in reply(result).embeds[0].description
        done.append(minutes * 60 if command == "lock add-time" else -minutes * 60)
    await world.env.advance_time(HOUR)
    shown = await world.friend.slash(world.channel, "chastify chart", days=2)
    posted = reply(shown)
    assert not posted.ephemeral
    assert posted.content == "📈 **Weekend Challenge**: 10 changes by the bot in the last 2 days."
    [attachment] = posted.attachments
    assert attachment.filename == "lock-time.png"
    picture = matplotlib.image.imread(io.BytesIO(await attachment.read()), format="png")
    assert picture.shape[:2] == (600, 1200)

    # the numbers the picture was drawn from
    core = world.bot.core
    link = (await core.links(world.guild.id))[0]
    reader = Member(id=world.friend.id, name="friend_fred")
    data = await core.chart(link, reader, 2, name_of=lambda uid: "friend_fred" if uid == world.friend.id else "?")
    assert [c.seconds for c in data.window_changes()] == done
    assert {c.label for c in data.window_changes()} == {"friend_fred"}
    assert data.daily_cap == 10 * HOUR
    now = world.env.now().timestamp()
    assert data.end_date == pytest.approx(start + 72 * HOUR + sum(done), abs=2)  # the lock's end date now
    points = series(data)
    assert points[0][0] == pytest.approx(now - 2 * 86400) and points[-1] == pytest.approx((now, data.end_date - now))
    drawn = steps(data)
    assert [round(s.after - s.before) for s in drawn] == done  # each change is a step of its size
    assert [s.change.at - start for s in drawn] == pytest.approx([2 * HOUR * (i + 1) for i in range(10)], abs=1)


async def test_the_chart_is_shown_only_to_those_who_may_read_the_locks_history(world):
    await world.link(title="Weekend Challenge")
    result = await world.stranger.slash(world.channel, "chastify chart")
    assert refusal(result) == ("⛔ Only the owner, people they trust and members with Manage Server can read the "
                               "history of this lock.")
