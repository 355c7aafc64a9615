"""Drive simcord's preview page the way a person does: pick "Viewing as", type a slash command in the
composer, fill a modal, click a reaction. Used by the browser test and ``python -m sandbox.demo.screenshot``.

The selectors are those of simcord 3.2's preview page (``simcord/preview/static``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .cdp import Page

_TALLY_JS = """(() => {
  const fields = [...document.querySelectorAll('#channel-message-list .embed-field')];
  const f = fields.filter(e => e.querySelector('.embed-field-name')?.textContent === %s).at(-1);
  return f ? f.querySelector('.embed-field-value').textContent : null;
})()"""


def js(value: Any) -> str:
    """A Python value as a JavaScript literal."""
    return json.dumps(value)


class PreviewPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    async def open(self, url: str) -> None:
        await self.page.goto(url)
        await self.page.wait_for("!!document.querySelector('#channel-composer') && "
                                 "!document.querySelector('#channel-composer').hidden && "
                                 "document.querySelectorAll('#viewer-picker option').length > 0", within=30)

    async def view_as(self, member_id: int) -> None:
        """Switch "Viewing as" to this member and wait until the page shows their view."""
        value = js(str(member_id))
        await self.page.evaluate(f"""(() => {{
            const s = document.querySelector('#viewer-picker');
            s.value = {value};
            s.dispatchEvent(new Event('change', {{bubbles: true}}));
        }})()""")
        await self.page.wait_for(f"document.querySelector('#viewer-picker').value === {value} && "
                                 "document.querySelector('#preview-app').getAttribute('aria-busy') !== 'true'")
        await asyncio.sleep(0.6)  # one state poll: the page re-renders for the new viewer

    async def _type(self, text: str) -> None:
        await self.page.send("Input.insertText", {"text": text})

    async def run_command(self, name: str, **options: str) -> None:
        """Type ``/name`` in the composer, pick it, fill ``options`` and send it. For a member option give a
        part of the member's name: the matching suggestion is picked."""
        await self.page.evaluate("document.querySelector('#channel-composer-input').focus()")
        await self._type("/" + name)
        key = js(":" + name.replace(" ", "."))
        entry = f"document.querySelector('[data-entry-key$=' + JSON.stringify({key}) + ']')"
        await self.page.wait_for(f"!!{entry}")
        await self.page.evaluate(f"{entry}.click()")
        for option, value in options.items():
            field = f"document.querySelector('.command-option-input[data-option=' + JSON.stringify({js(option)}) + ']')"
            present = await self.page.evaluate(f"!!{field}")
            if not present:  # an optional option: add it from the "+ options" list
                await self.page.evaluate("document.querySelector('.command-ghost').click()")
                item = (f"[...document.querySelectorAll('[role=option]')].find(e => e.textContent.trim()"
                        f".startsWith({js(option)}))")
                await self.page.wait_for(f"!!{item}")
                await self.page.evaluate(f"{item}.click()")
                await self.page.wait_for(f"!!{field}")
            await self.page.evaluate(f"{field}.focus()")
            await self._type(value)
            if await self.page.evaluate(f"{field}.getAttribute('role') === 'combobox'"):
                # a member / role / channel option: pick the suggestion that matches what was typed
                choice = (f"[...document.querySelectorAll('#command-suggestion-listbox [role=option]')]"
                          f".find(e => e.textContent.toLowerCase().includes({js(value.lower())}))")
                await self.page.wait_for(f"!!{choice}")
                await self.page.evaluate(f"{choice}.click()")
        await self.page.evaluate("document.querySelector('#send-message').click()")

    async def submit_modal(self, values: dict[str, str]) -> None:
        await self.page.wait_for("!!document.querySelector('#modal-root .modal-dialog')")
        for name, value in values.items():
            await self.page.evaluate(f"document.querySelector('#modal-root [name=' + JSON.stringify({js(name)}) + ']')"
                                     ".focus()")
            await self._type(value)
        await self.page.evaluate("document.querySelector('#modal-root .modal-actions .button-primary').click()")
        await self.page.wait_for("!document.querySelector('#modal-root .modal-dialog')")

    async def wait_text(self, text: str, *, within: float = 20) -> None:
        """Wait until the conversation shows ``text``."""
        await self.page.wait_for(f"document.querySelector('#channel-message-list').textContent.includes({js(text)})",
                                 within=within)

    async def field(self, name: str) -> str | None:
        """The value of the newest embed field called ``name`` in the conversation."""
        value = await self.page.evaluate(_TALLY_JS % js(name))
        return None if value is None else str(value)

    async def react(self, emoji: str) -> None:
        """Toggle ``emoji`` on the newest message that carries it, and wait until the click was taken."""
        chip = (f"[...document.querySelectorAll('#channel-message-list .reaction-chip')]"
                f".filter(c => c.querySelector('.reaction-emoji')?.textContent.trim() === {js(emoji)}).at(-1)")
        before = await self.page.evaluate(f"{chip}?.getAttribute('aria-pressed')")
        if before is None:
            raise AssertionError(f"no {emoji} reaction on the page")
        await self.page.evaluate(f"{chip}.click()")
        await self.page.wait_for(f"{chip}?.getAttribute('aria-pressed') !== {js(before)}")

    async def status(self) -> str:
        return str(await self.page.evaluate("document.querySelector('#action-status').textContent") or "")
