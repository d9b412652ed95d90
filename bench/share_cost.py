"""What sharing costs: making a snapshot of a long conversation (copy, secret scan, store) and
serving its public page, against conversations of realistic messages (`sample_answers`).

In-process on a throwaway SQLite database (answers stored with their HTML, as the chat stores
them). Prints ms per step (best of the rounds for the snapshot, p50 and p95 of the page), the
snapshot's size and the page's queries. No goal is asserted: these are figures to read.

    .venv/bin/python bench/share_cost.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common
import sample_answers

COLUMNS = ("messages", "snapshot ms", "scan ms", "store ms", "KiB", "page p50", "page p95")
COLUMNS += ("queries",)


def _ms(func: Any, rounds: int) -> tuple[float, Any]:
    """Best wall time of `rounds` calls, in ms, and the last result."""
    best, result = float("inf"), None
    for _ in range(rounds):
        started = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - started)
    return best * 1000, result


def _conversation(user: Any, messages: int) -> Any:
    from llm_metadata.models import Conversation, Message

    conversation = Conversation.objects.create(owner=user, title=f"{messages} messages")
    rows = []
    for n in range(messages // 2):
        question, answer = sample_answers.turn(n)
        params = {"conversation": conversation, "model_name": "llama3", "temperature": 0.7}
        rows.append(Message(role="user", content=question, **params))
        rows.append(Message(role="assistant", content=answer, prompt_tokens=900, **params))
    for row in rows:
        row.render_html()  # stored as the chat stores answers
    Message.objects.bulk_create(rows)
    return conversation


def run(quick: bool = False) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="share-bench-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="main.settings",
        DATABASE_URL=f"sqlite:///{folder}/bench.sqlite3",
        SECRET_KEY="bench-only-secret-key-not-for-production-" + "x" * 20,
        SECURE_SSL_REDIRECT="0",
    )
    import django

    django.setup()
    from django.conf import settings

    # Static files are not collected here: plain storage (the manifest lookup is not timed).
    plain = "django.contrib.staticfiles.storage.StaticFilesStorage"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": plain}}
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from llm_metadata import sharing

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench-share", "bench@example.com", "x")
    choices = sharing.Choices(usage=True)
    rounds, views = (2, 10) if quick else (5, 40)
    results: dict[str, Any] = {"load_before": os.getloadavg(), "cases": []}
    for messages in (50, 200) if quick else (50, 200, 1000):
        conversation = _conversation(user, messages)
        snapshot_ms, snapshot = _ms(
            lambda c=conversation: sharing.build_snapshot(c, choices), rounds
        )
        scan_ms, findings = _ms(lambda s=snapshot: sharing.scan(s), rounds)
        store_ms, link = _ms(
            lambda c=conversation, s=snapshot: sharing.publish(
                conversation=c, snapshot=s, choices=choices, expires=None
            ),
            rounds,
        )
        client, url = Client(HTTP_HOST="localhost"), f"/s/{link.token}/"
        timings = []
        for _ in range(views):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                assert client.get(url).status_code == 200
                timings.append((time.perf_counter() - started) * 1000)
        size = len(str(link.messages).encode()) / 1024
        results["cases"].append(
            {
                "messages": messages,
                "snapshot_ms": snapshot_ms,
                "scan_ms": scan_ms,
                "store_ms": store_ms,
                "kib": size,
                "page_p50_ms": common.pct(timings, 50),
                "page_p95_ms": common.pct(timings, 95),
                "queries": len(queries.captured_queries),
                "findings": len(findings),
            }
        )
    results["load_after"] = os.getloadavg()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    results = run(quick=parser.parse_args().quick)
    rows = [[case[key] for key in list(case)[:-1]] for case in results["cases"]]
    print(common.table("Sharing a conversation (SQLite, in-process)", COLUMNS, rows))
    common.print_load(results["load_before"], results["load_after"])
    common.save("share_cost", results)


if __name__ == "__main__":
    main()
