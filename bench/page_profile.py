"""In-process cost of the chat and conversation pages: Python function calls (cProfile), ms per
request and SQL queries, on a throw-away SQLite database seeded as bench/page_budgets.py seeds
it (50 realistic messages; the same with three versions of each answer).

Function calls do not depend on the machine's load; the times do (the fastest and the median
of `--repeat` requests are printed, wall clock and this process's CPU time, which a shared
machine disturbs less). No server: Django's test client calls the app directly.

    .venv/bin/python bench/page_profile.py [--repeat 30] [--top 25] [--dump FOLDER]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def _setup(folder: str) -> None:
    os.environ.update(
        DATABASE_URL=f"sqlite:///{folder}/profile.sqlite3",
        DEBUG="0",
        SECRET_KEY="profile-only-secret-key-not-for-production-" + "x" * 20,
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        MEDIA_ROOT=f"{folder}/media",
        ALLOWED_HOSTS="testserver",
        API_MODELS="fake-small",
    )
    os.environ.setdefault("RATE_LIMIT_PER_MINUTE", "0")  # as bench/common.py's Stack
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)


def _measure(client: Any, url: str, repeat: int, top: int, dump: str) -> dict[str, Any]:
    from django.db import connection

    for _ in range(3):  # the first view stores the answers' HTML; then warm caches
        assert client.get(url).status_code == 200
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    queries: list[str] = []

    def count(execute: Any, sql: str, *args: Any) -> Any:
        queries.append(sql)  # Django's own query log is reset when a request starts
        return execute(sql, *args)

    with connection.execute_wrapper(count):
        client.get(url)
    profile = cProfile.Profile()
    profile.enable()
    client.get(url)
    profile.disable()
    stats = pstats.Stats(profile)
    if dump:
        name = url.strip("/").replace("/", "-").replace("?c=", "-")
        stats.dump_stats(Path(dump) / f"{name}.prof")
    if top:
        stats.sort_stats("tottime").print_stats(top)
    return {
        "calls": stats.total_calls,
        "min_ms": min(times),
        "p50_ms": statistics.median(times),
        "cpu_min_ms": min(cpu),
        "cpu_p50_ms": statistics.median(cpu),
        "queries": len(queries),
    }


def main(repeat: int, top: int, dump: str) -> None:
    with tempfile.TemporaryDirectory(prefix="llm-profile-") as folder:
        _setup(folder)
        import common
        import page_budgets
        from django.test import Client

        seeded = page_budgets.seed(turn_conversations=0)
        client = Client()
        client.force_login(common.bench_user())
        rows = []
        for case, url in (
            ("chat page, 50 messages", f"/ask/?c={seeded['shown']}"),
            ("conversation page, 50 messages", f"/conversation/{seeded['shown']}/"),
            ("chat page, 50 messages, 3 versions", f"/ask/?c={seeded['versioned']}"),
            ("conversation page, 50 messages, 3 versions", f"/conversation/{seeded['versioned']}/"),
        ):
            rows.append((case, _measure(client, url, repeat, top, dump)))
    heads = ("min ms", "p50 ms", "cpu min", "cpu p50")
    print(f"{'case':45} {'calls':>8} " + " ".join(f"{h:>7}" for h in heads) + " queries")
    for case, row in rows:
        print(
            f"{case:45} {row['calls']:>8,} {row['min_ms']:>7.1f} {row['p50_ms']:>7.1f} "
            f"{row['cpu_min_ms']:>7.1f} {row['cpu_p50_ms']:>7.1f} {row['queries']:>7}"
        )
    print("load average:", " ".join(f"{n:.2f}" for n in os.getloadavg()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--top", type=int, default=0, help="print the top N functions by time")
    parser.add_argument("--dump", default="", help="save each case's profile in this folder")
    args = parser.parse_args()
    main(args.repeat, args.top, args.dump)
