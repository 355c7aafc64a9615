"""Every benchmark at a toy size, so they cannot rot. Nothing here is timed: speed targets live in bench/."""

from __future__ import annotations

import pytest

from bench import __main__ as bench_main
from bench import economy, ingest, latency, recovery


def test_max_in_window_counts_a_rolling_minute():
    assert economy.max_in_window([]) == 0
    assert economy.max_in_window([0, 10, 59.9, 60, 61]) == 4  # 10..61 lies within [10, 70)
    assert economy.max_in_window([0, 60, 120]) == 1


@pytest.mark.timeout(600)
def test_every_scenario_runs_at_a_tiny_size_and_reports_every_figure(tmp_path):
    out = tmp_path / "RESULTS.md"
    assert bench_main.main(["--size", "tiny", "--runs", "1", "--out", str(out)]) == 0
    text = out.read_text()
    for name in ("1. ingestion: reaction events persisted", "5. storage ceiling",
                 "2. decision latency, SQLite (instant pass)", "2. decision latency, SQLite (deadline)",
                 "2. decision latency, PostgreSQL (instant pass)", "2. decision latency, PostgreSQL (deadline)",
                 "3. most lock actions for one lock in any 60 s",
                 "3. 429s from the stand-in", "3. Chastify calls per ballot", "4. recovery: ready",
                 "4. recovery: peak RSS", "6. memory per 1,000 guilds",
                 "7. two processes, one lock: most lock actions in any 60 s"):
        assert name in text, name
    assert "Machine: cpu " in text and "Command: `python -m bench --size tiny" in text


def test_the_tiny_runs_check_what_they_measure():
    """Each scenario verifies its own outcome, not only its clock: ingestion compares the database with the
    script, latency needs one action and one log per decided vote, economy never meets a 429, recovery has
    every deadline scheduled."""
    r = ingest.run(ingest.TINY, runs=1, log=lambda *_: None)
    assert r["real"][0].mismatches == 0 and r["real"][0].rows > 0
    both = latency.run(latency.TINY, runs=1, log=lambda *_: None)
    for lat in (both["runs"][0], both["postgres"][0]):  # SQLite's, then PostgreSQL's
        assert len(lat.instant_ms) == latency.TINY.samples and len(lat.deadline_ms) == latency.TINY.samples
        assert all(x > 0 for x in lat.instant_ms + lat.deadline_ms)
    eco = economy.run(economy.TINY, runs=1, log=lambda *_: None)["runs"][0]
    assert eco.rate_limited == 0 and 0 < eco.max_per_lock_minute <= 20
    assert eco.lock_actions > 0 and eco.ballots > 0
    assert set(eco.outcomes) <= {"passed", "failed", "refused", "cancelled"}
    rec = recovery.run(recovery.TINY, runs=1, log=lambda *_: None)
    assert rec["real"][0]["deadlines"] == recovery.TINY.votes
