import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("1w", 604800),
     ("1:30:00", 5400), (" 1h 30m ", 5400), ("1 hour", 3600), ("2 days, 3h", 183600), ("1H", 3600)],
)
def test_accepted_forms(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "0m", "-5m", "", "   ", "abc", "1x", "1h1h", "1:30", "1.5h", "h", "٣m",
                                  "1h\u200b", "1e3", "99999999999"])
def test_refused_with_accepted_forms_named(text):
    with pytest.raises(DurationError) as err:
        parse_duration(text)
    assert "`90`" in str(err.value) or "at least" in str(err.value) or "more than" in str(err.value)


def test_maximum_names_both_values():
    with pytest.raises(DurationError, match=r"2h is more than the most this action allows \(1h\)"):
        parse_duration("2h", maximum=3600)


def test_minimum():
    with pytest.raises(DurationError, match="at least 1m"):
        parse_duration("30s", minimum=60)


@given(st.integers(min_value=1, max_value=10**7))
def test_format_then_parse_round_trips(n):
    assert parse_duration(format_duration(n).replace(" ", "")) == n


@given(st.text(max_size=60))
def test_never_crashes_and_result_is_positive(text):
    try:
        value = parse_duration(text, maximum=10**9)
    except DurationError as err:
        assert str(err)
    else:
        assert 1 <= value <= 10**9
