import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.actions import DURATION_BOUNDS, Action, ActionKind
from bot.errors import UserError
from bot.text import shown_text
from bot.voting.options import (
    ACCEPTED,
    WheelOption,
    format_options,
    options_from_json,
    options_text,
    options_to_json,
    parse_options,
)


def one(text: str) -> WheelOption:
    """The first option of ``text, nothing`` (or of ``text, +1s`` when text is itself nothing)."""
    other = "+1s" if " ".join(text.lower().split()) in ("nothing", "none", "no change") else "nothing"
    return parse_options(f"{text}, {other}")[0]


@pytest.mark.parametrize(
    ("text", "kind", "seconds"),
    [
        ("+30m", ActionKind.ADD_TIME, 1800),
        ("+ 30m", ActionKind.ADD_TIME, 1800),
        ("add 2h", ActionKind.ADD_TIME, 7200),
        ("+1h 30m", ActionKind.ADD_TIME, 5400),
        ("+1:30:00", ActionKind.ADD_TIME, 5400),
        ("-1h", ActionKind.REMOVE_TIME, 3600),
        ("remove 15m", ActionKind.REMOVE_TIME, 900),
        ("freeze 1h", ActionKind.FREEZE, 3600),
        ("freeze", ActionKind.FREEZE, None),
        ("unfreeze", ActionKind.UNFREEZE, None),
        ("pillory 10m", ActionKind.PILLORY, 600),
        ("+30d", ActionKind.ADD_TIME, 30 * 86400),
        ("freeze 1d", ActionKind.FREEZE, 86400),
        ("pillory 1m", ActionKind.PILLORY, 60),
    ],
)
def test_each_accepted_action(text, kind, seconds):
    option = one(text)
    assert option.action == Action(kind=kind, seconds=seconds)


@pytest.mark.parametrize("text", ["nothing", "none", "no change", "No  Change", "NOTHING", " none "])
def test_nothing_words(text):
    option = one(text)
    assert option.action is None
    assert option.label == "nothing"
    assert option.to_json_obj() is None


@pytest.mark.parametrize("text", ["+30M", "ADD 2H", "Freeze 1H", "FREEZE", "UnFreeze", "PILLORY 10m", "Remove 1h"])
def test_case_insensitive(text):
    assert one(text) == one(text.lower())


@pytest.mark.parametrize("separator", [",", ";", "|", " , ", ";  ", " |"])
def test_separators(separator):
    options = parse_options(separator.join(["+30m", "+2h", "freeze 1h", "pillory 10m", "nothing"]))
    assert [o.label for o in options] == ["+30m", "+2h", "freeze 1h", "pillory 10m", "nothing"]


def test_mixed_separators():
    assert len(parse_options("+1h, +2h; +3h | nothing")) == 4


def test_labels_and_format():
    options = parse_options("+30m, -2h, freeze, unfreeze, pillory 10m, none")
    assert [o.label for o in options] == ["+30m", "-2h", "freeze (1h default)", "unfreeze", "pillory 10m", "nothing"]
    assert format_options(options) == (
        "1. +30m · 2. -2h · 3. freeze (1h default) · 4. unfreeze · 5. pillory 10m · 6. nothing"
    )
    assert options_text(options) == "+30m, -2h, freeze, unfreeze, pillory 10m, nothing"
    assert parse_options(options_text(options)) == options


def test_json_round_trip_and_shape():
    options = parse_options("+30m, freeze, nothing")
    stored = options_to_json(options)
    assert json.loads(stored) == [
        {"kind": "add_time", "seconds": 1800, "verification": False},
        {"kind": "freeze", "verification": False},
        None,
    ]
    assert options_from_json(stored) == options
    assert [WheelOption.from_json_obj(o.to_json_obj()) for o in options] == options


def test_stored_options_are_not_judged_by_wheel_rules():
    # a stored list is read back as it is: the wheel's count rules are for new votes only
    stored = '[{"kind": "add_time", "seconds": 60}]'
    assert options_from_json(stored) == [WheelOption(Action(kind=ActionKind.ADD_TIME, seconds=60))]


@pytest.mark.parametrize("text", ["{}", "[1]", '[{"kind": "banana"}]', "not json", '[{"kind": "add_time"}]'])
def test_malformed_stored_options(text):
    with pytest.raises(ValueError):
        options_from_json(text)


def refusal(text: str) -> str:
    with pytest.raises(UserError) as err:
        parse_options(text)
    return str(err.value)


@pytest.mark.parametrize(("text", "count"), [("+1h", "1"), ("+1h, +2h, +3h, +4h, +5h, +6h, +7h", "7")])
def test_count_refused(text, count):
    message = refusal(text)
    assert f"A wheel needs 2 to 6 options, not {count}." in message
    assert ACCEPTED in message


@pytest.mark.parametrize("text", ["", "   "])
def test_no_options(text):
    assert "No options were given" in refusal(text)


@pytest.mark.parametrize(("text", "number"), [("+1h,,+2h", 2), ("+1h, +2h,", 3), (",+1h", 1), ("+1h; ;+2h", 2)])
def test_empty_option(text, number):
    message = refusal(text)
    assert f"Option {number} is empty" in message
    assert ACCEPTED in message


def test_unknown_word_names_the_option_and_what_is_accepted():
    message = refusal("+1h, +2h, banana")
    assert message.startswith("Option 3 (banana) is not something a wheel can do.")
    assert "`+30m`" in message and "`nothing`" in message and "2 to 6 options" in message


@pytest.mark.parametrize("text", ["task drink water", "hygiene 10m", "end pillory", "add", "bananas 5m", "1h"])
def test_other_things_refused(text):
    message = refusal(f"+1h, {text}")
    assert message.startswith("Option 2 (")
    assert ACCEPTED in message or "duration" in message


@pytest.mark.parametrize("text", ["+", "-", "add", "remove", "pillory", "ADD  "])
def test_missing_duration(text):
    assert "needs a duration" in refusal(f"{text}, nothing")


@pytest.mark.parametrize("text", ["unfreeze 1h", "nothing 5m", "none 1h", "no change 1h"])
def test_no_duration_allowed(text):
    assert "takes no duration" in refusal(f"+1h, {text}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+31d", "more than the most"),
        ("freeze 2d", "more than the most"),
        ("freeze 30s", "at least 1m"),
        ("pillory 25h", "more than the most"),
        ("pillory 59s", "at least 1m"),
        ("+0m", "more than zero"),
        ("+-5m", "cannot be negative"),
        ("+1x", "is not a duration I understand"),
        ("remove 1.5h", "is not a duration I understand"),
    ],
)
def test_bad_or_out_of_bounds_duration(text, expected):
    message = refusal(f"nothing, {text}")
    assert message.startswith(f"Option 2 ({shown_text(text, 40)}): ")  # echoed escaped (a "-" as "\\-")
    assert expected in message


def test_bounds_follow_the_kind():
    assert one(f"+{DURATION_BOUNDS[ActionKind.ADD_TIME][1]}").action is not None
    assert "more than the most" in refusal(f"nothing, +{DURATION_BOUNDS[ActionKind.ADD_TIME][1] + 1}")


@pytest.mark.parametrize(
    ("text", "number", "first"),
    [("+1h, +60m", 2, 1), ("nothing, +1h, none", 3, 1), ("freeze 1h, FREEZE 60m", 2, 1), ("+1h, -1h, add 1h", 3, 1)],
)
def test_duplicates_refused(text, number, first):
    assert f"Option {number} (" in refusal(text)
    assert f"is the same as option {first}" in refusal(text)


def test_freeze_default_and_freeze_1h_differ_by_label():
    assert len(parse_options("freeze, freeze 1h")) == 2


def test_echo_is_escaped_and_cut():
    message = refusal("+1h, **bold** `code` " + "x" * 100)
    assert "\\*\\*bold\\*\\*" in message and "\\`code\\`" in message
    assert "x" * 100 not in message and "…" in message
    assert "\u200b" not in refusal("+1h, ban\u200bana")


def test_too_long_input():
    assert "too long" in refusal("+1h, " + " " * 500 + "+2h")


# -- properties --------------------------------------------------------------------------------------------------
def _action(kind: ActionKind, seconds: int | None) -> Action:
    return Action(kind=kind, seconds=seconds)


durations = {
    kind: st.integers(DURATION_BOUNDS[kind][0], DURATION_BOUNDS[kind][1])
    for kind in (ActionKind.ADD_TIME, ActionKind.REMOVE_TIME, ActionKind.FREEZE, ActionKind.PILLORY)
}
option_strategy = st.one_of(
    st.just(WheelOption(None)),
    st.just(WheelOption(_action(ActionKind.UNFREEZE, None))),
    st.just(WheelOption(_action(ActionKind.FREEZE, None))),
    *(durations[kind].map(lambda s, k=kind: WheelOption(_action(k, s))) for kind in durations),
)
option_lists = st.lists(option_strategy, min_size=2, max_size=6, unique_by=lambda o: o.label)


@given(option_lists)
def test_typed_text_round_trips(options):
    assert parse_options(options_text(options)) == options


@given(option_lists)
def test_json_round_trips(options):
    assert options_from_json(options_to_json(options)) == options


@given(option_lists, st.sampled_from([",", ";", "|"]))
def test_upper_case_and_any_separator_round_trip(options, separator):
    text = f" {separator} ".join(o.typed.upper() for o in options)
    assert parse_options(text) == options


words = st.sampled_from(["+", "-", "add", "remove", "freeze", "unfreeze", "pillory", "nothing", "no change", "1h",
                         "30m", ",", ";", "|", " ", "0", "d", ":", "`", "*", "\u200b"])


@given(st.one_of(st.text(max_size=500), st.lists(words, max_size=30).map("".join)))
def test_only_user_errors(text):
    try:
        options = parse_options(text)
    except UserError:
        return
    assert 2 <= len(options) <= 6
    assert len({o.label for o in options}) == len(options)
