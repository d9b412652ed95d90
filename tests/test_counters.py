"""Counters for per-user limits: atomic, expiring, and counted once by two processes at once."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from llm_metadata import counters
from llm_metadata.models import Counter

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HITS = 150


def _database_url(tmp_path: Path) -> str:
    """A URL another process can open: the test database itself on PostgreSQL (the test's
    rows are committed), a migrated SQLite file otherwise (the test database is in memory)."""
    if connection.vendor == "postgresql":
        params = connection.settings_dict
        host, port = params.get("HOST") or "127.0.0.1", params.get("PORT") or 5432
        return f"postgres://{params['USER']}@{host}:{port}/{params['NAME']}"
    url = f"sqlite:///{tmp_path / 'counters.sqlite3'}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        timeout=180,
    )
    return url


def _hit_from_two_processes(key: str, env: dict[str, str]) -> list[int]:
    """Both processes hit `key` HITS times, released together; every value either returned."""
    command = [sys.executable, "-m", "tests.workers.counter_hits", key, str(HITS)]
    workers = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "READY"
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        values = []
        for worker in workers:
            out, _ = worker.communicate(timeout=180)
            assert worker.returncode == 0
            values += json.loads(out)
        return values
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()


@pytest.fixture
def redis_counters(settings) -> Iterator[str]:
    """The counters on the machine's Redis under a prefix of this test's own."""
    settings.REDIS_URL = REDIS_URL
    settings.CACHE_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    counters._redis.cache_clear()
    yield settings.CACHE_KEY_PREFIX
    client = counters._redis()
    for name in client.scan_iter(f"{settings.CACHE_KEY_PREFIX}:*"):
        client.delete(name)
    counters._redis.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_it_counts_once_across_two_processes_in_the_database(tmp_path: Path) -> None:
    url = _database_url(tmp_path)
    values = _hit_from_two_processes("rate:alice:1", {"DATABASE_URL": url, "REDIS_URL": ""})
    # Atomic: no two hits saw the same total, none was lost.
    assert sorted(values) == list(range(1, 2 * HITS + 1))


@pytest.mark.django_db(transaction=True)
def test_it_counts_once_across_two_processes_in_redis(redis_counters: str) -> None:
    env = {"REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": redis_counters}
    values = _hit_from_two_processes("rate:alice:1", env)
    assert sorted(values) == list(range(1, 2 * HITS + 1))
    assert counters.peek("rate:alice:1") == 2 * HITS


@pytest.mark.django_db
def test_it_adds_amounts_and_starts_again_after_expiry() -> None:
    soon = timezone.now() + dt.timedelta(minutes=1)
    assert counters.hit("tokens:bob:day", expires_at=soon, amount=120) == 120
    assert counters.hit("tokens:bob:day", expires_at=soon, amount=30) == 150
    assert counters.peek("tokens:bob:day") == 150
    Counter.objects.filter(key="tokens:bob:day").update(expires=timezone.now())
    assert counters.peek("tokens:bob:day") == 0
    later = timezone.now() + dt.timedelta(minutes=2)
    assert counters.hit("tokens:bob:day", expires_at=later, amount=5) == 5
    assert Counter.objects.get(key="tokens:bob:day").expires == later


@pytest.mark.django_db
def test_it_drops_expired_counters_when_a_window_opens() -> None:
    past = timezone.now() - dt.timedelta(seconds=1)
    Counter.objects.create(key="rate:old", value=3, expires=past)
    counters.hit("rate:new", expires_at=timezone.now() + dt.timedelta(minutes=1))
    assert list(Counter.objects.values_list("key", flat=True)) == ["rate:new"]


@pytest.mark.django_db(transaction=True)
def test_redis_counters_expire_at_the_given_moment(redis_counters: str) -> None:
    expires = timezone.now() + dt.timedelta(seconds=30)
    assert counters.hit("rate:carol:1", expires_at=expires) == 1
    assert counters.hit("rate:carol:1", expires_at=expires + dt.timedelta(hours=1)) == 2
    ttl = counters._redis().ttl(f"{redis_counters}:counter:rate:carol:1")
    assert 0 < ttl <= 31  # set by the first hit, not moved by the second


def test_windows_are_aligned_to_the_clock() -> None:
    moment = dt.datetime(2026, 5, 1, 12, 0, 42, tzinfo=dt.UTC)
    label, end = counters.window(60, moment)
    assert end == dt.datetime(2026, 5, 1, 12, 1, tzinfo=dt.UTC)
    assert counters.window(60, moment + dt.timedelta(seconds=17))[0] == label
    assert counters.window(60, end)[0] != label
