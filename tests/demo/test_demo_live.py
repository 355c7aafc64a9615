"""`make demo`: starts, prints both URLs and the token to paste, serves them on loopback only, keeps simulated
time moving, and stops cleanly on Ctrl-C (SIGINT) or SIGTERM, removing its temporary files."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _listening_addresses(pid: int) -> set[str]:
    """The local addresses of the TCP sockets process ``pid`` listens on (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # LISTEN
                found.add(local.split(":")[0][:width])
    return found


def _standin_now(url: str) -> float:
    """The stand-in's clock (which follows simcord's simulated time), from its lock page."""
    with urllib.request.urlopen(url, timeout=10) as page:
        found = re.search(r"now (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", page.read().decode())
    assert found, "no time on the lock page"
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def _start(tmp_path: Path) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CHASTIFY_BOT_")}
    env.update(PYTHONPATH=str(REPO), TMPDIR=str(tmp_path), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.demo", "--no-browser"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C to stop" in line:
            return proc, lines
    proc.kill()
    raise AssertionError("the demo did not start:\n" + "".join(lines) + (proc.stderr.read() if proc.stderr else ""))


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="needs Linux /proc to list sockets")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_demo_serves_both_pages_on_loopback_and_stops_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    proc, lines = _start(tmp_path)
    try:
        banner = "".join(lines)
        preview = re.search(r"Discord preview \(open in a browser\):\s+(http://127\.0\.0\.1:\d+/#\S+)", banner)
        lock = re.search(r"The demo lock on the stand-in:\s+(http://127\.0\.0\.1:\d+/sandbox/locks/\w+\S*)", banner)
        assert preview and lock, banner
        assert "DEV token to paste in the link modal: dev-token-demo" in banner
        assert "/chastify link" in banner and "/vote add-time" in banner

        origin = preview.group(1).split("/#")[0]
        capability = preview.group(1).split("#", 1)[1]
        with urllib.request.urlopen(origin + "/", timeout=10) as page:  # the preview's page
            assert page.status == 200 and b"Viewing as" in page.read()
        request = urllib.request.Request(origin + "/api/pages", data=b"{}", method="POST",
                                         headers={"X-Simcord-Capability": capability,
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:  # what the page loads first
            snapshot = json.load(answer)
        assert "wearer_wendy" in json.dumps(snapshot) or "Wendy" in json.dumps(snapshot)
        with urllib.request.urlopen(lock.group(1), timeout=10) as page:
            body = page.read().decode()
        assert "Demo Weekend Lock" in body and "No history yet." in body
        assert '<meta http-equiv="refresh" content="2">' in body  # the lock page follows along by itself

        addresses = _listening_addresses(proc.pid)
        assert addresses, "the demo listens on nothing?"
        loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1
        assert addresses <= loopback, f"the demo must listen on loopback only, not {addresses}"

        first = _standin_now(lock.group(1))
        time.sleep(2.5)
        assert _standin_now(lock.group(1)) >= first + 1, "simulated time must move with the wall clock"

        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err
    assert "Demo stopped; its temporary database and key were deleted." in out
    assert "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []
