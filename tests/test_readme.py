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
