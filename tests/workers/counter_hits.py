"""A second process for tests/test_counters.py: hits one counter N times, prints the values.

`python -m tests.workers.counter_hits KEY N` with DATABASE_URL (and REDIS_URL) in the
environment; prints READY once Django is set up, waits for a line on standard input so that
both processes start hitting together, then prints the values `hit` returned as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys


def main() -> None:
    key, hits = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
    import django

    django.setup()
    from llm_metadata import counters

    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    print("READY", flush=True)
    sys.stdin.readline()
    values = [counters.hit(key, expires_at=expires) for _ in range(hits)]
    print(json.dumps(values), flush=True)


if __name__ == "__main__":
    main()
