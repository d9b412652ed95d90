"""Benchmark: the recording gateway's cost (issue 13).

1. Added latency: the same non-streamed chat completion, one at a time over a kept-alive
   connection, sent straight to the fake upstream and through `POST /v1/chat/completions` (bearer
   key, recorded in the database); the difference of the medians (goal: <= 3 ms p50). The
   `Server-Timing: gateway;dur=` header (the gateway's own time, the upstream's excluded) is
   reported too.
2. Relay cost: app CPU (gunicorn master and workers) per relayed streamed token, while 50
   streams run at once; long and short answers separate the per-call cost from the per-token
   one (goal: <= 100 us per token).

    .venv/bin/python bench/gateway.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

LATENCY_GOAL_MS = 3.0
TOKEN_GOAL_US = 100.0
STREAMS = 50
DELAY_MS = 20.0
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def make_key() -> str:
    """Inside the Django child: a key for the bench user (printed once, to this bench only)."""
    from llm_metadata.api_keys import create_key

    return create_key(owner=common.bench_user(), name="bench")[1]


def _timing(response: httpx.Response, wanted: str) -> float | None:
    """One `Server-Timing` figure in ms: `gateway` (the view's own), `app`, `db` (BENCH_TIMING)."""
    for part in response.headers.get("server-timing", "").split(","):
        name, _, rest = part.strip().partition(";dur=")
        if name == wanted:
            return float(rest.split(";")[0])
    return None


def latency(stack: common.Stack, key: str, calls: int) -> dict[str, Any]:
    body = {"model": common.MODEL, "messages": QUESTION, "stream": False, "max_tokens": 20}
    direct_url = stack.env["API_URL"] + "/chat/completions"
    gateway_url = stack.base_url + "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {key}"}
    timings: dict[str, list[float]] = {
        "direct": [],
        "gateway": [],
        "own": [],
        "db": [],
        "check": [],
        "record": [],
    }
    with httpx.Client(timeout=30) as client:
        for _ in range(10):  # warm-up: connections, the model list, the first queries
            client.post(direct_url, json=body).raise_for_status()
            client.post(gateway_url, json=body, headers=headers).raise_for_status()
        for _ in range(calls):  # interleaved, so that load on the machine hits both alike
            started = time.perf_counter()
            client.post(direct_url, json=body).raise_for_status()
            timings["direct"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            response = client.post(gateway_url, json=body, headers=headers)
            response.raise_for_status()
            timings["gateway"].append((time.perf_counter() - started) * 1000)
            figures = (
                ("own", "gateway"),
                ("db", "db"),
                ("check", "gateway-check"),
                ("record", "gateway-record"),
            )
            for name, figure in figures:
                value = _timing(response, figure)
                if value is not None:
                    timings[name].append(value)
    direct, through = common.pct(timings["direct"], 50), common.pct(timings["gateway"], 50)
    return {
        "calls": calls,
        "direct_p50_ms": direct,
        "direct_p90_ms": common.pct(timings["direct"], 90),
        "gateway_p50_ms": through,
        "gateway_p90_ms": common.pct(timings["gateway"], 90),
        "added_p50_ms": through - direct,
        "server_timing_gateway_p50_ms": common.pct(timings["own"], 50),
        "server_timing_db_p50_ms": common.pct(timings["db"], 50),
        "server_timing_check_p50_ms": common.pct(timings["check"], 50),
        "server_timing_record_p50_ms": common.pct(timings["record"], 50),
    }


async def _stream(client: httpx.AsyncClient, key: str) -> int:
    """One streamed call through the gateway; the content chunks received."""
    body = {"model": common.MODEL, "messages": QUESTION, "stream": True}
    received = 0
    async with client.stream(
        "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: {") and '"content":"' in line.replace(" ", ""):
                received += 1
    return received


async def _streams(stack: common.Stack, key: str) -> list[int]:
    transport = common.shared_transport(STREAMS + 10)
    async with httpx.AsyncClient(base_url=stack.base_url, transport=transport, timeout=120) as c:
        return await asyncio.gather(*(_stream(c, key) for _ in range(STREAMS)))


def relay_round(stack: common.Stack, key: str, tokens: int) -> dict[str, Any]:
    stack.configure_fake(tokens=tokens, delay=DELAY_MS / 1000)
    before, wall = stack.cpu_seconds(), time.perf_counter()
    received = common.run_async(_streams(stack, key), timeout=300)
    after = stack.cpu_seconds()
    delivered = sum(received)
    app_cpu = after["app"] - before["app"]
    return {
        "tokens_per_answer": tokens,
        "tokens_delivered": delivered,
        "wall_s": time.perf_counter() - wall,
        "app_cpu_s": app_cpu,
        "app_us_per_token": app_cpu / delivered * 1e6 if delivered else None,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Prints both tables; saves bench/results/gateway.json."""
    calls = 100 if quick else 400
    long_answer, short_answer = (100, 10) if quick else (300, 20)
    with common.Stack("sqlite", delay_ms=0, tokens=20) as stack:
        key = stack.django(make_key)
        lat = latency(stack, key, calls)
        common.run_async(_streams(stack, key), timeout=120)  # warm-up
        rounds = [relay_round(stack, key, long_answer), relay_round(stack, key, short_answer)]
    big, small = rounds
    extra = big["tokens_delivered"] - small["tokens_delivered"]
    marginal = (big["app_cpu_s"] - small["app_cpu_s"]) / extra * 1e6 if extra else None
    results = {"latency": lat, "relay_rounds": rounds, "marginal_us_per_token": marginal}
    print(
        common.table(
            f"Gateway added latency: {calls} non-streamed calls, one at a time "
            f"(goal: <= {LATENCY_GOAL_MS:g} ms added at p50)",
            ["path", "p50 ms", "p90 ms"],
            [
                ["fake upstream directly", lat["direct_p50_ms"], lat["direct_p90_ms"]],
                ["through /v1/ (recorded)", lat["gateway_p50_ms"], lat["gateway_p90_ms"]],
            ],
        )
    )
    print(
        f"added latency p50: {common.fmt(lat['added_p50_ms'], 2)} ms; Server-Timing "
        f"gateway p50: {common.fmt(lat['server_timing_gateway_p50_ms'], 2)} ms, of which SQL "
        f"{common.fmt(lat['server_timing_db_p50_ms'], 2)} ms; its steps: checking the call "
        f"{common.fmt(lat['server_timing_check_p50_ms'], 2)} ms, recording it "
        f"{common.fmt(lat['server_timing_record_p50_ms'], 2)} ms"
    )
    print(
        common.table(
            f"Gateway relay cost: {STREAMS} concurrent streams, a token every {DELAY_MS:g} ms "
            f"(goal: <= {TOKEN_GOAL_US:g} us app CPU per token)",
            ["tokens/answer", "tokens", "wall s", "app CPU s", "app us/token"],
            [
                [
                    r["tokens_per_answer"],
                    r["tokens_delivered"],
                    r["wall_s"],
                    r["app_cpu_s"],
                    r["app_us_per_token"],
                ]
                for r in rounds
            ],
        )
    )
    print(f"marginal relay cost: {common.fmt(marginal)} us per token")
    print("saved", common.save("gateway", results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
