"""parse_error: every documented code, every body shape, and fuzzing (it never raises)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chastify import (
    ActionRejected,
    ChastifyError,
    ExtensionNotEnabled,
    InsufficientScope,
    InvalidToken,
    LockEnded,
    LockGone,
    MissingToken,
    NoActiveLock,
    PermissionDenied,
    RateLimited,
    RevokedToken,
    ServerError,
    TokenError,
    parse_error,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("status", "code", "cls", "bases"),
    [
        (401, "missing_token", MissingToken, (TokenError,)),
        (401, "invalid_token", InvalidToken, (TokenError,)),
        (401, "revoked_token", RevokedToken, (TokenError,)),
        (403, "insufficient_scope", InsufficientScope, (PermissionDenied,)),
        (403, "extension_not_enabled", ExtensionNotEnabled, (PermissionDenied,)),
        (409, "no_active_lock_session", NoActiveLock, (LockGone,)),
        (409, "lock_ended", LockEnded, (LockGone,)),
        (409, "pillory_not_active", ActionRejected, ()),
        (409, "tasks_not_enabled", ActionRejected, ()),
        (409, "hygienic_opening_in_progress", ActionRejected, ()),
        (400, "validation_error", ActionRejected, ()),
        (500, "internal_error", ServerError, ()),
    ],
)
def test_documented_codes(status: int, code: str, cls: type[ChastifyError], bases: tuple[type, ...]) -> None:
    err = parse_error(status, f'{{"error": "{code}", "message": "Some words."}}'.encode(), {})
    assert type(err) is cls
    assert isinstance(err, ChastifyError)
    for base in bases:
        assert isinstance(err, base)
    assert (err.status, err.code, err.message) == (status, code, "Some words.")
    assert code in str(err) and str(status) in str(err)


def test_code_wins_over_status() -> None:
    # extension_not_enabled or lock_ended with an unexpected status still map by code.
    assert type(parse_error(409, b'{"error":"extension_not_enabled"}')) is ExtensionNotEnabled
    assert type(parse_error(400, b'{"code":"lock_ended"}')) is LockEnded


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"error": "revoked_token", "message": "Revoked."}', "revoked_token", "Revoked."),
        (b'{"code": "revoked_token", "message": "Revoked."}', "revoked_token", "Revoked."),
        (b'{"error": {"code": "revoked_token", "message": "Nested."}}', "revoked_token", "Nested."),
        (b'[{"error": "revoked_token", "message": "In a list."}]', "revoked_token", "In a list."),
        (b'["revoked_token"]', "revoked_token", ""),
        (b'"revoked_token"', "revoked_token", ""),
        (b"revoked_token", "revoked_token", ""),
        (b'{"error": "The token was revoked by its owner"}', "unauthorized", "The token was revoked by its owner"),
        (b"Unauthorized", "unauthorized", "Unauthorized"),
        (b"", "unauthorized", ""),
        (b"   \n", "unauthorized", ""),
        (b"{not json", "unauthorized", "{not json"),
        (b"<html><body>401</body></html>", "unauthorized", "<html><body>401</body></html>"),
        (b"null", "unauthorized", ""),
        (b"42", "unauthorized", "42"),
        (b"\xff\xfe\x00garbage", "unauthorized", None),
        (b'{"message": "only a message"}', "unauthorized", "only a message"),
        (b'{"error": 17, "message": ["x"]}', "unauthorized", "17"),
    ],
)
def test_body_shapes(body: bytes, code: str, message: str | None) -> None:
    err = parse_error(401, body, {})
    assert isinstance(err, TokenError)
    assert err.code == code
    if message is not None:
        assert err.message == message


def test_status_fallbacks() -> None:
    assert type(parse_error(403, b"")) is PermissionDenied
    rejected = parse_error(404, b"Not Found")
    assert type(rejected) is ActionRejected and rejected.code == "http_404"
    assert type(parse_error(502, b"<html>bad gateway</html>")) is ServerError
    odd = parse_error(302, b"")
    assert type(odd) is ChastifyError and odd.status == 302


def test_rate_limited_reads_retry_after() -> None:
    err = parse_error(429, b'{"error":"rate_limited"}', {"Retry-After": "7"})
    assert isinstance(err, RateLimited) and err.retry_after == 7.0
    assert parse_error(429, b"", {}).retry_after == 60.0  # type: ignore[attr-defined]


def test_long_and_control_character_messages_are_tamed() -> None:
    err = parse_error(400, ('{"error":"validation_error","message":"' + "a\\u0000b" * 500 + '"}').encode())
    assert len(err.message) <= 300
    assert "\x00" not in err.message


def test_secrets_echoed_by_the_server_are_scrubbed() -> None:
    err = parse_error(401, b'{"error":"invalid_token","message":"bad token dev-token-alice"}',
                      secrets=("dev-token-alice",))
    assert "dev-token-alice" not in str(err) and "***" in err.message
    err = parse_error(401, b"dev-token-alice", secrets=("dev-token-alice",))
    assert "dev-token-alice" not in repr(err)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", 2.0), ("1.5", 1.5), (" 0 ", 0.0), ("-1", None), ("nan", None), ("inf", None), ("soon", None),
     ("", None)],
)
def test_parse_retry_after_seconds(value: str, expected: float | None) -> None:
    assert parse_retry_after({"Retry-After": value}) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_767_225_600.0
    later = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert parse_retry_after({"retry-after": later}, now=now) == pytest.approx(30.0)
    earlier = format_datetime(datetime.fromtimestamp(now - 30, UTC), usegmt=True)
    assert parse_retry_after({"retry-after": earlier}, now=now) == 0.0
    assert parse_retry_after([("Retry-After", "3")]) == 3.0
    assert parse_retry_after(None) is None


def test_errors_pickle_round_trip() -> None:
    for err in (parse_error(401, b'{"error":"revoked_token"}'), parse_error(429, b"", {"Retry-After": "2"}),
                ActionRejected("pillory_not_active", "No pillory.", status=409)):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and back.code == err.code


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(status=st.integers(min_value=100, max_value=599), body=st.binary(max_size=300),
       headers=st.dictionaries(st.sampled_from(["Retry-After", "retry-after", "X-Other"]), st.text(max_size=40)))
def test_parse_error_never_raises_on_bytes(status: int, body: bytes, headers: dict[str, str]) -> None:
    err = parse_error(status, body, headers)
    assert isinstance(err, ChastifyError)
    assert isinstance(str(err), str) and isinstance(repr(err), str)


@settings(max_examples=300, deadline=None)
@given(status=st.integers(min_value=400, max_value=599), value=json_values)
def test_parse_error_never_raises_on_json(status: int, value: object) -> None:
    import json

    body = json.dumps(value).encode()
    err = parse_error(status, body, {"Retry-After": "1"})
    assert isinstance(err, ChastifyError)
    assert err.status == status
    assert isinstance(err.code, str) and err.code
    assert len(err.message) <= 300
