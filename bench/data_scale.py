"""Benchmark 4, data scale: the history, detail, admin and analytics pages over a big account.

One user with 10,000 conversations and 200,000 messages (bulk_create, dates spread over a
year; one conversation holds 500 messages). Each page is fetched sequentially after a warm-up;
server time and SQL count come from the Server-Timing header (BENCH_TIMING=1).

    .venv/bin/python bench/data_scale.py [--quick] [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

GOAL_MS = 100.0
TOPICS = ("sky", "tides", "compilers", "bread", "orbits", "tax law", "poetry", "rust", "jazz")
RARE = "zanzibar"  # in 1% of titles and of messages: what the searches look for
MODELS = ("fake-small", "llama3.2:3b", "qwen2.5:7b")


def seed(conversations: int, messages: int, detail: int) -> dict[str, Any]:
    """The account; returns the big conversation's id and the seconds it took."""
    from django.db import connection

    from llm_metadata.models import Conversation, Message

    started = time.perf_counter()
    user = common.bench_user()
    now = dt.datetime.now(dt.UTC)
    # Spread the dates: bulk_create would stamp every row with now() through auto_now_add.
    for model in (Conversation, Message):
        model._meta.get_field("created").auto_now_add = False
    convs = [
        Conversation(
            owner=user,
            title=f"About {TOPICS[i % len(TOPICS)]} {i}" + (f" {RARE}" if i % 100 == 7 else ""),
            created=now - dt.timedelta(minutes=53 * i),
            updated=now - dt.timedelta(minutes=53 * i),
        )
        for i in range(conversations)
    ]
    Conversation.objects.bulk_create(convs, batch_size=2000)
    big, rest = convs[0], convs[1:]
    per_rest, extra = divmod(messages - detail, len(rest))

    def rows():
        for index, conv in enumerate([big, *rest]):
            count = detail if index == 0 else per_rest + (index <= extra)
            for n in range(count):
                answer = n % 2 == 1
                yield Message(
                    conversation=conv,
                    role="assistant" if answer else "user",
                    content=(
                        "Because the light scatters, and **markdown** with `code` too. " * 3
                        if answer
                        else f"Question {n} about {TOPICS[n % len(TOPICS)]}"
                        + (f" {RARE}" if (index + n) % 100 == 3 else "")
                    ),
                    model_name=MODELS[index % len(MODELS)],
                    temperature=0.7,
                    top_k=40,
                    top_p=0.9,
                    max_tokens=600,
                    prompt_tokens=120 if answer else None,
                    completion_tokens=80 if answer else None,
                    total_tokens=200 if answer else None,
                    elapsed_time=1.5 if answer else None,
                    time_to_first_token=0.2 if answer else None,
                    finish_reason="stop" if answer else "",
                    created=conv.updated - dt.timedelta(seconds=count - n),
                )

    batch: list[Message] = []
    for message in rows():
        batch.append(message)
        if len(batch) == 5000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum does soon after a bulk load
            cursor.execute("ANALYZE")
    return {
        "big": str(big.id),
        "conversations": Conversation.objects.count(),
        "messages": Message.objects.count(),
        "seconds": time.perf_counter() - started,
    }


def pages(big: str) -> list[tuple[str, str]]:
    return [
        ("history, first page", "/conversation/"),
        ("history, last page", "/conversation/?page=100000"),
        (f"history, search '{RARE}'", f"/conversation/?q={RARE}"),
        ("conversation with 500 messages", f"/conversation/{big}/"),
        (f"admin messages, search '{RARE}'", f"/admin/llm_metadata/message/?q={RARE}"),
        ("analytics", "/analytics/"),
    ]


async def measure(stack: common.Stack, key: str, big: str, repeat: int) -> list[dict[str, Any]]:
    transport = common.shared_transport(4)
    rows = []
    try:
        client = common.client_for(stack.base_url, key, transport, 120)
        for label, url in pages(big):
            first = await common.timed_get(client, url)
            if first["status"] == 404 and url == "/analytics/":
                continue
            for _ in range(2):
                await common.timed_get(client, url)
            samples = [await common.timed_get(client, url) for _ in range(repeat)]
            server = [s["server_ms"] for s in samples if s["server_ms"] is not None]
            rows.append(
                {
                    "page": label,
                    "url": url,
                    "status": sorted({s["status"] for s in samples}),
                    "first_ms": first["server_ms"],
                    "p50_ms": common.pct(server, 50),
                    "p95_ms": common.pct(server, 95),
                    "client_p50_ms": common.pct([s["client_ms"] for s in samples], 50),
                    "queries": sorted({s["queries"] for s in samples}),
                }
            )
    finally:
        await transport.aclose()
    return rows


def run(quick: bool = False, dbs: list[str] | None = None) -> dict[str, Any]:
    """Seed, then time each page; prints the table and saves bench/results/data_scale.json."""
    conversations, messages, repeat = (1_000, 20_000, 5) if quick else (10_000, 200_000, 15)
    results: dict[str, Any] = {"goal_p50_ms": GOAL_MS, "cases": []}
    for db in dbs or (["sqlite"] if quick else common.databases()):
        with common.Stack(db) as stack:
            data = stack.django(seed, conversations=conversations, messages=messages, detail=500)
            print(
                f"  {db}: {data['conversations']:,} conversations, {data['messages']:,} messages "
                f"seeded in {data['seconds']:.1f} s",
                flush=True,
            )
            key = stack.django(common.make_sessions, count=1)[0]
            rows = common.run_async(measure(stack, key, data["big"], repeat), timeout=600)
        results["cases"] += [{"db": db, **data, **row} for row in rows]
    print(
        common.table(
            f"Data scale: one user, {conversations:,} conversations, {messages:,} messages "
            f"(goal: p50 <= {GOAL_MS:g} ms, constant queries)",
            ["db", "page", "status", "p50 ms", "p95 ms", "client p50 ms", "first ms", "queries"],
            [
                [
                    c["db"],
                    c["page"],
                    ",".join(map(str, c["status"])),
                    c["p50_ms"],
                    c["p95_ms"],
                    c["client_p50_ms"],
                    c["first_ms"],
                    ",".join(map(str, c["queries"])),
                ]
                for c in results["cases"]
            ],
        )
    )
    print("saved", common.save("data_scale", results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", action="append", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    run(args.quick, args.db)
