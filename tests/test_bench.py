"""Every benchmark at a toy size, so they cannot rot. Nothing here is timed: speed targets live in bench/."""

from __future__ import annotations

import pytest

from bench import __main__ as bench_main
from bench import economy, gateway, ingest, latency, recovery


def test_max_in_window_counts_a_rolling_minute():
    assert economy.max_in_window([]) == 0
    assert economy.max_in_window([0, 10, 59.9, 60, 61]) == 4  # 10..61 lies within [10, 70)
    assert economy.max_in_window([0, 60, 120]) == 1


@pytest.mark.timeout(600)
def test_edits_are_counted_per_channel_in_a_rolling_window():
    run = gateway.WsRun("real", 1.0, 1, 0.1, edits={1: [0.0, 1.0, 2.0], 2: [3.0, 4.9], 3: [0.5]},
                        channel_of={1: 10, 2: 10, 3: 11})
    assert run.most_edits_per_channel() == 5  # channel 10: 0.0 .. 4.9 all within 5 s
    run.edits[2] = [5.0, 9.0]
    assert run.most_edits_per_channel() == 3  # 1.0, 2.0, 5.0


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
                 "7. two processes, one lock: most lock actions in any 60 s",
                 "8. ingestion over a real websocket", "8. the same against a bare bot with discord.py's defaults",
                 "8. tally staleness under that load", "8. vote message edits in one channel in any 5 s",
                 "8. where the time goes: our bot with its live tally edits switched off"):
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
    ws = gateway.run(ingest.TINY, runs=1, log=lambda *_: None)  # raises when a ballot differs from the script
    for kind in ("real", "quiet", "bare", "default"):
        assert ws[kind][0].events == ingest.TINY.events and ws[kind][0].seconds > 0
    real = ws["real"][0]
    assert real.rows and real.unknown == []  # every ballot committed; nothing asked that the fake does not serve
    assert real.edits and all(s < float("inf") for s in real.staleness())  # every vote redrawn after its last frame
    assert real.most_edits_per_channel() <= 5
    assert ws["quiet"][0].rows and not ws["quiet"][0].edits  # the same ballots, no tally drawn
    rec = recovery.run(recovery.TINY, runs=1, log=lambda *_: None)
    assert rec["real"][0]["deadlines"] == recovery.TINY.votes
