"""CPU cost of relaying one streamed chunk from an OpenAI-compatible endpoint.

Starts the fake OpenAI server in a subprocess (its CPU is not counted) and streams N-token
replies, paced (one chunk per read, as real tokens arrive) and in bulk, through (1) the app's
path `llm_metadata.llm.stream_chat` (its own SSE parser + orjson), (2) httpx-sse + orjson doing
the same work and (3) bare httpx reading the bytes; prints the client's CPU µs per chunk (best
of the runs). Exits 1 if (1) costs more than (2) in either run.

    .venv/bin/python bench/llm_relay.py [--tokens 1000] [--runs 3] [--delay-ms 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_server(tokens: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "tests.fakes.server", "--kind", "openai"]
    command += ["--tokens", str(tokens)]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = server.stdout.readline().split()
    if len(line) != 2 or line[0] != "READY":
        server.kill()
        raise SystemExit("the fake server did not start")
    return server, line[1]


def setup_django(url: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="main.settings", DEBUG="1", API_URL=url, LOG_LEVEL="warning"
    )
    import django

    django.setup()


async def measure(consume: Callable[[], Awaitable[int]], runs: int) -> float:
    """Best CPU µs per chunk over `runs` streams (the first, warming up, is not counted)."""
    await consume()
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        chunks = await consume()
        best = min(best, (time.process_time() - start) / chunks * 1e6)
    return best


async def main(tokens: int, runs: int, delay_ms: float) -> int:
    import orjson
    from httpx_sse import aconnect_sse

    from llm_metadata.catalog import endpoint
    from llm_metadata.llm import ChatRequest, stream_chat
    from llm_metadata.llm.openai import request_body
    from llm_metadata.llm.transport import aclose_clients, get_client

    request = ChatRequest(
        model="fake-small",
        messages=[{"role": "user", "content": "Tell me a long story."}],
        temperature=0.7,
        top_k=40,
        top_p=0.9,
        max_tokens=tokens,
        context_length=8192,
    )
    target = endpoint()
    body = request_body(request)
    client = get_client(target)

    async def ours() -> int:
        chunks = 0
        stream = stream_chat(target, request)
        async for _ in stream:
            chunks += 1
        assert (await stream.aclose()).status == "ok"
        return chunks

    async def with_httpx_sse() -> int:
        parts: list[str] = []
        headers = {"Content-Type": "application/json"}
        async with aconnect_sse(
            client, "POST", "/chat/completions", content=body, headers=headers
        ) as source:
            async for sse in source.aiter_sse():
                if sse.data == "[DONE]":
                    break
                data = orjson.loads(sse.data)
                choices = data.get("choices")
                if choices:
                    content = choices[0]["delta"].get("content")
                    if content:
                        parts.append(content)
        return len(parts)

    async def bytes_only() -> int:
        async with client.stream("POST", "/chat/completions", content=body) as response:
            async for _ in response.aiter_bytes():
                pass
        return tokens

    status = 0
    for label, delay in (
        (f"paced, {delay_ms:g} ms apart: one chunk per read, as tokens arrive", delay_ms / 1000),
        ("bulk: as fast as the server writes, many chunks per read", 0.0),
    ):
        control = os.environ["API_URL"].removesuffix("/v1") + "/_fake/config"
        await client.post(control, content=orjson.dumps({"delay": delay}))
        results = {
            "app path (own SSE parser + orjson)": await measure(ours, runs),
            "httpx-sse + orjson (baseline)": await measure(with_httpx_sse, runs),
            "httpx bytes, no parsing (floor)": await measure(bytes_only, runs),
        }
        print(f"CPU per relayed chunk ({label}; {tokens} chunks, best of {runs}):")
        for name, micros in results.items():
            print(f"  {name:42s} {micros:7.1f} µs")
        ours_us, baseline_us, floor_us = results.values()
        print(
            f"  parsing above the floor: app {ours_us - floor_us:.1f} µs, "
            f"httpx-sse {baseline_us - floor_us:.1f} µs"
        )
        status |= ours_us > baseline_us
    await aclose_clients()
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=1.0,
        help="between chunks in the paced run, so that each arrives in a read of its own",
    )
    args = parser.parse_args()
    server, url = start_server(args.tokens)
    try:
        setup_django(url)
        status = asyncio.run(main(args.tokens, args.runs, args.delay_ms))
    finally:
        server.terminate()
        server.wait(timeout=10)
    sys.exit(status)
