"""`make demo SCRIPT=1`: the demo story headless, as a newcomer runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_scripted_demo_plays_the_whole_story(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CHASTIFY_BOT_") and k != "DISCORD_TOKEN"}
    env.update(PYTHONPATH=str(REPO), TMPDIR=str(tmp_path), DISCORD_TOKEN="must-not-be-used")
    done = subprocess.run([sys.executable, "-m", "sandbox.demo", "--script"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=110, check=False)
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-4000:]
    expected = [
        "DEV token dev-token-demo",
        "wearer_wendy: /chastify link",
        'bot shows a form: "Link your Chastify lock"',
        "bot (only wearer_wendy sees):",
        "Linked Demo Weekend Lock as wearer.",
        "wearer_wendy: /chastify status",
        "[🔒 Demo Weekend Lock]",
        "wearer_wendy: /chastify trust who=@friend_fred",
        "friend_fred: /lock add-time duration=30m reason=late for the call",
        "Applied +30m.",
        "friend_fred: /vote add-time duration=1h reason=for fun",
        "[🗳️ Vote · +1h · Demo Weekend Lock]",
        "the bot reacts ✅ ❌ on its vote",
        "voter_vic reacts ✅",
        "live tally on the vote: ✅ 2 · ❌ 1",
        "the bot edits the vote: Outcome: Passed (2 for, 1 against): applied.",
        "friend_fred: /vote board add_per_vote=10m remove_per_vote=5m",
        "the bot reacts 🔼 🔽 on its board",
        "the bot edits the board: Outcome: Net +15m (2 🔼, 1 🔽): applied.",
        "The stand-in's history of \"Demo Weekend Lock\" (what reached Chastify):",
        "Discord vote: +1h (2 for, 1 against)",
        "Discord board: +15m (2 up, 1 down)",
        "Demo finished: every step did what it should.",
    ]
    missing = [line for line in expected if line not in out]
    assert not missing, f"missing from the transcript: {missing}\n\n{out}"
    # the story's order: link before status before the vote's outcome before the board
    positions = [out.index(line) for line in expected]
    assert positions == sorted(positions), out
    history = out[out.index("The stand-in's history"):]
    assert history.count("time_added") == 3  # +30m direct, +1h vote, +15m board
    assert "must-not-be-used" not in out + done.stderr
    assert list(tmp_path.iterdir()) == []  # the temp database and key were removed
