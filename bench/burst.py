"""Burst capacity (issue 12, item 5): N chats started within one second, and many streams held.

Burst: N POST /ask/stream/ calls (each its own session and new conversation) start evenly spread
over `--spread` seconds (default: 300 within 1 s) against the fake LLM answering 300 tokens at
10 tokens/s. Each stream's time to first token is counted from its scheduled start (a client that
started late counts against the app); "added" delays subtract the fake's own pace (100 ms before
the first token and between tokens).

Hold: `--hold M` opens M streams (started over `--hold-spread` seconds) against a fake answering
slowly (1 token/s), waits until every one has had its first token, reads the app's memory (RSS of
the gunicorn master and workers, from /proc) and reports it per stream against the idle app.

    .venv/bin/python bench/burst.py [--db postgresql] [--n 300] [--tokens 300] [--hold 1000]
    .venv/bin/python bench/burst.py --quick      # 100 chats of 30 tokens, 200 held
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
import sse_client

GOALS = {"p99_ttft_s": 3.0, "p99_added_ms": 100.0, "errors": 0}
BURST_DELAY_MS = 100.0  # the fake's pace in the burst: 10 tokens a second
HOLD_DELAY_MS = 1000.0  # in the hold: 1 token a second, so streams stay open


def seed(count: int) -> list[str]:
    common.bench_user()
    return common.make_sessions(count)


def app_rss_mb(stack: common.Stack) -> float:
    """Resident memory of the app's processes (gunicorn master and workers), in MB."""
    import psutil

    total = 0
    for pid in stack.app_pids():
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


async def _scheduled(base_url: str, request: bytes, at: float, timeout: float) -> dict[str, Any]:
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    result = await sse_client.stream_chat(base_url, request, timeout)
    result["scheduled"] = at
    return result


def _requests(stack: common.Stack, keys: list[str], label: str) -> list[bytes]:
    """Every stream's request, built before the clock starts."""
    return [
        sse_client.build_request(stack.base_url, key, f"{label} question {i}?")
        for i, key in enumerate(keys)
    ]


async def burst(stack: common.Stack, keys: list[str], spread: float, tokens: int) -> dict:
    requests = _requests(stack, keys, "Burst")
    before, client_before = stack.cpu_seconds(), time.process_time()
    start = time.perf_counter() + 0.2
    step = spread / len(keys)
    timeout = 60 + tokens * BURST_DELAY_MS / 1000 * 3
    done = await asyncio.gather(
        *(
            _scheduled(stack.base_url, request, start + i * step, timeout)
            for i, request in enumerate(requests)
        )
    )
    wall = time.perf_counter() - start
    after = stack.cpu_seconds()
    return {
        **summarise(done, tokens, BURST_DELAY_MS),
        "wall_s": wall,
        "app_cpu_s": after["app"] - before["app"],
        "fake_cpu_s": after["fake"] - before["fake"],
        "client_cpu_s": time.process_time() - client_before,
    }


def summarise(done: list[dict], tokens: int, delay_ms: float) -> dict:
    delay = delay_ms / 1000
    tally = common.tally_streams(done, tokens, delay, since="scheduled")
    ttft, meta, gaps, errors = tally.ttft, tally.meta, tally.gaps_ms, tally.errors
    completed = tally.completed
    return {
        "streams": len(done),
        "completed": completed,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_meta_s": common.pct(meta, 50),
        "p99_meta_s": common.pct(meta, 99),
        "p50_ttft_s": common.pct(ttft, 50),
        "p99_ttft_s": common.pct(ttft, 99),
        "max_ttft_s": max(ttft) if ttft else None,
        "p99_added_ttft_ms": common.pct([(t - delay) * 1000 for t in ttft], 99),
        "p50_added_ms": common.pct(gaps, 50),
        "p99_added_ms": common.pct(gaps, 99),
        "gaps": len(gaps),
    }


async def hold(stack: common.Stack, keys: list[str], spread: float, tokens: int) -> dict:
    """Open len(keys) streams, wait for each one's first token, read the app's memory."""
    requests = _requests(stack, keys, "Held")
    idle = app_rss_mb(stack)
    peak = idle
    start = time.perf_counter() + 0.2
    step = spread / len(keys)
    timeout = spread + tokens * HOLD_DELAY_MS / 1000 * 3 + 60
    tasks = [
        asyncio.create_task(_scheduled(stack.base_url, request, start + i * step, timeout))
        for i, request in enumerate(requests)
    ]
    waiting = asyncio.gather(*tasks)
    # Sample while the streams open; after the last start, every stream is open (a stream that
    # ended early shows as an error or an incomplete answer in the summary).
    while not waiting.done():
        await asyncio.sleep(0.5)
        peak = max(peak, app_rss_mb(stack))
        if time.perf_counter() > start + spread + 3 * HOLD_DELAY_MS / 1000:
            break
    held = app_rss_mb(stack)
    peak = max(peak, held)
    done = await waiting
    return {
        **summarise(done, tokens, HOLD_DELAY_MS),
        "idle_rss_mb": idle,
        "held_rss_mb": held,
        "peak_rss_mb": peak,
        "kb_per_stream": (held - idle) * 1000 / len(keys),
    }


def run(db: str, n: int, spread: float, tokens: int, hold_n: int, hold_spread: float) -> dict:
    results: dict[str, Any] = {"goals": GOALS, "db": db, "n": n, "spread_s": spread}
    results["tokens"] = tokens
    with common.Stack(db, delay_ms=BURST_DELAY_MS, tokens=tokens) as stack:
        keys = stack.django(seed, count=n + hold_n + 4)
        common.run_async(burst(stack, keys[-4:], 0.1, tokens), timeout=120)  # warm-up
        timeout = 60 + tokens * BURST_DELAY_MS / 1000 * 3
        row = common.run_async(burst(stack, keys[:n], spread, tokens), timeout=timeout)
        results["burst"] = row
        print(
            common.table(
                f"Burst ({db}): {n} chats started within {spread:g} s, {tokens} tokens at "
                f"{1000 / BURST_DELAY_MS:g} tokens/s (goals: p99 TTFT <= 3 s, "
                "p99 added inter-token delay <= 100 ms, 0 errors)",
                [
                    "completed",
                    "errors",
                    "TTFT p50 s",
                    "TTFT p99 s",
                    "TTFT max s",
                    "added p50 ms",
                    "added p99 ms",
                    "app CPU s",
                    "fake CPU s",
                    "client CPU s",
                    "wall s",
                ],
                [
                    [
                        f"{row['completed']}/{n}",
                        row["errors"],
                        common.fmt(row["p50_ttft_s"], 2),
                        common.fmt(row["p99_ttft_s"], 2),
                        common.fmt(row["max_ttft_s"], 2),
                        row["p50_added_ms"],
                        row["p99_added_ms"],
                        row["app_cpu_s"],
                        row["fake_cpu_s"],
                        row["client_cpu_s"],
                        row["wall_s"],
                    ]
                ],
            )
        )
        if row["error_kinds"]:
            print("  errors:", row["error_kinds"])
        if hold_n:
            stack.configure_fake(delay=HOLD_DELAY_MS / 1000)
            hold_tokens = 60
            stack.configure_fake(tokens=hold_tokens)
            held = common.run_async(
                hold(stack, keys[n : n + hold_n], hold_spread, hold_tokens),
                timeout=hold_spread + hold_tokens * HOLD_DELAY_MS / 1000 * 3 + 120,
            )
            results["hold"] = held
            print(
                common.table(
                    f"Hold ({db}): {hold_n} streams open at once ({hold_tokens} tokens at "
                    f"{1000 / HOLD_DELAY_MS:g} token/s), started over {hold_spread:g} s",
                    [
                        "completed",
                        "errors",
                        "idle RSS MB",
                        "held RSS MB",
                        "KB per stream",
                        "TTFT p99 s",
                        "added p99 ms",
                    ],
                    [
                        [
                            f"{held['completed']}/{hold_n}",
                            held["errors"],
                            held["idle_rss_mb"],
                            held["held_rss_mb"],
                            held["kb_per_stream"],
                            common.fmt(held["p99_ttft_s"], 2),
                            held["p99_added_ms"],
                        ]
                    ],
                )
            )
            if held["error_kinds"]:
                print("  errors:", held["error_kinds"])
    print("saved", common.save("burst", results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--spread", type=float, default=1.0, help="seconds the starts spread over")
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--hold", type=int, default=1000, help="streams held open (0: none)")
    parser.add_argument("--hold-spread", type=float, default=10.0)
    args = parser.parse_args()
    if args.quick:
        args.n, args.tokens, args.hold = 100, 30, 200
    run(args.db, args.n, args.spread, args.tokens, args.hold, args.hold_spread)
