"""What the limits check costs a turn: µs and queries (and Redis round trips) per `admit()`, and
per `charge` (the counters one stored answer adds to), on SQLite, PostgreSQL, and PostgreSQL
with Redis for the counters. In-process, no server; each case in a child process of its own.

    .venv/bin/python bench/limits_cost.py [--quick]

Databases: a SQLite file in a temporary folder; PostgreSQL `<BENCH_PG_DATABASE>_limits`
(created and dropped); Redis keys under a prefix of the run's own (left to expire).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import common  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def _child(calls: int) -> dict[str, Any]:
    """In a process set up for one database: admit() and charge costs, as JSON on stdout."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from django.conf import settings
    from django.contrib.auth.models import User

    from llm_metadata import limits
    from llm_metadata.models import Conversation, Message

    redis_ops = [0]
    if settings.REDIS_URL:
        import redis

        execute = redis.client.Redis.execute_command
        pipeline = redis.client.Pipeline.execute

        def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            redis_ops[0] += 1
            return execute(self, *args, **kwargs)

        def counted_pipeline(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            redis_ops[0] += 1
            return pipeline(self, *args, **kwargs)

        redis.client.Redis.execute_command = counted
        redis.client.Pipeline.execute = counted_pipeline

    settings.RATE_LIMIT_PER_MINUTE = calls * 10  # never refused: the admitted path
    settings.TOKEN_BUDGET_PER_DAY = 10**9
    settings.TOKEN_BUDGET_PER_MONTH = 10**10
    user = User.objects.create_user(f"limits-{uuid.uuid4().hex[:8]}")
    conversation = Conversation.objects.create(owner=user)
    limits.admit(user)  # the minute's first call also drops expired counters
    out: dict[str, Any] = {}
    for case, func in (
        ("admit()", lambda: limits.admit(user)),
        ("usage() (the chat page)", lambda: limits.usage(user)),
    ):
        redis_ops[0] = 0
        connection.queries_log.clear()  # a bounded deque: an earlier case's rows would shift it
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            for _ in range(calls):
                assert func() is not None or case == "admit()"
            elapsed = time.perf_counter() - started
        out[case] = {
            "us": elapsed / calls * 1e6,
            "queries": len(queries.captured_queries) / calls,
            "redis": redis_ops[0] / calls,
        }
    answers = [
        Message(conversation=conversation, role="assistant", content="x", total_tokens=10)
        for _ in range(calls)
    ]
    redis_ops[0] = 0
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        for answer in answers:
            limits.charge(answer)
        elapsed = time.perf_counter() - started
    out["charge (per stored answer)"] = {
        "us": elapsed / calls * 1e6,
        "queries": len(queries.captured_queries) / calls,
        "redis": redis_ops[0] / calls,
    }
    return out


def _run_case(env: dict[str, str], calls: int) -> dict[str, Any]:
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(calls)],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "main.settings", **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if child.returncode:
        raise RuntimeError(child.stderr[-3000:])
    return json.loads(child.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict[str, Any]:
    calls = 300 if quick else 2000
    base = {"SECRET_KEY": "bench-only-secret-key-not-for-production-" + "x" * 20, "DEBUG": "0"}
    cases: list[tuple[str, dict[str, str]]] = []
    folder = tempfile.mkdtemp(prefix="limits-cost-")
    cases.append(("SQLite", {"DATABASE_URL": f"sqlite:///{folder}/limits.sqlite3"}))
    pg_name = f"{common.PG_DATABASE}_limits"
    if common.postgres_available():
        common._pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}"')
        common._pg_admin(f'CREATE DATABASE "{pg_name}"')
        url = f"postgres://postgres@127.0.0.1:5432/{pg_name}"
        cases.append(("PostgreSQL", {"DATABASE_URL": url}))
        prefix = f"limits-bench-{uuid.uuid4().hex[:6]}"
        redis = {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix}
        cases.append(("PostgreSQL + Redis", redis))
    load_before = os.getloadavg()
    results: dict[str, Any] = {"calls": calls, "cases": {}}
    rows = []
    try:
        for name, env in cases:
            measured = _run_case({**base, **env}, calls)
            results["cases"][name] = measured
            for what, figures in measured.items():
                rows.append([name, what, figures["us"], figures["queries"], figures["redis"]])
    finally:
        if len(cases) > 1:
            common._pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}"')
    results["load_before"], results["load_after"] = load_before, os.getloadavg()
    columns = ["database", "operation", "µs each", "SQL queries each", "Redis round trips each"]
    print(common.table(f"Limits check, mean of {calls} calls (admitted path)", columns, rows))
    common.print_load(load_before, results["load_after"])
    common.save("limits_cost", results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)))
    else:
        run(quick=args.quick)
