"""Discord only at the edge: the core (``bot/``) imports neither discord nor the cogs, except its two entry
points (``bot/app.py`` builds the bot, ``bot/__main__.py`` is the CLI), and even they import no cog: extensions
are loaded by name."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINTS = {"bot/app.py", "bot/__main__.py"}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def test_the_core_imports_no_discord_and_no_cog():
    checked = 0
    for path in sorted((ROOT / "bot").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        tops = {_top(m) for m in _imports(path)}
        assert "cogs" not in tops, f"{name} imports a cog: load extensions by name instead"
        if name not in ENTRY_POINTS:
            assert "discord" not in tops, f"{name} imports discord: only {sorted(ENTRY_POINTS)} may"
        checked += 1
    assert checked > 20


def test_the_check_sees_imports_at_any_depth(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from cogs._errors import report\n    import discord.ext\n", encoding="utf-8")
    assert {_top(m) for m in _imports(sample)} == {"cogs", "discord"}


def test_cogs_reach_storage_only_through_services():
    """A cog parses, checks, calls a service and renders: no cog touches ``core.store`` (models as types are fine)."""
    for path in sorted((ROOT / "cogs").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        used = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "store"]
        assert not used, f"{path.name} reaches into the store at line(s) {used}: call a service instead"
