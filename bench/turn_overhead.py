"""Benchmark 1, turn overhead: plain-form chat turns (POST /ask/) against an instant fake LLM.

For history lengths 1, 10 and 100, each turn goes to its own conversation that already holds
that many messages; the server time and SQL count come from the Server-Timing header
(BENCH_TIMING=1), so they exclude the network but include the call to the fake LLM.

    .venv/bin/python bench/turn_overhead.py [--quick] [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

HISTORIES = (1, 10, 100)
GOAL_MS = 10.0


def seed(histories: list[int], per_history: int) -> dict[str, list[str]]:
    """Conversations with h earlier messages each, and a session opening each one."""
    from llm_metadata.models import Conversation, Message, store_stale_html

    user = common.bench_user()
    sessions: dict[str, list[str]] = {}
    for history in histories:
        conversations = Conversation.objects.bulk_create(
            Conversation(owner=user, title=f"History {history} #{i}") for i in range(per_history)
        )
        earlier = Message.objects.bulk_create(
            (
                Message(
                    conversation=conversation,
                    role="user" if n % 2 == 0 else "assistant",
                    content=f"Message {n}: " + "a few words of earlier talk " * 6,
                    model_name=common.MODEL,
                )
                for conversation in conversations
                for n in range(history)
            ),
            batch_size=2000,
        )
        # Earlier answers as the app stores them, with their HTML (bulk_create stores none):
        # the redirected page is timed in its steady state, not at its one first view.
        store_stale_html(earlier)
        ids = [str(c.id) for c in conversations]
        sessions[str(history)] = common.make_sessions(per_history, ids)
    return sessions


def outcome() -> dict[str, int]:
    """Answers saved, by status (to show that every timed turn really completed)."""
    from django.db.models import Count

    from llm_metadata.models import Message

    rows = Message.objects.filter(role="assistant", model_name=common.MODEL).exclude(
        content__startswith="Message "
    )
    return {row["status"]: row["n"] for row in rows.values("status").annotate(n=Count("id"))}


async def one_turn(client: Any, history: int) -> dict[str, Any]:
    response, client_ms = await common.post_question(client, f"Turn question at history {history}?")
    server_ms, queries = common.server_timing(response)
    page = None
    if response.status_code == 302:
        page = await common.timed_get(client, response.headers["location"])
    return {
        "status": response.status_code,
        "client_ms": client_ms,
        "server_ms": server_ms,
        "queries": queries,
        "page_ms": page and page["server_ms"],
        "page_queries": page and page["queries"],
    }


async def measure(stack: common.Stack, sessions: dict[str, list[str]], warmup: int) -> list[dict]:
    transport = common.shared_transport(16)
    rows = []
    try:
        for history in HISTORIES:
            keys = sessions[str(history)]
            turns = []
            for key in keys:
                client = common.client_for(stack.base_url, key, transport)
                turns.append(await one_turn(client, history))
            timed = [t for t in turns[warmup:] if t["status"] == 302]
            server = [t["server_ms"] for t in timed]
            queries = sorted({t["queries"] for t in timed})
            rows.append(
                {
                    "history": history,
                    "turns": len(turns) - warmup,
                    "failed": sum(t["status"] != 302 for t in turns[warmup:]),
                    "p50_ms": common.pct(server, 50),
                    "p95_ms": common.pct(server, 95),
                    "client_p50_ms": common.pct([t["client_ms"] for t in timed], 50),
                    "queries": queries,
                    "page_p50_ms": common.pct([t["page_ms"] for t in timed if t["page_ms"]], 50),
                    "page_queries": sorted({t["page_queries"] for t in timed}),
                }
            )
    finally:
        await transport.aclose()
    return rows


def run(quick: bool = False, dbs: list[str] | None = None) -> dict[str, Any]:
    """All cases; prints the table and saves bench/results/turn_overhead.json."""
    turns, warmup = (20, 6) if quick else (100, 10)
    results: dict[str, Any] = {"goal_p50_ms": GOAL_MS, "turns": turns, "cases": []}
    for db in dbs or common.databases():
        with common.Stack(db, delay_ms=0, tokens=20) as stack:
            sessions = stack.django(seed, histories=list(HISTORIES), per_history=turns + warmup)
            rows = common.run_async(measure(stack, sessions, warmup), timeout=300)
            saved = stack.django(outcome)
        for row in rows:
            results["cases"].append({"db": db, **row, "answers_saved": saved})
    print(
        common.table(
            f"Turn overhead: POST /ask/ (plain form) against an instant fake LLM "
            f"(goal: p50 <= {GOAL_MS:g} ms, same queries at every history length)",
            [
                "db",
                "history",
                "turns",
                "failed",
                "p50 ms",
                "p95 ms",
                "client p50 ms",
                "queries/turn",
                "page p50 ms",
                "page queries",
            ],
            [
                [
                    c["db"],
                    c["history"],
                    c["turns"],
                    c["failed"],
                    c["p50_ms"],
                    c["p95_ms"],
                    c["client_p50_ms"],
                    _span(c["queries"]),
                    c["page_p50_ms"],
                    _span(c["page_queries"]),
                ]
                for c in results["cases"]
            ],
        )
    )
    print("answers saved by status:", {c["db"]: c["answers_saved"] for c in results["cases"]})
    print("saved", common.save("turn_overhead", results))
    return results


def _span(values: list[Any]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", action="append", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    run(args.quick, args.db)
