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
# The same, but only while the new value stays within a limit: past it, no row is written and
# none is returned (the WHERE of ON CONFLICT … DO UPDATE, evaluated on the locked row).
_UPSERT_WITHIN = _UPSERT.replace(
    "RETURNING",
    "WHERE {table}.{expires} <= %s OR {table}.{value} + excluded.{value} <= %s RETURNING",
)
# Redis: the same check and add in one script, atomic on the server.
_REDIS_WITHIN = """
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if value + amount > tonumber(ARGV[2]) then return -1 end
value = redis.call('INCRBY', KEYS[1], amount)
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIREAT', KEYS[1], ARGV[3]) end
return value
"""


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


def hit_within(key: str, *, expires_at: dt.datetime, amount: int, limit: int) -> int | None:
    """Like `hit`, but only when the new value stays at or under `limit`: its new value, or
    None (and nothing written) when adding `amount` would pass the limit."""
    if amount > limit:
        return None
    if settings.REDIS_URL:
        script = _redis_script(_REDIS_WITHIN)
        value = script(
            keys=[_redis_key(key)], args=[amount, limit, math.ceil(expires_at.timestamp())]
        )
        return None if int(value) < 0 else int(value)
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_UPSERT_WITHIN),
            [key, amount, adapt(expires_at), adapt(now), adapt(now), adapt(now), limit],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    if row[0] == amount:  # a new window, as in `hit`
        Counter.objects.filter(expires__lte=now).delete()
    return int(row[0])


def peek(key: str) -> int:
    """The counter's value now (0 when it does not exist or has expired)."""
    if settings.REDIS_URL:
        value = _redis().get(_redis_key(key))
        return int(value) if value is not None else 0
    row = Counter.objects.filter(key=key, expires__gt=timezone.now()).values("value").first()
    return row["value"] if row else 0


def peek_many(keys: list[str]) -> dict[str, int]:
    """Each counter's value now, in one round trip (0 for those missing or expired)."""
    if settings.REDIS_URL:
        values = _redis().mget([_redis_key(key) for key in keys])
        return {key: int(value or 0) for key, value in zip(keys, values, strict=True)}
    found = dict(
        Counter.objects.filter(key__in=keys, expires__gt=timezone.now()).values_list("key", "value")
    )
    return {key: found.get(key, 0) for key in keys}


@functools.cache
def _redis() -> Any:
    import redis  # only with REDIS_URL

    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


@functools.cache
def _redis_script(source: str) -> Any:
    return _redis().register_script(source)


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
    with connection.cursor() as cursor:
        cursor.execute(_sql(_UPSERT), [key, amount, adapt(expires_at), adapt(now), adapt(now)])
        (total,) = cursor.fetchone()
    if total == amount:  # a new window: the moment to drop the counters that have expired
        Counter.objects.filter(expires__lte=now).delete()
    return int(total)


def _sql(template: str) -> str:
    names = {name: connection.ops.quote_name(name) for name in ("key", "value", "expires")}
    return template.format(table=connection.ops.quote_name(_TABLE), **names)
