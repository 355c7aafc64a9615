"""Shared helpers for the Chastify client tests (a recording MockTransport, bodies); the fake clock is
``tests.support.clock.FakeClock``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from bot.chastify import ChastifyClient

TOKEN = "dev-token-alice"
OTHER_TOKEN = "dev-token-bob"
LOCK_ID = "0123456789abcdef01234567"
OTHER_LOCK_ID = "fedcba9876543210fedcba98"

ClientFactory = Callable[..., ChastifyClient]


class Recorder:
    """An httpx.MockTransport that records requests and answers from a script of handlers/responses."""

    def __init__(self, *answers: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = list(answers)
        self.transport = httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            answer = answer(request)
            if asyncio.iscoroutine(answer):
                answer = await answer
        assert isinstance(answer, httpx.Response)
        return answer

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def session_body(lock_id: str = LOCK_ID, **lock_data: Any) -> dict[str, Any]:
    return {
        "lock": {"_id": lock_id},
        "role": "wearer",
        "scopes": ["locks:read", "locks:write"],
        "lockData": {"frozen": False, "timeRemainingSeconds": 3600, **lock_data},
    }


def ok(body: Any = None, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


SECRETS = (TOKEN, OTHER_TOKEN)


def assert_secret_free(err: BaseException, secrets: tuple[str, ...] = SECRETS, _depth: int = 0) -> None:
    """No secret in the exception's str/repr/args/notes/attributes, nor in its cause/context chain."""
    texts = [str(err), repr(err), repr(err.args), repr(getattr(err, "__notes__", None))]
    texts += [repr(v) for v in vars(err).values()] if hasattr(err, "__dict__") else []
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"secret leaked via {type(err).__name__}: {text[:200]}"
    for linked in (err.__cause__, err.__context__):
        if linked is not None and _depth < 5:
            assert_secret_free(linked, secrets, _depth + 1)
