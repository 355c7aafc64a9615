"""``python -m sandbox.demo.wheel_shot [--out docs/wheel.png] [--drawn-out docs/wheel-drawn.png]``

Plays a wheel vote in headless Chromium, through the page like a person (the link form, ``/vote wheel`` with
ballot buttons, members clicking them), then saves a screenshot of the preview with the wheel's live tally
(a bar per option and the draw's commitment) and one once the window has closed and the option was drawn,
with the seed revealed. Needs Chromium (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

from .browser import PreviewPage, js
from .cdp import Chromium
from .live import Pacer
from .world import DEMO_TOKEN, VOTE_WINDOW_SECONDS, demo_world

OPTIONS = "+30m, +1h, freeze 30m, nothing"
# who clicks which of the wheel's buttons: +1h twice, +30m and freeze 30m once each
BALLOTS = (("voters", 0, "+1h"), ("voters", 1, "+1h"), ("voters", 2, "+30m"), ("admin", 0, "freeze 30m"))


async def capture(out: Path, drawn_out: Path | None, *, width: int = 1280, height: int = 960) -> None:
    async with demo_world(check_errors=True) as world:
        async with world.env.preview(world.channel, viewers=world.members, layout="channel",
                                     width=width, height=height) as preview:
            pacer = Pacer(world.env, preview)
            pacer.install()
            ticking = asyncio.create_task(pacer.run())
            try:
                async with Chromium() as browser:
                    page = PreviewPage(await browser.new_page(width, height))
                    await page.open(preview.url)
                    await page.view_as(world.owner.id)
                    await page.run_command("chastify link")
                    await page.submit_modal({"dev_token": DEMO_TOKEN})
                    await page.wait_text("Linked Demo Weekend Lock")
                    await page.view_as(world.friend.id)
                    await page.run_command("vote wheel", options=OPTIONS, mode="wheel", style="buttons")
                    await page.wait_text("Wheel ·")
                    for group, index, label in BALLOTS:
                        member = world.voters[index] if group == "voters" else world.admin
                        await page.view_as(member.id)
                        await click_button(page, label)
                    await page.page.wait_for(f"({_tally_js()}) === true")
                    await page.view_as(world.friend.id)  # the proposer: no private ballot answers below the wheel
                    await _scroll_to_bottom(page)
                    await page.page.screenshot(out)
                    print(f"saved {out}")
                    if drawn_out is not None:
                        await pacer.advance(VOTE_WINDOW_SECONDS + 1)
                        await page.wait_text("Outcome · ")
                        await page.wait_text("seed ")
                        await _scroll_to_bottom(page)
                        await page.page.screenshot(drawn_out)
                        print(f"saved {drawn_out}")
            finally:
                pacer.stopping.set()
                await ticking


async def click_button(page: PreviewPage, label: str) -> None:
    """Click the button labelled ``label`` on the newest message that has one, and wait until the bot answered
    the click (its private "Your ballot" reply naming that option)."""
    button = (f"[...document.querySelectorAll('#channel-message-list .component-button')]"
              f".filter(b => b.querySelector('.button-label')?.textContent.trim() === {js(label)}).at(-1)")
    if not await page.page.evaluate(f"!!{button} && !{button}.disabled"):
        raise AssertionError(f"no enabled {label!r} button on the page")
    await page.page.evaluate(f"{button}.scrollIntoView({{block: 'center'}}); {button}.click()")
    said = "Your ballot on vote #[0-9]+: [^:]*?" + re.escape(label) + "[.] It counts"
    answered = f"new RegExp({js(said)}).test(document.querySelector('#channel-message-list').textContent)"
    await page.page.wait_for(answered)


async def _scroll_to_bottom(page: PreviewPage) -> None:
    await page.page.evaluate("document.querySelector('#channel-timeline').scrollTop = 1e9")
    await asyncio.sleep(0.5)


def _tally_js() -> str:
    """The newest "Options" field shows the four ballots: +1h 2 of 4, +30m and freeze 30m 1 each."""
    return ("(() => { const v = [...document.querySelectorAll('#channel-message-list .embed-field')]"
            ".filter(e => e.querySelector('.embed-field-name')?.textContent === 'Options').at(-1)"
            "?.querySelector('.embed-field-value')?.textContent || '';"
            " return v.includes('2 (50%)') && v.split('1 (25%)').length === 3; })()")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo.wheel_shot", description=__doc__.split("\n\n")[1])
    parser.add_argument("--out", type=Path, default=Path("docs/wheel.png"))
    parser.add_argument("--drawn-out", type=Path, default=Path("docs/wheel-drawn.png"),
                        help="the wheel once its window closed and the option was drawn ('' to skip)")
    args = parser.parse_args(argv)
    drawn_out = args.drawn_out if str(args.drawn_out) else None
    asyncio.run(capture(args.out, drawn_out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
