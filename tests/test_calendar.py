import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import UserError
from bot.voting.calendar import ACCEPTED, WEEKDAYS, Rule, next_opening, opening_on, parse_rule

UTC = dt.UTC
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def ts(year, month, day, hour=0, minute=0, second=0) -> float:
    """POSIX seconds of a UTC date and time."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def at(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, UTC)


# -- parsing ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("daily 20:00", Rule("daily", 20 * 60)),
        ("daily at 8:05", Rule("daily", 8 * 60 + 5)),
        ("DAILY AT 08:05", Rule("daily", 8 * 60 + 5)),
        ("daily 0:00", Rule("daily", 0)),
        ("daily 23:59", Rule("daily", 1439)),
        ("  daily    20:00 ", Rule("daily", 1200)),
        ("weekly sun 18:30", Rule("weekly", 18 * 60 + 30, weekday=6)),
        ("weekly sunday at 18:30", Rule("weekly", 18 * 60 + 30, weekday=6)),
        ("Weekly on MON at 7:00", Rule("weekly", 7 * 60, weekday=0)),
        ("weekly wednesday 12:00", Rule("weekly", 720, weekday=2)),
        ("once 2026-12-05 20:00", Rule("once", 1200, date=dt.date(2026, 12, 5))),
        ("once 2026-12-05 at 20:00", Rule("once", 1200, date=dt.date(2026, 12, 5))),
        ("once on 2026-12-05 at 9:30", Rule("once", 570, date=dt.date(2026, 12, 5))),
    ],
)
def test_parse_accepted_forms(text, rule):
    assert parse_rule(text) == rule


@pytest.mark.parametrize("day", range(7))
def test_every_weekday_name(day):
    full = WEEKDAYS[day]
    assert parse_rule(f"weekly {full} 1:00").weekday == day
    assert parse_rule(f"weekly {full[:3].upper()} 1:00").weekday == day


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (Rule("daily", 1200), "daily at 20:00"),
        (Rule("daily", 65), "daily at 01:05"),
        (Rule("weekly", 18 * 60 + 30, weekday=6), "weekly on Sunday at 18:30"),
        (Rule("once", 1200, date=dt.date(2026, 12, 5)), "once on 2026-12-05 at 20:00"),
    ],
)
def test_describe(rule, text):
    assert rule.describe() == text
    assert parse_rule(text) == rule


rules = st.one_of(
    st.builds(lambda m: Rule("daily", m), st.integers(0, 1439)),
    st.builds(lambda m, d: Rule("weekly", m, weekday=d), st.integers(0, 1439), st.integers(0, 6)),
    st.builds(
        lambda m, d: Rule("once", m, date=d),
        st.integers(0, 1439),
        st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31)),
    ),
)


@given(rules)
def test_describe_round_trips(rule):
    assert parse_rule(rule.describe()) == rule
    assert parse_rule(rule.describe().upper()) == rule


def refusal(text: str) -> str:
    with pytest.raises(UserError) as err:
        parse_rule(text)
    message = str(err.value)
    assert message.endswith(ACCEPTED)
    assert "`daily 20:00`" in message and "`weekly sunday 18:30`" in message and "`once 2026-12-05 20:00`" in message
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "The schedule is empty."),
        ("   ", "The schedule is empty."),
        ("daily " + "1" * 80, "too long"),
        ("monthly 20:00", '"monthly 20:00" is not a schedule I understand: it starts with daily, weekly or once.'),
        ("20:00", "it starts with daily, weekly or once"),
        ("daily", "After `daily` comes a time"),
        ("daily at", "After `daily` comes a time"),
        ("daily 20:00 sunday", "After `daily` comes a time"),
        ("weekly 18:30", "After `weekly` come a day and a time"),
        ("weekly on 18:30", "After `weekly` come a day and a time"),
        ("once 20:00", "After `once` come a date and a time"),
        ("daily 24:00", '"24:00" is not a time of day: use 24-hour H:MM, from 0:00 to 23:59.'),
        ("daily 20:60", "is not a time of day"),
        ("daily 20", "is not a time of day"),
        ("daily 8:5", "is not a time of day"),
        ("daily 123:00", "is not a time of day"),
        ("daily 8pm", "is not a time of day"),
        ("daily ٢٠:٠٠", "is not a time of day"),
        ("weekly funday 18:30", '"funday" is not a day of the week: use Monday to Sunday, or mon to sun.'),
        ("weekly su 18:30", "is not a day of the week"),
        ("weekly 6 18:30", "is not a day of the week"),
        ("once 2026-02-30 20:00", '"2026\\-02\\-30" is not a date: use YYYY-MM-DD'),  # echoed escaped
        ("once 2026-2-3 20:00", "is not a date"),
        ("once 05.12.2026 20:00", "is not a date"),
        ("once 20261205 20:00", "is not a date"),
        ("once 2026-12-05 25:00", "is not a time of day"),
    ],
)
def test_parse_refusals(text, expected):
    assert expected in refusal(text)


def test_refusal_echo_is_escaped():
    message = refusal("weekly *sun* 18:30")
    assert '"\\*sun\\*"' in message
    assert "\u200b" not in refusal("daily 20:\u200b00")


@pytest.mark.parametrize(
    "args",
    [("hourly", 0), ("daily", 1440), ("daily", -1), ("daily", 0, 1), ("weekly", 0), ("weekly", 0, 7),
     ("once", 0), ("daily", 0, None, dt.date(2026, 1, 1)), ("once", 0, None, dt.datetime(2026, 1, 1))],
)
def test_inconsistent_rule(args):
    with pytest.raises(ValueError):
        Rule(*args)


# -- openings -----------------------------------------------------------------------------------------------------
DAILY_20 = Rule("daily", 20 * 60)
DAILY_0230 = Rule("daily", 2 * 60 + 30)
DAILY_0130 = Rule("daily", 60 + 30)


@pytest.mark.parametrize(
    ("rule", "after", "zone", "expected"),
    [
        # UTC
        (DAILY_20, ts(2026, 6, 1, 12), "UTC", ts(2026, 6, 1, 20)),
        (DAILY_20, ts(2026, 6, 1, 20) - 0.5, "UTC", ts(2026, 6, 1, 20)),
        (DAILY_20, ts(2026, 6, 1, 20), "UTC", ts(2026, 6, 2, 20)),  # strictly after
        (DAILY_20, ts(2026, 12, 31, 21), "UTC", ts(2027, 1, 1, 20)),
        (Rule("weekly", 18 * 60 + 30, weekday=6), ts(2026, 6, 1), "UTC", ts(2026, 6, 7, 18, 30)),  # Mon -> Sun
        (Rule("weekly", 18 * 60 + 30, weekday=6), ts(2026, 6, 7, 18, 30), "UTC", ts(2026, 6, 14, 18, 30)),
        (Rule("weekly", 18 * 60 + 30, weekday=6), ts(2026, 6, 7, 18, 29), "UTC", ts(2026, 6, 7, 18, 30)),
        (Rule("once", 1200, date=dt.date(2026, 12, 5)), ts(2026, 1, 1), "UTC", ts(2026, 12, 5, 20)),
        (Rule("once", 1200, date=dt.date(2026, 12, 5)), ts(2026, 12, 5, 20), "UTC", None),
        (Rule("once", 1200, date=dt.date(2026, 12, 5)), ts(2026, 12, 6), "UTC", None),
        (DAILY_20, ts(2026, 6, 1, 12), "", ts(2026, 6, 1, 20)),  # no zone: UTC
        (DAILY_20, ts(2026, 6, 1, 12), "Not/A_Zone", ts(2026, 6, 1, 20)),  # a zone no longer known: UTC
        # Berlin, summer time starts 29 March 2026 (02:00 CET -> 03:00 CEST, 01:00 UTC)
        (DAILY_20, ts(2026, 3, 28, 12), BERLIN, ts(2026, 3, 28, 19)),  # 20:00 CET
        (DAILY_20, ts(2026, 3, 28, 19), BERLIN, ts(2026, 3, 29, 18)),  # 20:00 CEST, 23 h later
        (DAILY_0230, ts(2026, 3, 28, 12), BERLIN, ts(2026, 3, 29, 1)),  # in the gap: 03:00 CEST
        (DAILY_0230, ts(2026, 3, 29, 1), BERLIN, ts(2026, 3, 30, 0, 30)),  # 02:30 CEST next day
        (Rule("daily", 3 * 60), ts(2026, 3, 28, 12), BERLIN, ts(2026, 3, 29, 1)),  # 03:00 CEST exists
        (Rule("daily", 2 * 60), ts(2026, 3, 28, 12), BERLIN, ts(2026, 3, 29, 1)),  # 02:00 is the gap's start
        (Rule("weekly", 150, weekday=6), ts(2026, 3, 23), BERLIN, ts(2026, 3, 29, 1)),
        (Rule("once", 150, date=dt.date(2026, 3, 29)), ts(2026, 3, 1), BERLIN, ts(2026, 3, 29, 1)),
        (Rule("once", 150, date=dt.date(2026, 3, 29)), ts(2026, 3, 29, 1), BERLIN, None),
        # Berlin, summer time ends 25 October 2026 (03:00 CEST -> 02:00 CET, 01:00 UTC)
        (DAILY_20, ts(2026, 10, 24, 12), BERLIN, ts(2026, 10, 24, 18)),  # 20:00 CEST
        (DAILY_20, ts(2026, 10, 24, 18), BERLIN, ts(2026, 10, 25, 19)),  # 20:00 CET, 25 h later
        (DAILY_0230, ts(2026, 10, 24, 12), BERLIN, ts(2026, 10, 25, 0, 30)),  # first 02:30 (CEST)
        (DAILY_0230, ts(2026, 10, 25, 0, 30), BERLIN, ts(2026, 10, 26, 1, 30)),  # not the second 02:30
        (Rule("weekly", 150, weekday=6), ts(2026, 10, 25, 0, 30), BERLIN, ts(2026, 11, 1, 1, 30)),
        (Rule("once", 150, date=dt.date(2026, 10, 25)), ts(2026, 10, 25, 0, 29), BERLIN, ts(2026, 10, 25, 0, 30)),
        (Rule("once", 150, date=dt.date(2026, 10, 25)), ts(2026, 10, 25, 0, 30), BERLIN, None),
        # New York, daylight time starts 8 March 2026 (02:00 EST -> 03:00 EDT, 07:00 UTC)
        (DAILY_20, ts(2026, 3, 7, 12), NEW_YORK, ts(2026, 3, 8, 1)),  # 20:00 EST on the 7th
        (DAILY_20, ts(2026, 3, 8, 1), NEW_YORK, ts(2026, 3, 9, 0)),  # 20:00 EDT on the 8th
        (DAILY_0230, ts(2026, 3, 7, 12), NEW_YORK, ts(2026, 3, 8, 7)),  # in the gap: 03:00 EDT
        (DAILY_0230, ts(2026, 3, 8, 7), NEW_YORK, ts(2026, 3, 9, 6, 30)),
        (Rule("weekly", 150, weekday=6), ts(2026, 3, 2), NEW_YORK, ts(2026, 3, 8, 7)),
        (Rule("once", 150, date=dt.date(2026, 3, 8)), ts(2026, 3, 8, 6, 59, 59), NEW_YORK, ts(2026, 3, 8, 7)),
        # New York, daylight time ends 1 November 2026 (02:00 EDT -> 01:00 EST, 06:00 UTC)
        (DAILY_20, ts(2026, 10, 31, 12), NEW_YORK, ts(2026, 11, 1, 0)),  # 20:00 EDT on 31 Oct
        (DAILY_20, ts(2026, 11, 1, 0), NEW_YORK, ts(2026, 11, 2, 1)),  # 20:00 EST on 1 Nov, 25 h later
        (DAILY_0130, ts(2026, 10, 31, 12), NEW_YORK, ts(2026, 11, 1, 5, 30)),  # first 01:30 (EDT)
        (DAILY_0130, ts(2026, 11, 1, 5, 30), NEW_YORK, ts(2026, 11, 2, 6, 30)),  # not the second (06:30 UTC)
        (DAILY_0130, ts(2026, 11, 1, 6), NEW_YORK, ts(2026, 11, 2, 6, 30)),  # during the repeated hour
        (Rule("weekly", 90, weekday=6), ts(2026, 10, 26), NEW_YORK, ts(2026, 11, 1, 5, 30)),
        (Rule("once", 90, date=dt.date(2026, 11, 1)), ts(2026, 11, 1, 5, 30), NEW_YORK, None),
    ],
)
def test_next_opening(rule, after, zone, expected):
    assert at(next_opening(rule, after, zone)) == at(expected)


def test_daily_keeps_local_time_across_both_changes():
    local = ZoneInfo(BERLIN)
    after = ts(2026, 3, 1)
    seen = []
    while after < ts(2026, 11, 30):
        opening = next_opening(DAILY_20, after, BERLIN)
        assert opening is not None and opening > after
        wall = dt.datetime.fromtimestamp(opening, local)
        assert (wall.hour, wall.minute, wall.second) == (20, 0, 0)
        seen.append(wall.date())
        after = opening
    assert seen == [dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(len(seen))]


def test_opening_on():
    assert opening_on(DAILY_0230, dt.date(2026, 3, 29), BERLIN) == ts(2026, 3, 29, 1)
    assert opening_on(DAILY_0230, dt.date(2026, 10, 25), BERLIN) == ts(2026, 10, 25, 0, 30)


# -- properties ---------------------------------------------------------------------------------------------------
ZONES = ["UTC", BERLIN, NEW_YORK, "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Kolkata", "Pacific/Apia",
         "Pacific/Chatham", "America/St_Johns"]
instants = st.floats(ts(2000, 1, 1), ts(2040, 1, 1), allow_nan=False)
repeating = st.one_of(
    st.builds(lambda m: Rule("daily", m), st.integers(0, 1439)),
    st.builds(lambda m, d: Rule("weekly", m, weekday=d), st.integers(0, 1439), st.integers(0, 6)),
)


def _wall(instant: float, zone: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(instant, ZoneInfo(zone)).replace(tzinfo=None)


def _opening_date(rule: Rule, opening: float, zone: str) -> dt.date:
    """The local date whose rule time the opening is for: the clock reaches that date and time at the opening
    (the earliest such date: a day skipped whole, as in Apia on 2011-12-30, shares its opening with the next)."""
    wall, before = _wall(opening, zone), _wall(opening - 1, zone)
    for back in (2, 1, 0):
        day = wall.date() - dt.timedelta(days=back)
        target = dt.datetime.combine(day, dt.time(rule.minute // 60, rule.minute % 60))
        if before < target <= wall and (rule.weekday is None or day.weekday() == rule.weekday):
            return day
    raise AssertionError(f"{at(opening)} is no opening of {rule.describe()} in {zone}")


@settings(max_examples=300)
@given(repeating, instants, st.sampled_from(ZONES))
def test_next_opening_properties(rule, after, zone):
    opening = next_opening(rule, after, zone)
    assert opening is not None
    assert opening > after
    assert opening == int(opening)  # whole seconds
    day = _opening_date(rule, opening, zone)
    target = dt.datetime.combine(day, dt.time(rule.minute // 60, rule.minute % 60))
    wall = _wall(opening, zone)
    if wall != target:  # only in a gap: the wall time does not exist, the opening is the gap's end
        assert wall - target < dt.timedelta(days=1, hours=1)
        assert _wall(opening - 1, zone) < target
    # the first time the clock showed the target: not a repeat after the clocks went back
    for back in (60, 1800, 3600, 5400, 7200):
        assert _wall(opening - back, zone) < target
    step = dt.timedelta(days=7 if rule.kind == "weekly" else 1)
    assert opening_on(rule, day - step, zone) <= after  # no earlier opening was missed
    if rule.kind == "weekly":
        assert day.weekday() == rule.weekday
        assert opening - after <= 7 * 86400 + 2 * 3600
    else:
        assert opening - after <= 26 * 3600
    assert next_opening(rule, opening - 0.001, zone) == opening
    assert next_opening(rule, opening, zone) != opening


@given(st.integers(0, 1439), st.dates(dt.date(2001, 1, 1), dt.date(2039, 12, 31)), instants, st.sampled_from(ZONES))
def test_once_properties(minute, day, after, zone):
    rule = Rule("once", minute, date=day)
    opening = opening_on(rule, day, zone)
    result = next_opening(rule, after, zone)
    assert result == (opening if opening > after else None)
    assert next_opening(rule, opening, zone) is None
    assert next_opening(rule, opening - 0.5, zone) == opening


@pytest.mark.parametrize(
    ("rule", "after", "zone", "expected"),
    [
        # Sao Paulo's summer time started at midnight (4 Nov 2018, 00:00 -> 01:00): a 00:15 opens at 01:00 local
        (Rule("daily", 15), ts(2018, 11, 3, 12), "America/Sao_Paulo", ts(2018, 11, 4, 3)),
        # Apia skipped 30 December 2011 whole: its 20:00 opens when the day was skipped, then 31 Dec 20:00 (+14)
        (DAILY_20, ts(2011, 12, 30, 6), "Pacific/Apia", ts(2011, 12, 30, 10)),
        (DAILY_20, ts(2011, 12, 30, 10), "Pacific/Apia", ts(2011, 12, 31, 6)),
        # Lord Howe moves its clocks by 30 minutes (5 Oct 2025, 02:00 -> 02:30, 15:30 UTC the day before)
        (Rule("daily", 2 * 60 + 10), ts(2025, 10, 4, 12), "Australia/Lord_Howe", ts(2025, 10, 4, 15, 30)),
    ],
)
def test_odd_clock_changes(rule, after, zone, expected):
    assert at(next_opening(rule, after, zone)) == at(expected)
