"""The Chastify stand-in in the tests: the paths of the API the bot writes to, and what the stand-in applied or
received."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.chastify import RecordedRequest, StandIn
from sandbox.chastify.testing import make_standin, standin  # noqa: F401  (fixtures)
from tests.support.clock import SharedClock

API = "/api/apps/v1"
ACTION = f"{API}/action"
APPLY_TIME = f"{API}/lock/apply-time"
FREEZE = f"{API}/lock/freeze"
UNFREEZE = f"{API}/lock/unfreeze"
LOCK_ACTIONS = (ACTION, APPLY_TIME, FREEZE, UNFREEZE)  # what the bot does to a lock
CUSTOM_LOG = f"{API}/logs/custom"
SESSION = f"{API}/session"


def applied_actions(chastify: StandIn) -> list[RecordedRequest]:
    """Lock actions the stand-in applied (from any program), custom logs left out."""
    return [r for r in chastify.action_requests() if r.path != CUSTOM_LOG]


def received_actions(chastify: StandIn) -> list[RecordedRequest]:
    """Every lock action or custom log the stand-in received, applied or not (429s and errors included)."""
    return [r for r in chastify.requests if r.kind == "action"]


def reached(chastify: StandIn, path: str) -> list[RecordedRequest]:
    """Requests to ``path`` the stand-in applied."""
    return [r for r in chastify.action_requests() if r.path == path]


@pytest.fixture
def chastify(shared_clock: SharedClock) -> Iterator[StandIn]:
    """A started stand-in on the shared clock (simcord's virtual time once the ``world`` runs)."""
    with StandIn(clock=shared_clock) as server:
        yield server


@pytest.fixture
def within_rate_limit(chastify: StandIn) -> Iterator[None]:
    """The test fails if the stand-in answered 429: the bot must stay within Chastify's rate limit. Opt in with
    ``pytestmark = pytest.mark.usefixtures("within_rate_limit")``."""
    yield
    assert chastify.rate_limited_count == 0, "the stand-in rate limited the bot"
