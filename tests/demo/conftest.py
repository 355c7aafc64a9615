"""Chromium for the browser tests: Debian's ``chromium`` package, installed on first use when the tests run as
root with apt-get (as in CI). When it is missing and cannot be installed, the browser tests FAIL under CI=true
(never a silent skip there) and are skipped with the reason elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from sandbox.demo.cdp import find_chromium

INSTALL = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _try_install() -> str:
    """apt-get update + install; returns what went wrong ('' when it worked)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root, so the test set-up cannot install it"
    if shutil.which("apt-get") is None:
        return "there is no apt-get here"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], INSTALL):
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"`{' '.join(cmd)}` failed: {err}"
        if done.returncode != 0:
            return f"`{' '.join(cmd)}` exited {done.returncode}: {(done.stderr or done.stdout)[-800:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of a Chromium executable (CHROMIUM env var, or chromium / google-chrome on PATH)."""
    found = find_chromium()
    if found:
        return found
    problem = _try_install()
    found = find_chromium()
    if found:
        return found
    message = ("The browser tests need Chromium, which is not installed"
               + (f" and could not be installed ({problem})" if problem else "")
               + ". Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu), or point the CHROMIUM "
               "environment variable at a Chromium or Chrome executable.")
    if _in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
