"""A small headless-Chromium driver over the DevTools protocol (a websocket, with aiohttp).

Enough for the demo's browser test and its screenshot: open a page, evaluate JavaScript, wait for a
condition, take a PNG. Uses the system Chromium (Debian's ``chromium``); nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM", "").strip()
    if explicit and os.path.isfile(explicit) and os.access(explicit, os.X_OK):
        return explicit
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """``async with Chromium() as browser: page = await browser.new_page(1280, 860)``."""

    def __init__(self, executable: str | None = None, *, extra_flags: tuple[str, ...] = ()) -> None:
        found = executable or find_chromium()
        if found is None:
            raise BrowserError("Chromium is not installed (Debian: apt-get install -y chromium)")
        self.executable = found
        self.extra_flags = extra_flags
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: dict[str | None, list[dict[str, Any]]] = {}
        self.console: list[str] = []

    async def __aenter__(self) -> Chromium:
        self._profile = tempfile.TemporaryDirectory(prefix="demo-chromium-")
        self._proc = await asyncio.create_subprocess_exec(
            self.executable, *FLAGS, *self.extra_flags, f"--user-data-dir={self._profile.name}",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, start_new_session=True)
        try:
            url = await asyncio.wait_for(self._devtools_url(), 30)
            self._http = aiohttp.ClientSession()
            self._ws = await self._http.ws_connect(url, max_msg_size=64 * 1024 * 1024)
            self._reader = asyncio.create_task(self._read(), name="cdp-reader")
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def _devtools_url(self) -> str:
        assert self._proc is not None and self._proc.stderr is not None
        seen: list[str] = []
        while True:
            raw = await self._proc.stderr.readline()
            if not raw:
                raise BrowserError("Chromium exited before DevTools was ready:\n" + "".join(seen[-20:]))
            line = raw.decode(errors="replace")
            seen.append(line)
            match = _LISTENING.search(line)
            if match:
                # keep draining stderr so Chromium never blocks on a full pipe
                asyncio.get_running_loop().create_task(self._drain(self._proc.stderr))
                return match.group(1)

    @staticmethod
    async def _drain(stream: asyncio.StreamReader) -> None:
        with contextlib.suppress(Exception):
            while await stream.readline():
                pass

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    if "error" in data:
                        fut.set_exception(BrowserError(f"{data['error'].get('message')}: {data['error']}"))
                    else:
                        fut.set_result(data.get("result", {}))
            else:
                if data.get("method") == "Runtime.consoleAPICalled":
                    args = data["params"].get("args", [])
                    self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
                self._events.setdefault(data.get("sessionId"), []).append(data)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(BrowserError("the DevTools connection closed"))

    async def send(self, method: str, params: dict[str, Any] | None = None, *,
                   session: str | None = None, within: float = 30) -> Any:
        if self._ws is None:
            raise BrowserError("the browser is not running")
        msg_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        body: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session is not None:
            body["sessionId"] = session
        await self._ws.send_str(json.dumps(body))
        return await asyncio.wait_for(fut, within)

    async def new_page(self, width: int = 1280, height: int = 860) -> Page:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"])
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        await page.send("Emulation.setDeviceMetricsOverride",
                        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return page

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send("Browser.close", within=5), 5)
            with contextlib.suppress(Exception):
                await self._ws.close()
            self._ws = None
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
            self._reader = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._proc is not None:
            if self._proc.returncode is None:
                try:
                    await asyncio.wait_for(self._proc.wait(), 5)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self._proc.pid, signal.SIGKILL)  # its own session: only its children
                    await self._proc.wait()
            self._proc = None
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None


class Page:
    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    async def send(self, method: str, params: dict[str, Any] | None = None, *, within: float = 30) -> Any:
        return await self.browser.send(method, params, session=self.session, within=within)

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete'", within=30)

    async def evaluate(self, expression: str, *, within: float = 30) -> Any:
        result = await self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                      "returnByValue": True}, within=within)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, *, within: float = 20, interval: float = 0.2) -> Any:
        """Poll ``expression`` until it is truthy; returns its value."""
        deadline = asyncio.get_running_loop().time() + within
        last: Any = None
        while True:
            last = await self.evaluate(expression)
            if last:
                return last
            if asyncio.get_running_loop().time() > deadline:
                raise BrowserError(f"timed out after {within:.0f}s waiting for: {expression} (last: {last!r})")
            await asyncio.sleep(interval)

    async def screenshot(self, path: Path | str) -> Path:
        data = await self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})
        out = Path(path)
        await asyncio.to_thread(out.write_bytes, base64.b64decode(data["data"]))
        return out
