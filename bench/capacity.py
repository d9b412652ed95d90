"""Benchmark 3, capacity: N simultaneous streaming chats, 100 tokens at 10 tokens/s each.

All N POST /ask/stream/ calls start together (each its own session and conversation); an
observer client meanwhile GETs /conversation/ four times a second. "Added" delays are what the
app (and the shared machine) add to the fake LLM's own pace: the gap between two delta events
minus the 100 ms between tokens, and the time to the first delta minus the fake's 100 ms.

    .venv/bin/python bench/capacity.py [--quick] [--n 300 ...] [--db postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

LEVELS = (50, 100, 200, 300, 500)
TOKENS = 100
DELAY_MS = 100.0
GOALS = {"streams": 300, "p99_added_ms": 100.0, "page_p50_ms": 200.0}


def seed(count: int) -> list[str]:
    common.bench_user()
    return common.make_sessions(count)


async def observe(client: Any, stop: asyncio.Event, samples: list[dict[str, Any]]) -> None:
    await asyncio.sleep(0.5)  # let the burst of stream starts land first
    while not stop.is_set():
        try:
            samples.append(await common.timed_get(client, "/conversation/"))
        except Exception as exc:  # a failed page is a figure, not a crash of the benchmark
            samples.append({"client_ms": None, "status": type(exc).__name__})
        await asyncio.sleep(0.25)


async def level(stack: common.Stack, keys: list[str], observer_key: str, tokens: int) -> dict:
    transport = common.shared_transport(len(keys) + 10)
    observer_transport = common.shared_transport(4)  # its own connections, like another user
    stop, samples = asyncio.Event(), []
    try:
        clients = [common.client_for(stack.base_url, key, transport, 120) for key in keys]
        observer = common.client_for(stack.base_url, observer_key, observer_transport, 30)
        watcher = asyncio.create_task(observe(observer, stop, samples))
        before = stack.cpu_seconds()
        started = time.perf_counter()
        done = await asyncio.gather(
            *(common.stream_chat(c, f"Capacity question {i}?") for i, c in enumerate(clients))
        )
        wall = time.perf_counter() - started
        after = stack.cpu_seconds()
        stop.set()
        await watcher
    finally:
        await transport.aclose()
        await observer_transport.aclose()
    return summarise(done, samples, tokens, wall, after["app"] - before["app"])


def summarise(done: list[dict], samples: list[dict], tokens: int, wall: float, cpu: float) -> dict:
    delay = DELAY_MS / 1000
    tally = common.tally_streams(done, tokens, delay, since="start")
    ttft = [(t - delay) * 1000 for t in tally.ttft]
    gaps, errors, completed = tally.gaps_ms, tally.errors, tally.completed
    pages = [s["client_ms"] for s in samples if s.get("status") == 200]
    return {
        "streams": len(done),
        "completed": completed,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_added_ms": common.pct(gaps, 50),
        "p99_added_ms": common.pct(gaps, 99),
        "p99_added_ttft_ms": common.pct(ttft, 99),
        "page_p50_ms": common.pct(pages, 50),
        "page_samples": len(samples),
        "page_failures": len(samples) - len(pages),
        "wall_s": wall,
        "app_cpu_s": cpu,
    }


def run(quick: bool = False, levels: list[int] | None = None, db: str = "sqlite") -> dict:
    """Each level in turn on one running stack; prints the table, saves results/capacity.json."""
    levels = levels or ([50, 100] if quick else list(LEVELS))
    tokens = 30 if quick else TOKENS
    results: dict[str, Any] = {"goals": GOALS, "tokens": tokens, "delay_ms": DELAY_MS, "db": db}
    results["levels"] = []
    with common.Stack(db, delay_ms=DELAY_MS, tokens=tokens) as stack:
        keys = stack.django(seed, count=sum(levels) + 5)
        common.run_async(level(stack, keys[-4:], keys[-5], tokens), timeout=60)  # warm-up
        offset = 0
        for n in levels:
            batch, offset = keys[offset : offset + n], offset + n
            row = common.run_async(level(stack, batch, keys[-5], tokens), timeout=120)
            results["levels"].append({"n": n, **row})
            print(f"  N={n}: {row['completed']}/{n} completed, {row['errors']} errors", flush=True)
    print(
        common.table(
            f"Capacity ({db}): N simultaneous streams of {tokens} tokens at "
            f"{1000 / DELAY_MS:g} tokens/s (goal: 300 streams, 0 errors, p99 added <= 100 ms, "
            "/conversation/ p50 <= 200 ms meanwhile)",
            [
                "N",
                "completed",
                "errors",
                "p50 added ms",
                "p99 added ms",
                "p99 added TTFT ms",
                "/conversation/ p50 ms",
                "wall s",
                "app CPU s",
            ],
            [
                [
                    r["n"],
                    r["completed"],
                    r["errors"],
                    r["p50_added_ms"],
                    r["p99_added_ms"],
                    r["p99_added_ttft_ms"],
                    r["page_p50_ms"],
                    r["wall_s"],
                    r["app_cpu_s"],
                ]
                for r in results["levels"]
            ],
        )
    )
    for row in results["levels"]:
        if row["error_kinds"]:
            print(f"  N={row['n']} errors: {row['error_kinds']}")
    print("saved", common.save("capacity", results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, action="append", help="levels (default 50..500)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    run(args.quick, args.n, args.db)
