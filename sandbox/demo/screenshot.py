"""``python -m sandbox.demo.screenshot [--out docs/demo.png] [--lock-out docs/demo-lock.png]``

Plays the start of the demo in headless Chromium, through the page like a person (the link form, a slash
command, reactions as other members), then saves a screenshot of the preview with the vote's live tally and
one of the stand-in's page for the lock once the vote has passed. Needs Chromium (Debian: ``apt-get install
chromium``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from .browser import PreviewPage
from .cdp import Chromium
from .live import Pacer
from .world import DEMO_TOKEN, VOTE_WINDOW_SECONDS, demo_world


async def capture(out: Path, lock_out: Path | None, *, width: int = 1280, height: int = 960) -> None:
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
                    await page.run_command("chastify status")
                    await page.wait_text("Time remaining")
                    await page.view_as(world.friend.id)
                    await page.run_command("vote add-time", duration="1h", reason="for fun")
                    await page.wait_text("Vote · +1h")
                    for voter, emoji in zip(world.voters, ("✅", "✅", "❌"), strict=True):
                        await page.view_as(voter.id)
                        await page.react(emoji)
                    await page.page.wait_for(f"({_tally_js()}) === true")
                    await page.view_as(world.voters[1].id)  # Val: her ✅ shows as pressed
                    await page.page.evaluate("document.querySelector('#channel-timeline').scrollTop = 1e9")
                    await asyncio.sleep(0.5)
                    await page.page.screenshot(out)
                    print(f"saved {out}")
                    if lock_out is not None:
                        await pacer.advance(VOTE_WINDOW_SECONDS + 1)
                        await page.wait_text("Outcome · passed")
                        lock_page = await browser.new_page(1100, 760)
                        await lock_page.goto(world.lock_page_url.replace("?refresh=2", ""))
                        await lock_page.wait_for("document.body.textContent.includes('Discord vote')")
                        await lock_page.screenshot(lock_out)
                        print(f"saved {lock_out}")
            finally:
                pacer.stopping.set()
                await ticking


def _tally_js() -> str:
    return ("[...document.querySelectorAll('#channel-message-list .embed-field-value')]"
            ".some(e => e.textContent.startsWith('✅ 2 · ❌ 1'))")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo.screenshot", description=__doc__.split("\n\n")[1])
    parser.add_argument("--out", type=Path, default=Path("docs/demo.png"))
    parser.add_argument("--lock-out", type=Path, default=Path("docs/demo-lock.png"),
                        help="the stand-in's lock page after the vote passed ('' to skip)")
    args = parser.parse_args(argv)
    lock_out = args.lock_out if str(args.lock_out) else None
    asyncio.run(capture(args.out, lock_out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
