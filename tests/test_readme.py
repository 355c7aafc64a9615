"""The README's configuration reference is generated from the settings model and must stay current."""

import re
from pathlib import Path

from bot.config import settings_reference_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_config_reference_in_readme_is_current():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- config-reference:start -->\n(.*?)\n<!-- config-reference:end -->", text, re.S)
    assert block, "README.md lost its config-reference markers"
    assert block.group(1).strip() == settings_reference_markdown().strip(), (
        "README.md's configuration reference is out of date: paste the output of `python -m bot config-reference`"
    )


def test_readme_names_the_three_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("make demo", "make test", "make run"):
        assert command in text


def _safety_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- safety:start -->\n(.*?)<!-- safety:end -->", text, re.S)
    assert block, "README.md lost its safety markers"
    return block.group(1)


def test_every_safety_promise_names_tests_that_exist():
    """Each paragraph of the safety model ends with the tests that prove it; every file and test named exists (a
    bare `::name` belongs to the file named before it)."""
    section = _safety_section()
    promises = re.split(r"\n(?=\*\*)", section)[1:]  # each bold heading up to the next
    assert len(promises) >= 8
    for promise in promises:
        assert "Proved by:" in promise, f"a safety promise names no test: {promise[:80]!r}"
    named = 0
    current: Path | None = None
    for path, name in re.findall(r"`(tests/[\w/]+\.py)?(?:::)?(test_\w*)?`", section):
        if path:
            current = ROOT / path
            assert current.is_file(), f"README names a test file that does not exist: {path}"
        if name:
            assert current is not None, f"README names {name} before any test file"
            source = current.read_text(encoding="utf-8")
            assert re.search(rf"^(async )?def {name}\(", source, re.M), f"{current.name} has no test {name}"
            named += 1
    assert named >= 20


def test_the_limits_table_in_readme_is_generated_from_the_one_place_defaults_live():
    from bot.policy import limits_reference_markdown

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- limits-reference:start -->\n(.*?)<!-- limits-reference:end -->", text, re.S)
    assert block, "README.md lost its limits-reference markers"
    assert block.group(1) == limits_reference_markdown(), (
        "README.md's table of limits is out of date: paste bot.policy.limits_reference_markdown()")


def test_the_limits_command_offers_exactly_the_limits_the_table_names():
    from bot.policy import LIMIT_OPTIONS
    from cogs.chastify import ChastifyCog

    command = ChastifyCog.limits
    assert {p.name for p in command.parameters} == {option for option, _ in LIMIT_OPTIONS.values()}


def test_the_readmes_verify_draw_example_checks_out(capsys):
    """The README's verify-draw example is a real draw: its seed matches its commitment and picks option 2."""
    from bot.__main__ import main

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"python -m bot verify-draw (\S+) (\S+) --mode (\w+) \\\n\s+--commitment (\S+)", text)
    assert found, "README.md lost its verify-draw example"
    seed, tally, mode, commitment = found.groups()
    assert main(["verify-draw", seed, tally, "--mode", mode, "--commitment", commitment]) == 0
    assert "winner:     option 2" in capsys.readouterr().out
