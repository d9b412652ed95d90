"""What one chat turn costs on the several-servers setup (PostgreSQL, Redis, S3): the figures
behind docs/scaling.md.

.venv/bin/python bench/scaling_costs.py [--turns 40] [--streams 200]

1. In this process (Django's ASGI handler, the fake LLM on 127.0.0.1, moto's S3 server): SQL
   queries, cache (Redis) commands and storage (S3) calls per streamed turn, per turn with an
   upload, and per download, counted where Django, redis-py and boto3 send them.
2. The app under gunicorn with one worker (bench/common.Stack, same services): CPU per turn with
   a 20-token answer and with a 300-token one (the difference gives CPU per token), from the
   worker's CPU time; memory per open stream, from the worker's RSS with `--streams` answers
   streaming at once against its RSS idle.

Databases: h_scale_costs (in-process part) and h_scale_costs_app (the server's) on the local
PostgreSQL; Redis keys under a prefix of the run's own, removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import common  # noqa: E402

PG = "postgres://postgres@127.0.0.1:5432/"
REDIS_URL = "redis://127.0.0.1:6379/0"
CONCURRENT = 20
TOKEN_GAP = 0.04  # seconds between the fake LLM's tokens


class Counts:
    """SQL statements, Redis commands and S3 calls, counted from any thread of this process."""

    def __init__(self) -> None:
        self.sql = self.redis = self.s3 = 0

    def install(self) -> None:
        import redis
        from django.db.backends import utils

        counts = self
        execute, executemany = utils.CursorWrapper.execute, utils.CursorWrapper.executemany

        def counted_execute(cursor, sql, params=None):  # type: ignore[no-untyped-def]
            counts.sql += 1
            return execute(cursor, sql, params)

        def counted_executemany(cursor, sql, param_list):  # type: ignore[no-untyped-def]
            counts.sql += 1
            return executemany(cursor, sql, param_list)

        utils.CursorWrapper.execute = counted_execute
        utils.CursorWrapper.executemany = counted_executemany
        command = redis.Redis.execute_command

        def counted_command(client, *args, **kwargs):  # type: ignore[no-untyped-def]
            counts.redis += 1
            return command(client, *args, **kwargs)

        redis.Redis.execute_command = counted_command
        from botocore.client import BaseClient

        call = BaseClient._make_api_call

        def counted_call(client, operation, params):  # type: ignore[no-untyped-def]
            counts.s3 += 1
            return call(client, operation, params)

        BaseClient._make_api_call = counted_call

    def snapshot(self) -> tuple[int, int, int]:
        return self.sql, self.redis, self.s3


def _drop_create(name: str) -> None:
    import psycopg

    with psycopg.connect(PG + "postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def in_process(turns: int, s3_env: dict[str, str], prefix: str) -> dict:
    """Queries, cache commands and storage calls of streamed turns, through the ASGI handler."""
    os.environ.update(
        DATABASE_URL=PG + "h_scale_costs",
        REDIS_URL=REDIS_URL,
        CACHE_KEY_PREFIX=prefix,
        DEBUG="0",
        SECRET_KEY="bench-only-" + "k" * 40,
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        ALLOWED_HOSTS="testserver,127.0.0.1",
        LOG_LEVEL="warning",
        **s3_env,
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
    _drop_create("h_scale_costs")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import AsyncClient

    from tests.fakes.server import FakeServer
    from tests.fakes.state import FakeState

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)
    fake = FakeServer(FakeState(kind="openai", tokens=20)).start()
    settings.API_URL, settings.API_KIND, settings.API_MODELS = fake.url, "openai", []
    counts = Counts()
    counts.install()

    from django.contrib.auth.models import User

    user = User.objects.create_user("costs", password="x" * 12)

    async def measure() -> dict:
        client = AsyncClient()
        await client.aforce_login(user)
        form = {**common.FORM, "model": "fake-small", "question": "Why is the sky blue?"}

        async def turn(upload: bytes | None = None) -> tuple[int, int, int]:
            data = dict(form)
            if upload is not None:
                from django.core.files.uploadedfile import SimpleUploadedFile

                data["file_upload"] = SimpleUploadedFile("notes.txt", upload)
            before = counts.snapshot()
            response = await client.post("/ask/stream/", data)
            async for _ in response.streaming_content:
                pass  # the answer is stored before its last event
            return tuple(b - a for a, b in zip(before, counts.snapshot(), strict=True))

        await turn()  # the model list into the cache, the conversation opened
        plain = [await turn() for _ in range(turns)]
        uploads = [await turn(b"some notes\n" * 100) for _ in range(5)]
        from llm_metadata.models import Message

        asked = await Message.objects.filter(role="user").exclude(attachment="").afirst()
        before = counts.snapshot()
        download = await client.get(f"/attachment/{asked.pk}/")
        assert download.status_code == 200
        assert b"".join(download.streaming_content).startswith(b"some notes")  # a file's chunks
        downloads = tuple(b - a for a, b in zip(before, counts.snapshot(), strict=True))
        return {"turn": plain, "upload_turn": uploads, "download": downloads}

    try:
        found = asyncio.run(measure())
    finally:
        fake.stop()
    median = {
        name: [statistics.median(turn[i] for turn in found[name]) for i in range(3)]
        for name in ("turn", "upload_turn")
    }
    result = {
        "per_turn": dict(zip(("sql", "redis", "s3"), median["turn"], strict=True)),
        "per_upload_turn": dict(zip(("sql", "redis", "s3"), median["upload_turn"], strict=True)),
        "per_download": dict(zip(("sql", "redis", "s3"), found["download"], strict=True)),
    }
    for name, figures in result.items():
        print(
            f"  {name:<16} {figures['sql']:>4} SQL  {figures['redis']:>3} Redis  "
            f"{figures['s3']:>3} S3 calls"
        )
    return result


async def _turns(stack: common.Stack, sessions: list[str], count: int) -> list[dict]:
    """`count` turns, CONCURRENT at a time, each in a session (and conversation) of its own."""
    transport = common.shared_transport(CONCURRENT + 10)
    clients = [common.client_for(stack.base_url, s, transport) for s in sessions[:CONCURRENT]]
    results: list[dict] = []
    for first in range(0, count, CONCURRENT):
        batch = range(first, min(count, first + CONCURRENT))
        results += await asyncio.gather(
            *(common.stream_chat(clients[i - first], f"Question {i}") for i in batch)
        )
    for client in clients:
        await client.aclose()
    return results


def cpu_per_turn(stack: common.Stack, sessions: list[str], turns: int, tokens: int) -> float:
    """The worker's CPU per turn, tokens arriving one by one (TOKEN_GAP apart, past the
    relay's 30 ms merging window: every token is a read and an event, as from a real model)."""
    stack.configure_fake(tokens=tokens, delay=TOKEN_GAP)
    common.run_async(_turns(stack, sessions, 3), 300)  # warm
    before = stack.cpu_seconds()["app"]
    results = common.run_async(_turns(stack, sessions, turns), 900)
    used = stack.cpu_seconds()["app"] - before
    errors = [r["error"] for r in results if r["error"]]
    assert not errors, errors[:3]
    return used / turns


async def _hold_streams(stack: common.Stack, sessions: list[str], count: int) -> float:
    import psutil

    transport = common.shared_transport(count + 10)
    clients = [common.client_for(stack.base_url, s, transport) for s in sessions[:count]]
    worker = psutil.Process(stack.app_pids()[-1])
    idle = worker.memory_info().rss
    tasks = [asyncio.create_task(common.stream_chat(c, f"Long {i}")) for i, c in enumerate(clients)]
    peak = idle
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(t.done() for t in tasks):
        peak = max(peak, worker.memory_info().rss)
        await asyncio.sleep(0.5)
    results = await asyncio.gather(*tasks)
    for c in clients:
        await c.aclose()
    errors = [r["error"] for r in results if r["error"]]
    assert not errors, errors[:3]
    return (peak - idle) / count


def on_server(turns: int, streams: int, s3_env: dict[str, str], prefix: str) -> dict:
    common.PG_DATABASE = "h_scale_costs_app"
    env = {"REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix + "-app", **s3_env}
    with common.Stack("postgresql", workers=1, tokens=20, extra_env=env) as stack:
        sessions = stack.django(common.make_sessions, count=streams)
        short = cpu_per_turn(stack, sessions, turns, 20)
        long = cpu_per_turn(stack, sessions, turns, 300)
        per_token = (long - short) / 280
        stack.configure_fake(tokens=40, delay=1.0)  # 40 s answers: all open at once
        per_stream = common.run_async(_hold_streams(stack, sessions, streams), 600)
    print(
        f"  CPU per turn: {short * 1000:.1f} ms (20 tokens), {long * 1000:.1f} ms (300 tokens)"
        f" -> {per_token * 1e6:.0f} µs per token"
    )
    print(f"  memory per open stream: {per_stream / 1024:.0f} KiB ({streams} streams, one worker)")
    return {
        "cpu_ms_per_turn_20_tokens": short * 1000,
        "cpu_ms_per_turn_300_tokens": long * 1000,
        "cpu_us_per_token": per_token * 1e6,
        "memory_kib_per_stream": per_stream / 1024,
        "streams": streams,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--streams", type=int, default=200)
    args = parser.parse_args()
    from tests import s3_server

    prefix = f"bench-costs-{uuid.uuid4().hex[:8]}"
    s3 = s3_server.start(Path("/tmp") / f"{prefix}-moto.log")
    try:
        s3_env = s3.env(s3.new_bucket())
        print("in process (PostgreSQL, Redis, S3), medians:")
        results = {"in_process": in_process(args.turns, s3_env, prefix)}
        print("under gunicorn, one worker:")
        results["server"] = on_server(args.turns, args.streams, s3_env, prefix)
    finally:
        s3.stop()
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    out = common.RESULTS / "scaling_costs.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
