"""Limits per user: model calls a minute, and tokens a day and a month in the user's time zone.

Every path that calls a model asks `admit(user)` first and calls nothing when it is refused.
The counts are shared counters (llm_metadata.counters: a database table, or Redis with
REDIS_URL), so every worker and server sees the same ones:
- calls: one counter per user per minute (a fixed window), added to only when a call is
  admitted, in one atomic check-and-add, so concurrent turns can never pass the limit together;
- tokens: one counter per user per local day and one per local month, charged by `charge` once
  for each stored answer (a post_save receiver in llm_metadata.signals), whichever path stored
  it. A turn admitted under its budget may end past it; the next one is refused.

The user's time zone is the one the pages show dates in (the browser's, `tz` cookie, activated
by llm_metadata.middleware; UTC without it): `admit`, `charge` and `usage` read the active one.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from . import counters
from .limits_models import GroupLimit, UserLimit
from .llm import estimate_tokens, message_tokens
from .models import Conversation, Counter, Message

KINDS = ("rate", "day", "month")
_UNLIMITED = 2**62  # a group's 0 (no limit), so that MAX picks it as the most generous
_FIELDS = ("rate_limit_per_minute", "token_budget_per_day", "token_budget_per_month")


@dataclass(frozen=True)
class Refusal:
    """Why a call may not be made now: a message for the user, seconds until it may, which limit."""

    message: str
    retry_after: int
    kind: str


@dataclass(frozen=True)
class Limits:
    """A user's limits in force (0 = none): calls a minute, tokens a day, tokens a month."""

    rate: int
    day: int
    month: int


@dataclass(frozen=True)
class Usage:
    """A user's tokens this local day and month against their limits; `*_estimated` is the part
    measured by the app because the endpoint reported no counts."""

    limits: Limits
    day: int
    month: int
    day_estimated: int = 0
    month_estimated: int = 0

    @property
    def budgeted(self) -> bool:
        return bool(self.limits.day or self.limits.month)

    @property
    def summary(self) -> str:
        """E.g. "Tokens today: 1,200 of 100,000 (300 estimated) · this month: …", budgets only."""
        parts = []
        for label, spent, estimated, budget in (
            ("today", self.day, self.day_estimated, self.limits.day),
            ("this month", self.month, self.month_estimated, self.limits.month),
        ):
            if budget:
                note = f" ({estimated:,} estimated)" if estimated else ""
                parts.append(f"{label}: {spent:,} of {budget:,}{note}")
        return ("Tokens " + " · ".join(parts)) if parts else ""


@dataclass(frozen=True)
class Periods:
    """The user's local day and month that hold a moment, and when each ends."""

    day: dt.date
    day_end: dt.datetime
    month_end: dt.datetime

    @classmethod
    def at(cls, now: dt.datetime, zone: dt.tzinfo) -> Periods:
        day = now.astimezone(zone).date()
        following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return cls(day, _midnight(day + dt.timedelta(days=1), zone), _midnight(following, zone))

    def keys(self, user_id: Any) -> dict[str, str]:
        """The counters of this day and month: tokens, and the estimated part of them."""
        day, month = self.day.isoformat(), f"{self.day:%Y-%m}"
        return {
            "day": f"limits:tokens:{user_id}:{day}",
            "month": f"limits:tokens:{user_id}:{month}",
            "day_estimated": f"limits:estimated:{user_id}:{day}",
            "month_estimated": f"limits:estimated:{user_id}:{month}",
        }

    def ends(self) -> dict[str, dt.datetime]:
        return {
            "day": self.day_end,
            "month": self.month_end,
            "day_estimated": self.day_end,
            "month_estimated": self.month_end,
        }


def _midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)


def admit(user: Any, calls: int = 1) -> Refusal | None:
    """None, with `calls` counted in the user's current minute; or why not (nothing counted).

    One query (limits and tokens used), then one atomic check-and-add of the calls when a rate
    limit applies (with Redis: a query and two round trips to Redis).
    """
    now = timezone.now()
    periods = Periods.at(now, timezone.get_current_timezone())
    used = _read(user.pk, periods)
    limits = used.limits
    for kind, budget, spent, end in (
        ("month", limits.month, used.month, periods.month_end),
        ("day", limits.day, used.day, periods.day_end),
    ):
        if budget and spent >= budget:
            return _over_budget(kind, budget, spent, end, now)
    if limits.rate:
        label, end = counters.window(60, now)
        key = f"limits:calls:{user.pk}:{label}"
        if counters.hit_within(key, expires_at=end, amount=calls, limit=limits.rate) is None:
            wait = max(1, math.ceil((end - now).total_seconds()))
            message = (
                f"You have reached the limit of {limits.rate:,} model calls a minute; "
                f"try again in {wait} s."
            )
            return Refusal(message, wait, "rate")
    return None


def _over_budget(kind: str, budget: int, spent: int, end: dt.datetime, now: dt.datetime) -> Refusal:
    local_end = timezone.localtime(end)
    if kind == "day":
        period, renews = "today", f"at {local_end:%H:%M}"
    else:
        period, renews = "this month", f"on {local_end.day} {local_end:%B} at {local_end:%H:%M}"
    message = f"You have used {spent:,} of {budget:,} tokens {period}; the budget renews {renews}"
    return Refusal(message, max(1, math.ceil((end - now).total_seconds())), kind)


def usage(user: Any) -> Usage:
    """The user's limits in force and tokens used this local day and month (one query)."""
    return _read(user.pk, Periods.at(timezone.now(), timezone.get_current_timezone()))


def usage_to_show(user: Any, conversation: Conversation | None) -> Usage | None:
    """The chat page's use-against-budget figures (`usage`), or None without a query when no
    token budget can apply to the user: none in the settings, and no limits of the user's own
    or of their groups, as the conversation's query found (`owner_limited`)."""
    in_settings = settings.TOKEN_BUDGET_PER_DAY or settings.TOKEN_BUDGET_PER_MONTH
    if not in_settings and not getattr(conversation, "owner_limited", True):
        return None
    return usage(user)


def owner_limited() -> RawSQL:
    """An annotation for a query of conversations: whether their owner has limits of their own
    or a group's (then a budget may apply whatever the settings say). Only quoted table and
    column names are formatted into the SQL, which names the conversations' table (as
    `ConversationQuerySet.with_versions_flag` does)."""
    quote = connection.ops.quote_name
    own, group = quote(UserLimit._meta.db_table), quote(GroupLimit._meta.db_table)
    through = get_user_model().groups.through._meta
    member = quote(through.db_table)
    user_column = quote(through.get_field(get_user_model()._meta.model_name).column)
    group_column = quote(through.get_field("group").column)
    owner = f"{quote(Conversation._meta.db_table)}.{quote('owner_id')}"
    sql = (
        f"(EXISTS (SELECT 1 FROM {own} WHERE {own}.{quote('user_id')} = {owner}) OR EXISTS ("  # noqa: S608
        f"SELECT 1 FROM {group} g JOIN {member} m ON m.{group_column} = g.{quote('group_id')} "
        f"WHERE m.{user_column} = {owner}))"
    )
    return RawSQL(sql, (), BooleanField())  # noqa: S611 (no user input)


def use_of(user_ids: list[Any]) -> dict[Any, tuple[int, int]]:
    """(tokens this day, this month) of each user, in one query or MGET, for the admin's lists.

    A user's day may be another than the viewer's, so the counters of the viewer's yesterday,
    today and tomorrow are read: only the user's current one has not expired.
    """
    today = timezone.localdate()
    days = [today + dt.timedelta(days=n) for n in (-1, 0, 1)]
    keys = {}
    for user_id in user_ids:
        for day in days:
            keys[f"limits:tokens:{user_id}:{day.isoformat()}"] = (user_id, 0)
            keys[f"limits:tokens:{user_id}:{day:%Y-%m}"] = (user_id, 1)
    found = {user_id: [0, 0] for user_id in user_ids}
    for key, value in counters.peek_many(list(keys)).items():
        user_id, index = keys[key]
        found[user_id][index] = max(found[user_id][index], value)
    return {user_id: (day, month) for user_id, (day, month) in found.items()}


def limits_for(user: Any) -> Limits:
    """The user's limits in force: their own, else their groups' most generous, else settings."""
    return _read(user.pk, None).limits


def tokens_of(message: Message) -> tuple[int, bool]:
    """(tokens, estimated) one stored answer costs: prompt + completion as the endpoint reported
    them, or, for a count it did not report, as measured here (characters / 4): the prompt
    from `message.prompt_estimate` (set by the path that made the call) and the completion
    from the answer's stored text."""
    if message.total_tokens is not None:
        return message.total_tokens, False
    prompt, completion = message.prompt_tokens, message.completion_tokens
    estimated = prompt is None or completion is None
    if prompt is None:
        prompt = getattr(message, "prompt_estimate", None) or 0
    if completion is None:
        completion = estimate_tokens(message.content)
    return prompt + completion, estimated


def prompt_estimate(messages: list[dict[str, str]]) -> int:
    """The measured size of a call's messages, for `Message.prompt_estimate`."""
    return sum(message_tokens(message) for message in messages)


def charge(message: Message) -> None:
    """Add a newly stored answer's tokens to its owner's day and month (imports are not charged).

    On the database the counters are written in the answer's own transaction, so they stand or
    fall with it; with Redis they are written once it commits.
    """
    if message.role != Message.Role.ASSISTANT or message.source == Message.Source.IMPORT:
        return
    tokens, estimated = tokens_of(message)
    if not tokens:
        return
    owner_id = message.conversation.owner_id
    periods = Periods.at(timezone.now(), timezone.get_current_timezone())
    keys, ends = periods.keys(owner_id), periods.ends()
    names = ["day", "month"] + (["day_estimated", "month_estimated"] if estimated else [])

    def add() -> None:
        for name in names:
            counters.hit(keys[name], expires_at=ends[name], amount=tokens)

    if settings.REDIS_URL:
        transaction.on_commit(add, robust=True)
    else:
        add()


# --- Reading limits and use in one query --------------------------------------------------


def _read(user_id: Any, periods: Periods | None) -> Usage:
    """Limits (and, given `periods`, the tokens used) in one query; with Redis, the tokens come
    from one MGET. Only quoted table and column names are formatted into the SQL."""
    with_counters = periods is not None and not settings.REDIS_URL
    keys = periods.keys(user_id) if periods is not None else {}
    sql, params = _limits_sql(user_id)
    if with_counters:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        counter = connection.ops.quote_name(Counter._meta.db_table)
        key, value, expires = (connection.ops.quote_name(n) for n in ("key", "value", "expires"))
        for name in keys.values():
            sql.append(f"(SELECT {value} FROM {counter} WHERE {key} = %s AND {expires} > %s)")  # noqa: S608
            params += [name, now]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(sql), params)
        row = cursor.fetchone()
    own, groups = row[0:3], row[3:6]
    limits = Limits(*(_resolve(own[i], groups[i], _setting(i)) for i in range(3)))
    if periods is None:
        return Usage(limits, 0, 0)
    if with_counters:
        spent = dict(zip(keys, (int(v or 0) for v in row[6:]), strict=True))
    else:
        values = counters.peek_many(list(keys.values()))
        spent = {name: values[counter_key] for name, counter_key in keys.items()}
    return Usage(limits, **spent)


def _limits_sql(user_id: Any) -> tuple[list[str], list[Any]]:
    quote = connection.ops.quote_name
    own = quote(UserLimit._meta.db_table)
    group = quote(GroupLimit._meta.db_table)
    through = get_user_model().groups.through._meta
    member = quote(through.db_table)
    user_column = quote(through.get_field(get_user_model()._meta.model_name).column)
    group_column = quote(through.get_field("group").column)
    sql: list[str] = []
    params: list[Any] = []
    for field in _FIELDS:
        sql.append(f"(SELECT {quote(field)} FROM {own} WHERE {quote('user_id')} = %s)")  # noqa: S608
        params.append(user_id)
    for field in _FIELDS:
        column = f"g.{quote(field)}"
        sql.append(
            f"(SELECT MAX(CASE WHEN {column} = 0 THEN %s ELSE {column} END) FROM {group} g "  # noqa: S608
            f"JOIN {member} m ON m.{group_column} = g.{quote('group_id')} "
            f"WHERE m.{user_column} = %s)"
        )
        params += [_UNLIMITED, user_id]
    return sql, params


def _resolve(own: int | None, groups: int | None, default: int) -> int:
    if own is not None:
        return int(own)
    if groups is not None:
        return 0 if int(groups) >= _UNLIMITED else int(groups)
    return default


def _setting(index: int) -> int:
    return int(getattr(settings, _FIELDS[index].upper()))
