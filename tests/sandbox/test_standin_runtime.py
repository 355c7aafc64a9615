"""The stand-in as a running thing: the CLI, the HTML pages, async use, restarts and concurrent callers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sandbox.chastify import FakeLock, StandIn

TOKEN = "dev-token-alice"  # the token the conftest fixtures use

ROOT = Path(__file__).resolve().parents[2]
BANNER = re.compile(r"^Chastify stand-in at (http://127\.0\.0\.1:(\d+)) \(lock ([0-9a-f]{24})\)$")


# ----- CLI --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_one_lock_and_stops_on_signal(stop_signal: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.chastify",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--dev-token",
            "dev-token-cli",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(30, process.kill)  # never hang the suite on a stuck child
    watchdog.start()
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = BANNER.match(line)
        assert match, f"unexpected banner {line!r}"
        base_url, lock_id = match.group(1), match.group(3)

        session = httpx.get(f"{base_url}/api/apps/v1/session", headers={"Authorization": "Bearer dev-token-cli"})
        assert session.status_code == 200
        body = session.json()
        assert body["lock"]["_id"] == lock_id
        assert body["role"] == "wearer"
        assert body["lockData"]["timeRemainingSeconds"] in (86400, 86399)
        assert httpx.get(f"{base_url}/api/apps/v1/session").status_code == 401
        assert httpx.get(f"{base_url}/sandbox/locks/{lock_id}").status_code == 200
        # Tasks, Pillory and Hygienic Opening are enabled on the CLI's lock
        for name, params in (
            ("task.assign", {"taskText": "Stretch", "durationSeconds": 600}),
            ("pillory", {"durationSeconds": 600}),
            ("hygienic_unlock.start", {}),
        ):
            answer = httpx.post(
                f"{base_url}/api/apps/v1/action",
                json={"name": name, "params": params},
                headers={"Authorization": "Bearer dev-token-cli", "x-chastify-lock-id": lock_id},
            )
            assert answer.status_code == 200, answer.text

        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


# ----- HTML pages ---------------------------------------------------------------------------------------
def test_lock_page_shows_state_and_escaped_custom_log(server: StandIn, api: httpx.Client, alice_lock: FakeLock) -> None:
    title = '<script>alert("x")</script> & co'
    api.post("/logs/custom", json={"title": title, "description": "<b>bold</b>", "role": "extension"})
    api.post("/action", json={"name": "pillory", "params": {"durationSeconds": 600, "reason": "<i>late</i>"}})
    api.post("/action", json={"name": "task.assign", "params": {"taskText": "Drink <water>", "points": 3}})
    api.post("/lock/freeze", json={})

    response = httpx.get(f"{server.base_url}/sandbox/locks/{alice_lock.id}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert "<script>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;i&gt;late&lt;/i&gt;" in page
    assert "Drink &lt;water&gt;" in page
    assert "Alice&#x27;s lock" in page
    assert "1d 00:00:00" in page  # remaining (frozen at 24 h on the fake clock)
    assert "custom" in page and "frozen" in page and "pillory_started" in page


def test_index_lists_locks(server: StandIn) -> None:
    lock = server.add_lock(TOKEN, title="Weekend <Challenge>")

    page = httpx.get(f"{server.base_url}/sandbox/").text

    assert f'href="/sandbox/locks/{lock.id}"' in page
    assert "Weekend &lt;Challenge&gt;" in page
    assert httpx.get(f"{server.base_url}/", follow_redirects=True).text == page


def test_unknown_lock_page_is_404(server: StandIn) -> None:
    assert httpx.get(f"{server.base_url}/sandbox/locks/{'0' * 24}").status_code == 404


def test_pages_are_not_recorded_or_faulted(server: StandIn, alice_lock: FakeLock) -> None:
    server.faults.error_rate = 1.0

    assert httpx.get(f"{server.base_url}/sandbox/locks/{alice_lock.id}").status_code == 200
    assert server.requests == []


# ----- lifecycle -------------------------------------------------------------------------------------------
async def test_async_context_manager_with_async_client() -> None:
    async with StandIn() as server:
        lock = server.add_lock(TOKEN)
        async with httpx.AsyncClient(
            base_url=server.base_url + "/api/apps/v1", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client:
            response = await client.post("/action", json={"name": "add_time", "params": 60})
            assert response.status_code == 200
            session = await client.get("/session")
            assert session.json()["lock"]["_id"] == lock.id
    assert not server.running
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(server.base_url + "/api/apps/v1/session")


def test_standin_fixture_is_started(standin: StandIn) -> None:
    standin.add_lock(TOKEN)

    response = httpx.get(standin.base_url + "/api/apps/v1/session", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert standin.base_url.startswith("http://127.0.0.1:")
    assert not standin.base_url.endswith("/")


def test_restart_keeps_port_and_state(server: StandIn, alice_lock: FakeLock) -> None:
    url = server.base_url + "/api/apps/v1/session"
    headers = {"Authorization": f"Bearer {TOKEN}"}

    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, headers=headers)

    server.start()
    assert server.base_url + "/api/apps/v1/session" == url
    assert httpx.get(url, headers=headers).json()["lock"]["_id"] == alice_lock.id


def test_base_url_needs_a_start() -> None:
    with pytest.raises(RuntimeError):
        _ = StandIn().base_url


def test_port_in_use_is_an_error(server: StandIn) -> None:
    other = StandIn(port=server.port)

    with pytest.raises(RuntimeError):
        other.start()


def test_concurrent_callers_and_controllers(make_standin: Callable[..., StandIn]) -> None:
    server = make_standin(rate_limit_per_minute=10_000)
    lock = server.add_lock(TOKEN, remaining=0)
    server.lock(lock.id).task_points_required = 0
    errors: list[BaseException] = []

    def caller() -> None:
        try:
            with httpx.Client(
                base_url=server.base_url + "/api/apps/v1",
                headers={"Authorization": f"Bearer {TOKEN}", "x-chastify-lock-id": lock.id},
            ) as client:
                for _ in range(25):
                    assert client.post("/lock/apply-time", json={"deltaSeconds": 1000}).status_code == 200
        except BaseException as exc:
            errors.append(exc)

    def controller() -> None:
        try:
            for i in range(50):
                server.add_lock(f"dev-token-other-{i}")
                _ = lock.remaining_seconds(), lock.frozen, server.action_requests()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(8)] + [threading.Thread(target=controller)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(server.action_requests()) == 200
    # 200 x 1000 s added to a lock at zero, minus at most a few seconds of real time passing
    assert 200_000 - 30 <= lock.remaining_seconds() <= 200_000
