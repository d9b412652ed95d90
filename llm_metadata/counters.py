"""Atomic counters with an expiry, counted once across every worker process and server.

The tally behind per-user limits: `hit(key, expires_at=…, amount=…)` adds to the counter and
returns its new value in one atomic step; a counter past its expiry starts again from zero.
Callers put the window in the key (`window(60)` names the current minute), so a new window is a
new counter. With `REDIS_URL` the counters live in Redis (INCRBY and EXPIREAT in one MULTI);
otherwise in the database table `llm_metadata_counter` (one INSERT … ON CONFLICT … RETURNING),
which every process and server sharing the database sees. Never in process memory.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import Counter

_TABLE = Counter._meta.db_table
# One statement, atomic on PostgreSQL (the row's lock) and SQLite (the write lock): an expired
# row starts again from the amount, with the new expiry. Only quoted names are formatted in.
_UPSERT = (
    "INSERT INTO {table} ({key}, {value}, {expires}) VALUES (%s, %s, %s) "
    "ON CONFLICT ({key}) DO UPDATE SET "
    "{value} = CASE WHEN {table}.{expires} <= %s THEN excluded.{value} "
    "ELSE {table}.{value} + excluded.{value} END, "
    "{expires} = CASE WHEN {table}.{expires} <= %s THEN excluded.{expires} "
    "ELSE {table}.{expires} END "
    "RETURNING {value}"
)


def window(seconds: int, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
    """(label, end) of the fixed window of `seconds` that holds `now`, aligned to the epoch."""
    now = now or timezone.now()
    index = math.floor(now.timestamp() / seconds)
    return f"{seconds}s{index}", dt.datetime.fromtimestamp((index + 1) * seconds, dt.UTC)


def hit(key: str, *, expires_at: dt.datetime, amount: int = 1) -> int:
    """Add `amount` to the counter `key` (created at 0, expiring at `expires_at`); its new value."""
    if settings.REDIS_URL:
        return _redis_hit(key, expires_at, amount)
    return _database_hit(key, expires_at, amount)


def peek(key: str) -> int:
    """The counter's value now (0 when it does not exist or has expired)."""
    if settings.REDIS_URL:
        value = _redis().get(_redis_key(key))
        return int(value) if value is not None else 0
    row = Counter.objects.filter(key=key, expires__gt=timezone.now()).values("value").first()
    return row["value"] if row else 0


@functools.cache
def _redis() -> Any:
    import redis  # only with REDIS_URL

    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


def _redis_key(key: str) -> str:
    prefix = settings.CACHE_KEY_PREFIX
    return f"{prefix}:counter:{key}" if prefix else f"counter:{key}"


def _redis_hit(key: str, expires_at: dt.datetime, amount: int) -> int:
    name = _redis_key(key)
    with _redis().pipeline(transaction=True) as pipe:
        pipe.incrby(name, amount)
        # NX: the expiry is set when the counter is created and never moved by later hits.
        pipe.expireat(name, math.ceil(expires_at.timestamp()), nx=True)
        value, _ = pipe.execute()
    return int(value)


def _database_hit(key: str, expires_at: dt.datetime, amount: int) -> int:
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    names = {name: connection.ops.quote_name(name) for name in ("key", "value", "expires")}
    sql = _UPSERT.format(table=connection.ops.quote_name(_TABLE), **names)
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, amount, adapt(expires_at), adapt(now), adapt(now)])
        (total,) = cursor.fetchone()
    if total == amount:  # a new window: the moment to drop the counters that have expired
        Counter.objects.filter(expires__lte=now).delete()
    return int(total)
