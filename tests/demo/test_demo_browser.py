"""The browser demo as a person uses it, in headless Chromium: the real bot inside simcord, simcord's preview
page, the Chastify stand-in. The page is driven like a person would: "Viewing as", the slash-command
composer, the link form, the reaction buttons."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sandbox.demo.browser import PreviewPage
from sandbox.demo.cdp import Chromium
from sandbox.demo.live import Pacer
from sandbox.demo.world import DEMO_TOKEN, QUORUM, VOTE_WINDOW_SECONDS, demo_world

pytestmark = pytest.mark.timeout(900)  # the first run may install Chromium


async def test_members_link_vote_and_watch_the_tally_in_the_browser(chromium: str) -> None:
    async with demo_world(check_errors=True) as world:
        async with world.env.preview(world.channel, viewers=world.members, layout="channel",
                                     width=1280, height=860) as preview:
            pacer = Pacer(world.env, preview)
            pacer.install()
            ticking = asyncio.create_task(pacer.run())
            try:
                async with Chromium(chromium) as browser:
                    await _play(world, preview.url, pacer, PreviewPage(await browser.new_page(1280, 860)), browser)
            finally:
                pacer.stopping.set()
                await ticking
            assert pacer.ticks >= 3, "simulated time must move with the wall clock"


async def _play(world: Any, url: str, pacer: Pacer, page: PreviewPage, browser: Chromium) -> None:
    assert url.startswith("http://127.0.0.1:") and world.standin.base_url.startswith("http://127.0.0.1:")
    await page.open(url)
    viewers = await page.page.evaluate("[...document.querySelectorAll('#viewer-picker option')].map(o => o.value)")
    assert viewers == [str(m.id) for m in world.members]

    # the lock's owner links it in the modal
    await page.view_as(world.owner.id)
    await page.run_command("chastify link")
    await page.submit_modal({"dev_token": DEMO_TOKEN})
    await page.wait_text("Linked Demo Weekend Lock as wearer")

    # ...trusts a friend (a member option, picked from the suggestions), who adds time directly
    await page.run_command("chastify trust", who="Fred")
    await page.wait_text("can now act on your lock")
    await page.view_as(world.friend.id)
    assert not await _shows(page, "Linked Demo Weekend Lock"), "the owner's private answer leaked to Fred"
    await page.run_command("lock add-time", duration="30m", reason="late")
    await page.wait_text("Applied +30m")
    assert world.lock.history[0]["type"] == "time_added" and world.lock.history[0]["seconds"] == 1800

    # the friend proposes a vote
    await page.run_command("vote add-time", duration="1h", reason="for fun")
    await page.wait_text("Vote · +1h · Demo Weekend Lock")
    assert (await page.field("Tally") or "").startswith("✅ 0 · ❌ 0")
    assert f"0/{QUORUM} votes" in (await page.field("Quorum") or "")

    # a voter toggles ✅ on and off: the tally follows
    vic, val = world.voters[0], world.voters[1]
    await page.view_as(vic.id)
    await page.react("✅")
    await page.page.wait_for(_tally_is("✅ 1 · ❌ 0"))
    await page.react("✅")
    await page.page.wait_for(_tally_is("✅ 0 · ❌ 0"))
    await page.react("❌")
    await page.page.wait_for(_tally_is("✅ 0 · ❌ 1"))
    await page.react("✅")  # switching sides: the latest reaction counts
    await page.page.wait_for(_tally_is("✅ 1 · ❌ 0"))

    # a second member: the quorum is reached
    await page.view_as(val.id)
    await page.react("✅")
    await page.page.wait_for(_tally_is("✅ 2 · ❌ 0"))
    assert f"2/{QUORUM} votes" in (await page.field("Quorum") or "")

    # the window closes (simulated time, moved on from Python): the outcome shows on the page by itself
    before = world.lock.remaining_seconds()
    await pacer.advance(VOTE_WINDOW_SECONDS + 1)
    await page.wait_text("Outcome · passed")
    assert (await page.field("Outcome · passed") or "").startswith("Passed (2 for, 0 against)")
    assert world.lock.remaining_seconds() > before + 3000

    # and the stand-in's page for the lock shows it landed
    lock_page = await browser.new_page(1100, 760)
    await lock_page.goto(world.lock_page_url)
    await lock_page.wait_for("document.body.textContent.includes('Discord vote: +1h (2 for, 0 against)')")
    assert await lock_page.evaluate("document.body.textContent.includes('time_added')")


def _tally_is(text: str) -> str:
    return ("(() => { const f = [...document.querySelectorAll('#channel-message-list .embed-field')]"
            ".filter(e => e.querySelector('.embed-field-name')?.textContent === 'Tally').at(-1);"
            f" return !!f && f.querySelector('.embed-field-value').textContent.startsWith({text!r}); }})()")


async def _shows(page: PreviewPage, text: str) -> bool:
    return bool(await page.page.evaluate(
        f"document.querySelector('#channel-message-list').textContent.includes({text!r})"))
