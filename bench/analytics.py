"""Analytics benchmark: time of /analytics/ over 200,000 messages (same data as bench/export.py).

.venv/bin/python bench/analytics.py [--rows 200000] [--database-url postgres://...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import message_data

CASES = (
    ("30 days", {"period": "30"}),
    ("90 days", {"period": "90"}),
    ("7 days", {"period": "7"}),
    ("30 days, one model", {"period": "30", "model": message_data.MODELS[0]}),
    ("30 days, status error", {"period": "30", "status": "error"}),
)


def run(url: str, rows: int, repeat: int) -> None:
    message_data.configure(url)
    seconds = message_data.generate(rows)
    if seconds:
        print(f"generate {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()  # response.context, for the figures shown

    client = Client()
    client.force_login(User.objects.get(username="bench"))
    print(f"database {connection.vendor}, {repeat} runs each, median")
    for label, params in CASES:
        times = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get("/analytics/", params)
                times.append(time.perf_counter() - started)
            assert response.status_code == 200
        answers = sum(row.answers for row in response.context["report"].models)
        print(
            f"  {label:<24} {statistics.median(times) * 1000:7.0f} ms  "
            f"{len(queries):2} queries  {answers:>7,} answers"
        )
    print(f"peak RSS {message_data.peak_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llm-metadata-bench-") as folder:
        run(args.database_url or f"sqlite:///{folder}/bench.sqlite3", args.rows, args.repeat)


if __name__ == "__main__":
    main()
