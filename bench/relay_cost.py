"""Benchmark 2, relay cost: app CPU time per relayed token while 100 answers stream at once.

CPU is read from the gunicorn master and workers (psutil, i.e. /proc/<pid>/stat) before and
after 100 concurrent POST /ask/stream/ calls and divided by the tokens the clients received.
A second round with short answers separates the per-answer cost (form, session, the turn's
writes) from the per-token relay cost (the marginal figure).

    .venv/bin/python bench/relay_cost.py [--quick]
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

STREAMS = 100
GOAL_US = 150.0
DELAY_MS = 20.0


def seed(count: int) -> list[str]:
    common.bench_user()
    return common.make_sessions(count)


async def streams(stack: common.Stack, keys: list[str], label: str) -> list[dict[str, Any]]:
    transport = common.shared_transport(len(keys) + 10)
    try:
        clients = [common.client_for(stack.base_url, key, transport, 120) for key in keys]
        return await asyncio.gather(
            *(common.stream_chat(c, f"Relay question {label} {i}?") for i, c in enumerate(clients))
        )
    finally:
        await transport.aclose()


def measured_round(stack: common.Stack, keys: list[str], tokens: int) -> dict[str, Any]:
    stack.configure_fake(tokens=tokens)
    before, client_before, wall = stack.cpu_seconds(), time.process_time(), time.perf_counter()
    done = common.run_async(streams(stack, keys, str(tokens)), timeout=180)
    after, client_after = stack.cpu_seconds(), time.process_time()
    delivered = sum(n for s in done for _, n in s["deltas"])
    app_cpu = after["app"] - before["app"]
    return {
        "streams": len(keys),
        "tokens_per_answer": tokens,
        "errors": sum(s["error"] is not None for s in done),
        "tokens_delivered": delivered,
        "delta_events": sum(len(s["deltas"]) for s in done),
        "wall_s": time.perf_counter() - wall,
        "app_cpu_s": app_cpu,
        "fake_cpu_s": after["fake"] - before["fake"],
        "client_cpu_s": client_after - client_before,
        "app_us_per_token": app_cpu / delivered * 1e6 if delivered else None,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Long answers, then short ones; prints the table, saves bench/results/relay_cost.json."""
    long_answer, short_answer = (100, 10) if quick else (300, 20)
    with common.Stack("sqlite", delay_ms=DELAY_MS, tokens=long_answer) as stack:
        keys = stack.django(seed, count=2 * STREAMS + 4)
        common.run_async(streams(stack, keys[-4:], "warm-up"), timeout=60)
        rounds = [
            measured_round(stack, keys[:STREAMS], long_answer),
            measured_round(stack, keys[STREAMS : 2 * STREAMS], short_answer),
        ]
    big, small = rounds
    extra_tokens = big["tokens_delivered"] - small["tokens_delivered"]
    marginal = (
        (big["app_cpu_s"] - small["app_cpu_s"]) / extra_tokens * 1e6 if extra_tokens else None
    )
    per_answer_ms = None
    if marginal is not None:
        per_answer_ms = (
            (small["app_cpu_s"] - small["tokens_delivered"] * marginal / 1e6) / STREAMS * 1000
        )
    results = {
        "goal_us_per_token": GOAL_US,
        "delay_ms": DELAY_MS,
        "rounds": rounds,
        "marginal_us_per_token": marginal,
        "fixed_ms_per_answer": per_answer_ms,
    }
    print(
        common.table(
            f"Relay cost: {STREAMS} concurrent streams, fake LLM token every {DELAY_MS:g} ms "
            f"(goal: <= {GOAL_US:g} us app CPU per token)",
            [
                "tokens/answer",
                "errors",
                "tokens",
                "delta events",
                "wall s",
                "app CPU s",
                "app us/token",
                "fake LLM CPU s",
                "client CPU s",
            ],
            [
                [
                    r["tokens_per_answer"],
                    r["errors"],
                    r["tokens_delivered"],
                    r["delta_events"],
                    r["wall_s"],
                    r["app_cpu_s"],
                    r["app_us_per_token"],
                    r["fake_cpu_s"],
                    r["client_cpu_s"],
                ]
                for r in rounds
            ],
        )
    )
    print(
        f"marginal relay cost: {common.fmt(marginal)} us per token; "
        f"fixed cost per answer: {common.fmt(per_answer_ms, 2)} ms CPU"
    )
    print("saved", common.save("relay_cost", results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
