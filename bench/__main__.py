"""``python -m bench`` (``make bench``): every scenario of ``bench/``, then ``bench/RESULTS.md``.

Each figure is the median of ``--runs`` runs (latency: percentiles over every sample of every run); where a
baseline is named, the ratio is against that baseline measured in the same invocation, runs alternated.

``--size tiny`` runs everything at a toy size (what ``tests/test_bench.py`` does, so the benches cannot rot);
it writes the report only when ``--out`` is given.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import economy, gateway, guilds, ingest, latency, recovery, shards
from bench.common import machine, median, percentile

SCENARIOS = ("ingest", "websocket", "latency", "economy", "recovery", "guilds", "shards")


def _fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def _ok(met: bool) -> str:
    return "met" if met else "**missed**"


def run_all(size: str, runs: int, only: list[str], log: Any = print) -> dict[str, Any]:
    tiny = size == "tiny"
    out: dict[str, Any] = {}
    if "ingest" in only:
        log("scenario 1 + 5: ballot ingestion, storage ceiling")
        out["ingest"] = ingest.run(ingest.TINY if tiny else ingest.IngestSize(), runs=runs, log=log)
    if "websocket" in only:
        log("scenario 8: ballot ingestion over a real loopback websocket")
        out["websocket"] = gateway.run(ingest.TINY if tiny else ingest.IngestSize(), runs=runs, log=log)
    if "latency" in only:
        log("scenario 2: decision latency")
        out["latency"] = latency.run(latency.TINY if tiny else latency.LatencySize(), runs=runs, log=log)
    if "economy" in only:
        log("scenario 3: API economy")
        out["economy"] = economy.run(economy.TINY if tiny else economy.EconomySize(), runs=runs, log=log)
    if "recovery" in only:
        log("scenario 4: recovery")
        out["recovery"] = recovery.run(recovery.TINY if tiny else recovery.RecoverySize(), runs=runs, log=log)
    if "guilds" in only:
        log("scenario 6: memory per 1,000 guilds")
        out["guilds"] = guilds.run(guilds.TINY if tiny else guilds.GuildsSize(), runs=runs, log=log)
    if "shards" in only:
        log("scenario 7: one lock's budget across two processes")
        out["shards"] = shards.run(shards.TINY if tiny else shards.ShardsSize(), runs=runs, log=log)
    return out


def figures(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every reported figure: name, value, unit, baseline, ratio, target, met."""
    rows: list[dict[str, Any]] = []
    if "ingest" in results:
        r = results["ingest"]
        real = median([x.events_per_s for x in r["real"]])
        bare = median([x.events_per_s for x in r["bare"]])
        changes = median([x.changes_per_s for x in r["real"]])
        ceiling = median(r["ceiling"])
        rows.append({"name": "1. ingestion: reaction events persisted", "value": real, "unit": "events/s",
                     "baseline": f"bare bot {_fmt(bare)} events/s", "ratio": real / bare,
                     "target": "ratio >= 0.7", "met": real / bare >= 0.7})
        rows.append({"name": "1. ingestion: ballot changes persisted", "value": changes, "unit": "ballots/s",
                     "baseline": None, "ratio": None, "target": None, "met": None})
        rows.append({"name": "5. storage ceiling: plain sqlite3, one transaction", "value": ceiling, "unit": "rows/s",
                     "baseline": None, "ratio": None, "target": None, "met": None})
        rows.append({"name": "5. ingestion (ballots/s) against the ceiling", "value": changes / ceiling,
                     "unit": "ratio", "baseline": f"ceiling {_fmt(ceiling)} rows/s", "ratio": changes / ceiling,
                     "target": None, "met": None})
    if "websocket" in results:
        r = results["websocket"]
        real = median([x.events_per_s for x in r["real"]])
        bare = median([x.events_per_s for x in r["bare"]])
        default = median([x.events_per_s for x in r["default"]])
        rows.append({"name": "8. ingestion over a real websocket: reaction events handled, ballots committed",
                     "value": real, "unit": "events/s", "baseline": f"bare bot, our client options {_fmt(bare)} "
                     "events/s", "ratio": real / bare, "target": "ratio >= 0.7", "met": real / bare >= 0.7})
        rows.append({"name": "8. the same against a bare bot with discord.py's defaults", "value": real,
                     "unit": "events/s", "baseline": f"default bare bot {_fmt(default)} events/s",
                     "ratio": real / default, "target": None, "met": None})
        quiet = median([x.events_per_s for x in r["quiet"]])
        rows.append({"name": "8. where the time goes: our bot with its live tally edits switched off", "value": quiet,
                     "unit": "events/s", "baseline": f"bare bot, our client options {_fmt(bare)} events/s",
                     "ratio": quiet / bare, "target": None, "met": None})
        if "ingest" in results:
            sim = results["ingest"]
            sim_ratio = median([x.events_per_s for x in sim["real"]]) / median([x.events_per_s for x in sim["bare"]])
            rows.append({"name": "8. beside it: the simcord-fed ratio (scenario 1)", "value": sim_ratio,
                         "unit": "ratio", "baseline": None, "ratio": None, "target": None, "met": None})
        stale = [x for run in r["real"] for x in run.staleness()]
        rows.append({"name": f"8. tally staleness under that load (the bot's backlog included), p50 over "
                     f"{len(stale)} vote messages", "value": percentile(stale, 50), "unit": "s", "baseline": None,
                     "ratio": None, "target": None, "met": None})
        rows.append({"name": "8. tally staleness under that load, worst", "value": max(stale, default=float("nan")),
                     "unit": "s", "baseline": None, "ratio": None, "target": None, "met": None})
        rows.append({"name": "8. every tally final, after the last event was handled", "value":
                     max(x.caught_up() for x in r["real"]), "unit": "s", "baseline": None, "ratio": None,
                     "target": None, "met": None})
        most = max((x.most_edits_per_channel() for x in r["real"]), default=0)
        rows.append({"name": "8. vote message edits in one channel in any 5 s", "value": most, "unit": "edits",
                     "baseline": "Discord's 5 per 5 s", "ratio": most / 5, "target": "<= 5", "met": most <= 5})
    if "latency" in results:
        for store, key in (("SQLite", "runs"), ("PostgreSQL", "postgres")):
            runs = results["latency"].get(key, [])
            if not runs:
                continue
            for way, attr in (("instant pass", "instant_ms"), ("deadline", "deadline_ms")):
                samples = [x for run in runs for x in getattr(run, attr)]
                p50, p99 = percentile(samples, 50), percentile(samples, 99)
                rows.append({"name": f"2. decision latency, {store} ({way}) p50, {len(samples)} samples",
                             "value": p50, "unit": "ms", "baseline": None, "ratio": None, "target": "<= 5 ms",
                             "met": p50 <= 5})
                rows.append({"name": f"2. decision latency, {store} ({way}) p99", "value": p99, "unit": "ms",
                             "baseline": None, "ratio": None, "target": "<= 20 ms", "met": p99 <= 20})
    if "economy" in results:
        runs = results["economy"]["runs"]
        most = max(x.max_per_lock_minute for x in runs)
        limited = sum(x.rate_limited for x in runs)
        per_ballot = median([x.calls / x.ballots for x in runs])
        rows.append({"name": "3. most lock actions for one lock in any 60 s", "value": most, "unit": "calls",
                     "baseline": "Chastify's limit 20", "ratio": most / 20, "target": "<= 20", "met": most <= 20})
        rows.append({"name": "3. 429s from the stand-in", "value": limited, "unit": "", "baseline": None,
                     "ratio": None, "target": "0", "met": limited == 0})
        rows.append({"name": "3. Chastify calls per ballot", "value": per_ballot, "unit": "calls/ballot",
                     "baseline": None, "ratio": None, "target": None, "met": None})
    if "recovery" in results:
        r = results["recovery"]
        ready = median([x["ready_s"] for x in r["real"]])
        bare_ready = median([x["ready_s"] for x in r["bare"]])
        rss = median([x["rss_kib"] / 1024 for x in r["real"]])
        bare_rss = median([x["rss_kib"] / 1024 for x in r["bare"]])
        rows.append({"name": "4. recovery: ready with every deadline scheduled", "value": ready, "unit": "s",
                     "baseline": f"bare bot {bare_ready:.3f} s", "ratio": ready / bare_ready if bare_ready else None,
                     "target": "<= 2 s", "met": ready <= 2})
        rows.append({"name": "4. recovery: peak RSS", "value": rss, "unit": "MiB",
                     "baseline": f"bare bot {bare_rss:.1f} MiB", "ratio": rss / bare_rss, "target": "<= 150 MiB",
                     "met": rss <= 150})
    if "guilds" in results:
        r = results["guilds"]
        real, bare = median(r["real"]), median(r["bare"])
        rows.append({"name": "6. memory per 1,000 guilds (RSS growth, simcord's model of them included)",
                     "value": real, "unit": "MiB", "baseline": f"bare bot {bare:.1f} MiB",
                     "ratio": real / bare if bare else None, "target": None, "met": None})
    if "shards" in results:
        r = results["shards"]["runs"][0]
        rows.append({"name": "7. two processes, one lock: most lock actions in any 60 s", "value": r["most_per_60s"],
                     "unit": "calls", "baseline": "Chastify's limit 20", "ratio": r["most_per_60s"] / 20,
                     "target": "<= 20", "met": r["most_per_60s"] <= 20})
        rows.append({"name": "7. two processes, one lock: 429s", "value": r["rate_limited"], "unit": "",
                     "baseline": None, "ratio": None, "target": "0", "met": r["rate_limited"] == 0})
    return rows


def _value(row: dict[str, Any]) -> str:
    v = row["value"]
    if row["unit"] in ("ms", "s", "ratio", "calls/ballot"):
        return f"{v:,.3f}" if v < 10 else f"{v:,.1f}"
    if row["unit"] == "MiB":
        return f"{v:,.1f}"
    return _fmt(v)


def report(results: dict[str, Any], *, command: str, seconds: float, runs: int) -> str:
    m = machine()
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}` · {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} · {seconds:.0f} s in all · "
        f"each figure the median of {runs} runs (latency: percentiles over all samples)",
        "",
        "Machine: " + " · ".join(f"{k} {v}" for k, v in m.items()),
        "",
        "| figure | value | unit | baseline (same run) | ratio | target | |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in figures(results):
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else ""
        met = "" if row["met"] is None else _ok(row["met"])
        lines.append(f"| {row['name']} | {_value(row)} | {row['unit']} | {row['baseline'] or ''} | {ratio} | "
                     f"{row['target'] or ''} | {met} |")
    lines += ["", "## Runs", ""]
    if "ingest" in results:
        r = results["ingest"]
        s = r["size"]
        lines.append(f"Ingestion: {s.votes:,} open votes across {s.guilds} guilds, {s.events:,} events "
                     f"({', '.join(f'{k} {v:,}' for k, v in r['script'].kinds.items())}); "
                     f"{r['script'].ballot_changes:,} ballot changes; every run's database checked ballot by "
                     "ballot against the script.")
        lines.append("")
        lines.append("| run | bare events/s | real events/s | ratio | real ballots/s | ceiling rows/s |")
        lines.append("|---|---|---|---|---|---|")
        for i, (b, x, c) in enumerate(zip(r["bare"], r["real"], r["ceiling"], strict=True)):
            lines.append(f"| {i + 1} | {_fmt(b.events_per_s)} | {_fmt(x.events_per_s)} | "
                         f"{x.events_per_s / b.events_per_s:.2f} | {_fmt(x.changes_per_s)} | {_fmt(c)} |")
        lines.append("")
    if "websocket" in results:
        r = results["websocket"]
        s = r["size"]
        lines.append(f"Websocket: the same {s.votes:,} votes, {s.guilds} guilds and {s.events:,} events as ingestion, "
                     "sent as gateway frames (one zlib stream, a sync flush per frame) by a fake Discord in its own "
                     "process to each bot in a fresh process; the clock runs from the first frame written to the "
                     "last event handled (and, for our bot, every ballot committed and checked against the script). "
                     "Staleness: per vote message, from its last reaction frame written to the next edit of it.")
        lines.append("")
        lines.append("| run | bare (our options) events/s | default bare events/s | real events/s | ratio | "
                     "ratio to default | real, edits off events/s | frames written in s | edits | stalest s | "
                     "all final after s |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for i, (b, d, x, q) in enumerate(zip(r["bare"], r["default"], r["real"], r["quiet"], strict=True)):
            edits = sum(len(v) for v in x.edits.values())
            lines.append(f"| {i + 1} | {_fmt(b.events_per_s)} | {_fmt(d.events_per_s)} | {_fmt(x.events_per_s)} | "
                         f"{x.events_per_s / b.events_per_s:.2f} | {x.events_per_s / d.events_per_s:.2f} | "
                         f"{_fmt(q.events_per_s)} | {x.write_seconds:.2f} | {edits:,} | "
                         f"{max(x.staleness(), default=0):.2f} | {x.caught_up():.2f} |")
        lines.append("")
    if "latency" in results:
        s = results["latency"]["size"]
        lines.append(f"Latency: {s.open_votes:,} votes open on {s.locks} locks in {s.guilds} guilds; the stand-in "
                     "in its own process.")
        lines.append("")
        lines.append("| run | store | instant p50 ms | instant p99 ms | deadline p50 ms | deadline p99 ms |")
        lines.append("|---|---|---|---|---|---|")
        for store, key in (("SQLite", "runs"), ("PostgreSQL", "postgres")):
            for i, x in enumerate(results["latency"].get(key, [])):
                lines.append(f"| {i + 1} | {store} | {percentile(x.instant_ms, 50):.2f} | "
                             f"{percentile(x.instant_ms, 99):.2f} | {percentile(x.deadline_ms, 50):.2f} | "
                             f"{percentile(x.deadline_ms, 99):.2f} |")
        lines.append("")
    if "economy" in results:
        s = results["economy"]["size"]
        lines.append(f"API economy: {s.locks} locks in {s.guilds} guilds, {s.boards} boards, a decision vote per "
                     f"lock every 5 minutes, {s.hot_votes} extra votes closing at once on one lock, "
                     f"{s.minutes} simulated minutes.")
        lines.append("")
        lines.append("| run | ballots | votes | Chastify calls | lock actions | reads | most/lock/60 s | 429s | "
                     "outcomes | wall s |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for i, x in enumerate(results["economy"]["runs"]):
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(x.outcomes.items()))
            lines.append(f"| {i + 1} | {x.ballots:,} | {x.votes} | {x.calls} | {x.lock_actions} | {x.reads} | "
                         f"{x.max_per_lock_minute} | {x.rate_limited} | {outcomes} | {x.wall_seconds:.1f} |")
        lines.append("")
    if "recovery" in results:
        r = results["recovery"]
        s = r["size"]
        lines.append(f"Recovery: {s.votes:,} open votes, {s.ballots:,} ballots, {s.links:,} links; each start in a "
                     "fresh process.")
        lines.append("")
        lines.append("| run | bare ready s | bare RSS MiB | real ready s | real RSS MiB |")
        lines.append("|---|---|---|---|---|")
        for i, (b, x) in enumerate(zip(r["bare"], r["real"], strict=True)):
            lines.append(f"| {i + 1} | {b['ready_s']:.3f} | {b['rss_kib'] / 1024:.1f} | {x['ready_s']:.3f} | "
                         f"{x['rss_kib'] / 1024:.1f} |")
        lines.append("")
    if "guilds" in results:
        r = results["guilds"]
        s = r["size"]
        lines.append(f"Memory: {s.guilds:,} guilds of {s.channels} channels and {s.members} members handed to a bot "
                     "in a fresh process; RSS growth from ready with none to ready with them, per 1,000 guilds.")
        lines.append("")
        lines.append("| run | bare MiB / 1,000 guilds | real MiB / 1,000 guilds |")
        lines.append("|---|---|---|")
        for i, (b, x) in enumerate(zip(r["bare"], r["real"], strict=True)):
            lines.append(f"| {i + 1} | {b:.1f} | {x:.1f} |")
        lines.append("")
    if "shards" in results:
        r = results["shards"]["runs"][0]
        s = results["shards"]["size"]
        lines.append(f"Two processes: shards 0 and 1 of 2 on one PostgreSQL, one lock linked in a guild of each (two "
                     f"tokens); {s.actions} direct actions fired at once in each; one run (it takes real minutes): "
                     f"{r['lock_actions']} lock actions in all, the queue drained in {r['drained_s']:.0f} s.")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("full", "tiny"), default="full")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--out", type=Path, default=None,
                        help="report file (default bench/RESULTS.md for the full size, none for tiny)")
    args = parser.parse_args(argv)
    out = args.out or (Path(__file__).parent / "RESULTS.md" if args.size == "full" else None)
    t0 = time.perf_counter()
    results = run_all(args.size, args.runs, args.only)
    seconds = time.perf_counter() - t0
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(results, command=command.strip(), seconds=seconds, runs=args.runs)
    print(text)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
