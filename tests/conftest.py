"""The test suite's set-up: the hypothesis profile, the support plugins and a guard against leftover threads.

Shared helpers and fixtures live in ``tests/support`` (see its ``__init__``), registered below as plugins.
"""

from __future__ import annotations

import os
import threading

import pytest
from hypothesis import settings as hypothesis_settings

pytest_plugins = ["tests.support.clock", "tests.support.postgres", "tests.support.settings", "tests.support.standin",
                  "tests.support.simcord"]

# CI (CI=true) explores the same hypothesis examples every run, so a submission passes or fails on its own code;
# a developer's run draws new examples each time and finds what CI would not
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI", "").lower() == "true":
    hypothesis_settings.load_profile("ci")


def pytest_unconfigure(config: pytest.Config) -> None:
    """A thread left running by a test (a bot never closed keeps its database thread) would keep the test
    process alive after the last test, and CI would wait for it until its time ran out: fail loudly instead."""
    left = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    for t in left:
        t.join(timeout=2)
    left = [t for t in left if t.is_alive()]
    if left:
        print(f"\nthreads left running after the tests (a bot or database never closed?): "
              f"{', '.join(t.name for t in left)}", flush=True)
        os._exit(int(pytest.ExitCode.TESTS_FAILED))
