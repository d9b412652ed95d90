"""Page budgets (issue 10): the chat and conversation pages showing 50 realistic messages, and
the plain-form turn (POST /ask/ plus the page it redirects to) against an instant fake LLM.

Two references are timed too: /healthz (how loaded the machine is) and the chat page of a user
with no conversation (what the page costs without messages). Every message is a realistic one
(`sample_answers`: markdown answers with headings, lists, code blocks in three languages and
tables), stored by bulk_create as an import would; each page is viewed once before the timed
requests (that first view is printed too). Server times and SQL
counts come from the Server-Timing header (BENCH_TIMING=1): they exclude the network.

    .venv/bin/python bench/page_budgets.py [--quick] [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import sample_answers

PAGE_GOAL_MS = 5.0
TURN_GOAL_MS = 10.0
COLUMNS = ("db", "case", "goal ms", "p50 ms", "p95 ms", "min ms", "client p50", "first ms")
COLUMNS += ("queries", "n")
SHOWN = 50  # messages on the page: the chat page's newest 50, the detail page's first 50


def seed(turn_conversations: int) -> dict[str, Any]:
    """One conversation of 50 messages for the GET pages, the same with three versions of each
    answer (a message tree, its active path shown), and `turn_conversations` of 48 (the timed
    turn adds the 49th and 50th), each with a session that opens it."""
    from decimal import Decimal

    from llm_metadata.models import Conversation, Feedback, Message

    user = common.bench_user()
    conversations = Conversation.objects.bulk_create(
        Conversation(owner=user, title=f"Budgets #{i}") for i in range(2 + turn_conversations)
    )

    def messages(conversation: Conversation, count: int) -> list[Message]:
        rows = []
        for n in range(count):
            question, answer = sample_answers.turn(n // 2)
            common_fields = {
                "conversation": conversation,
                "model_name": common.MODEL,
                "temperature": 0.7,
                "top_k": 40,
                "top_p": 0.9,
                "max_tokens": 600,
            }
            if n % 2 == 0:
                rows.append(Message(role="user", content=question, **common_fields))
                continue
            rows.append(
                Message(
                    role="assistant",
                    content=answer,
                    prompt_tokens=120 + n,
                    completion_tokens=300 + n,
                    total_tokens=420 + 2 * n,
                    elapsed_time=2.5,
                    time_to_first_token=0.3,
                    finish_reason="stop",
                    raw_usage={"prompt_tokens": 120 + n, "completion_tokens": 300 + n},
                    cost=Decimal("0.00012"),
                    **common_fields,
                )
            )
        return rows

    shown, versioned, turns = conversations[0], conversations[1], conversations[2:]
    created = Message.objects.bulk_create(messages(shown, SHOWN))
    _add_versions(Message.objects.bulk_create(messages(versioned, SHOWN)))
    for conversation in turns:
        Message.objects.bulk_create(messages(conversation, SHOWN - 2))
    answers = [m for m in created if m.role == "assistant"]
    Feedback.objects.bulk_create(
        Feedback(message=m, user=user, rating=1 if i % 2 else -1, comment="useful" * (i % 2))
        for i, m in enumerate(answers[::5])
    )
    return {
        "shown": str(shown.id),
        "empty_session": common.make_sessions(1)[0],
        "page_session": common.make_sessions(1, [str(shown.id)])[0],
        "versioned": str(versioned.id),
        "turn_sessions": common.make_sessions(len(turns), [str(c.id) for c in turns]),
    }


def _add_versions(path: list[Any]) -> None:
    """Link the messages into one line, then give each answer two other versions (inactive)."""
    from llm_metadata.models import Message

    for before, message in itertools.pairwise(path):
        message.parent_id = before.pk
    Message.objects.bulk_update(path, ["parent"])
    versions = []
    for answer in (m for m in path if m.role == "assistant"):
        for n in (1, 2):
            versions.append(
                Message(
                    conversation_id=answer.conversation_id,
                    role="assistant",
                    content=answer.content,
                    parent_id=answer.parent_id,
                    active=False,
                    model_name=f"other-{n}",
                    temperature=0.1 * n,
                    completion_tokens=200 + n,
                    elapsed_time=1.0 + n,
                    time_to_first_token=0.2,
                )
            )
    Message.objects.bulk_create(versions)


def _row(case: str, samples: list[dict[str, Any]], goal: float | None) -> dict[str, Any]:
    server = [s["server_ms"] for s in samples if s["server_ms"] is not None]
    return {
        "case": case,
        "goal_ms": goal,
        "n": len(samples),
        "statuses": sorted({s["status"] for s in samples}),
        "p50_ms": common.pct(server, 50),
        "p95_ms": common.pct(server, 95),
        "min_ms": min(server) if server else None,
        "client_p50_ms": common.pct([s["client_ms"] for s in samples], 50),
        "queries": sorted({s["queries"] for s in samples if s["queries"] is not None}),
    }


async def _page(client: Any, url: str, repeat: int) -> tuple[dict[str, Any], list[dict]]:
    first = await common.timed_get(client, url)
    for _ in range(5):
        await common.timed_get(client, url)
    return first, [await common.timed_get(client, url) for _ in range(repeat)]


async def _turn(client: Any, n: int) -> dict[str, Any]:
    response, post_client_ms = await common.post_question(client, sample_answers.turn(n)[0])
    post_ms, post_queries = common.server_timing(response)
    if response.status_code != 302:
        return {"status": response.status_code, "server_ms": None, "client_ms": post_client_ms}
    page = await common.timed_get(client, response.headers["location"])
    return {
        "status": f"302+{page['status']}",
        "server_ms": post_ms + page["server_ms"],
        "client_ms": post_client_ms + page["client_ms"],
        "queries": f"{post_queries}+{page['queries']}",
        "post_ms": post_ms,
        "page_ms": page["server_ms"],
    }


async def measure(stack: common.Stack, seeded: dict[str, Any], repeat: int) -> list[dict]:
    transport = common.shared_transport(8)
    rows = []
    try:
        client = common.client_for(stack.base_url, seeded["page_session"], transport)
        empty = common.client_for(stack.base_url, seeded["empty_session"], transport)
        for case, who, url, goal in (
            ("GET /healthz (reference: one query, no session)", client, "/healthz", None),
            ("GET /ask/, no conversation (reference: the page alone)", empty, "/ask/", None),
            ("GET /ask/ (50 messages)", client, "/ask/", PAGE_GOAL_MS),
            (
                "GET /conversation/<uuid>/ (50 messages)",
                client,
                f"/conversation/{seeded['shown']}/",
                PAGE_GOAL_MS,
            ),
            (
                "GET /ask/?c= (50 messages, 3 versions of each answer)",
                client,
                f"/ask/?c={seeded['versioned']}",
                PAGE_GOAL_MS,
            ),
            (
                "GET /conversation/<uuid>/ (50 messages, 3 versions of each answer)",
                client,
                f"/conversation/{seeded['versioned']}/",
                PAGE_GOAL_MS,
            ),
        ):
            first, samples = await _page(who, url, repeat)
            rows.append({**_row(case, samples, goal), "first_ms": first["server_ms"]})
        clients = [common.client_for(stack.base_url, k, transport) for k in seeded["turn_sessions"]]
        firsts = [await common.timed_get(c, "/ask/") for c in clients]  # each page viewed once
        turns = [await _turn(c, n) for n, c in enumerate(clients)]
        row = _row("plain-form turn: POST /ask/ + redirected page", turns[5:], TURN_GOAL_MS)
        row["first_ms"] = common.pct([f["server_ms"] for f in firsts], 50)
        row["post_p50_ms"] = common.pct([t["post_ms"] for t in turns[5:] if "post_ms" in t], 50)
        row["page_p50_ms"] = common.pct([t["page_ms"] for t in turns[5:] if "page_ms" in t], 50)
        rows.append(row)
    finally:
        await transport.aclose()
    return rows


def run(quick: bool = False, dbs: list[str] | None = None) -> dict[str, Any]:
    """Every case on each database; prints the table and saves bench/results/page_budgets.json."""
    repeat, turns = (30, 25) if quick else (200, 105)
    results: dict[str, Any] = {"load_before": os.getloadavg(), "cases": []}
    for db in dbs or common.databases():
        with common.Stack(db, delay_ms=0, tokens=20) as stack:
            seeded = stack.django(seed, turn_conversations=turns)
            rows = common.run_async(measure(stack, seeded, repeat), timeout=600)
        results["cases"] += [{"db": db, **row} for row in rows]
    results["load_after"] = os.getloadavg()
    print(
        common.table(
            "Page budgets: server time (Server-Timing), realistic markdown answers; 'first' is "
            "a page's first view (turn: p50 of the first views)",
            COLUMNS,
            [
                [
                    c["db"],
                    c["case"],
                    c["goal_ms"],
                    c["p50_ms"],
                    c["p95_ms"],
                    c["min_ms"],
                    c["client_p50_ms"],
                    c["first_ms"],
                    ",".join(map(str, c["queries"])),
                    c["n"],
                ]
                for c in results["cases"]
            ],
        )
    )
    for c in results["cases"]:
        if "post_p50_ms" in c:
            print(f"{c['db']} turn parts: POST p50 {common.fmt(c['post_p50_ms'])} ms, ", end="")
            print(f"redirected page p50 {common.fmt(c['page_p50_ms'])} ms")
    common.print_load(results["load_before"], results["load_after"])
    print("saved", common.save("page_budgets", results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", action="append", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    run(args.quick, args.db)
