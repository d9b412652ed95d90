"""Daily roll-ups of the messages, so that the analytics page reads a few thousand rows instead
of every message of a period.

`roll_day(day)` computes one UTC day's roll-ups from its messages and feedback, replacing what
was there (idempotent); for today it covers the messages created before a moment `GRACE` ago
(the day's `until`). `manage.py rollup_usage` rolls every day that needs it, and today again.
A day's roll-ups count only while nothing changed since: every later write to a message or
feedback before its `until` (saved, deleted, imported) sets the day's `changed` mark
(`mark_changed`), and the analytics page reads that day from the messages again until the next
roll. So the figures are always the raw rows' figures; the roll-ups only make them cheaper.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from typing import Any

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, ExtractMinute, Floor, Ln, Now, TruncHour
from django.utils import timezone

from . import analytics
from .metrics import TOKENS_PER_SECOND
from .models import Feedback, Message
from .usage_models import RolledDay, UsageBin, UsageConversation, UsageQuarter

UTC = dt.UTC
# Latency histograms: BINS_PER_E bins per factor e (each bin spans 3.2 % of its values), with
# each bin's lowest and highest value kept; docs/metadata.md gives the resulting error.
BINS_PER_E = 32
NOT_POSITIVE = -1_000_000  # the bin of zero (and of any value that is not above zero)
METRICS = {"e": "elapsed_time", "t": "time_to_first_token"}
QUARTER = dt.timedelta(minutes=15)
# Roll-ups cover messages created at least this long before the roll: a turn's writes are
# committed by then (a later commit of an earlier moment still marks its day changed).
GRACE = dt.timedelta(minutes=2)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, UTC)
    return start, start + dt.timedelta(days=1)


def bin_of(column: str) -> Case:
    """The histogram bin of a positive value: floor(ln(x) * BINS_PER_E)."""
    return Case(
        When(**{f"{column}__gt": 0}, then=Cast(Floor(Ln(F(column)) * BINS_PER_E), IntegerField())),
        default=Value(NOT_POSITIVE),
        output_field=IntegerField(),
    )


def quarter_key(column: str = "created") -> dict[str, Any]:
    """Group-by expressions that name a quarter hour (UTC): its hour and which quarter of it."""
    return {
        "hour": TruncHour(column, tzinfo=UTC),
        "q": Floor(ExtractMinute(column, tzinfo=UTC) / Value(15)),
    }


def quarter_start(row: dict[str, Any]) -> dt.datetime:
    hour = row["hour"]
    if timezone.is_naive(hour):  # SQLite gives the hour without its zone
        hour = hour.replace(tzinfo=UTC)
    return hour + int(row["q"]) * QUARTER


# Sums over messages, named as UsageQuarter's fields (no name is a field of Message's).
SUMS = {
    "messages": Count("id"),
    "prompt": Coalesce(Sum("prompt_tokens"), 0),
    "completion": Coalesce(Sum("completion_tokens"), 0),
    "tokens": Coalesce(Sum(analytics.TOKENS), 0),
    "cost_sum": Sum("cost"),  # None when no cost of the group is known, as in the raw sum
    "tps_sum": Coalesce(Sum(TOKENS_PER_SECOND), 0.0),
    "tps_count": Count(TOKENS_PER_SECOND),
}
THUMBS = {
    "thumbs_up": Count("id", filter=Q(rating=Feedback.Rating.UP)),
    "thumbs_down": Count("id", filter=Q(rating=Feedback.Rating.DOWN)),
}
SUM_FIELDS = (*SUMS, *THUMBS)


def add_sums(into: dict[str, Any], row: dict[str, Any]) -> None:
    """Add one group's sums to another's (the cost stays None until a known cost comes)."""
    for name in SUM_FIELDS:
        value = row.get(name)
        if name == "cost_sum":
            if value is not None:
                into[name] = (into.get(name) or Decimal(0)) + value
            else:
                into.setdefault(name, None)
        else:
            into[name] = into.get(name, 0) + (value or 0)


@dataclass
class Bin:
    """A histogram bin: how many values, and the lowest and highest of them."""

    count: int
    low: float
    high: float

    def add(self, count: int, low: float, high: float) -> None:
        self.count += count
        self.low, self.high = min(self.low, low), max(self.high, high)


def histogram_rows(messages: QuerySet[Message], *group: str) -> QuerySet:
    """Bins of both metrics over these messages' answers, grouped by `group` too (one query)."""
    answers = messages.filter(role=Message.Role.ASSISTANT)
    elapsed, ttft = (
        answers.filter(**{f"{column}__isnull": False})
        .annotate(metric=Value(metric), bin=bin_of(column))
        .order_by()
        .values(*group, "metric", "bin")
        .annotate(count=Count("id"), low=Min(column), high=Max(column))
        for metric, column in METRICS.items()
    )
    return elapsed.union(ttft, all=True)


def roll_day(day: dt.date, now: dt.datetime | None = None) -> None:
    """Replace one UTC day's roll-ups with what its messages and feedback say now (for today:
    those created before `GRACE` ago)."""
    start, end = day_bounds(day)
    until = min(end, (now or timezone.now()) - GRACE)
    messages = Message.objects.filter(created__gte=start, created__lt=until)
    feedback = Feedback.objects.filter(message__created__gte=start, message__created__lt=until)
    with transaction.atomic():
        # First, so that PostgreSQL's now() (the transaction's start) is no later than what is
        # read below, and SQLite's write lock is taken before reading.
        RolledDay.objects.update_or_create(
            day=day, defaults={"until": until, "rolled": Now(), "changed": None}
        )
        for model in (UsageQuarter, UsageBin, UsageConversation):
            model.objects.filter(**_day_filter(model, start, end, day)).delete()
        UsageQuarter.objects.bulk_create(_quarters(messages, feedback), batch_size=1000)
        UsageBin.objects.bulk_create(_bins(day, messages), batch_size=1000)
        UsageConversation.objects.bulk_create(_conversations(day, messages), batch_size=1000)


def _day_filter(model: type, start: dt.datetime, end: dt.datetime, day: dt.date) -> dict:
    if model is UsageQuarter:
        return {"quarter__gte": start, "quarter__lt": end}
    return {"day": day}


def _quarters(messages: QuerySet[Message], feedback: QuerySet[Feedback]) -> list[UsageQuarter]:
    key = ("model_name", "role", "status")
    sums = (
        messages.annotate(owner=F("conversation__owner"), **quarter_key())
        .order_by()
        .values("owner", "hour", "q", *key)
        .annotate(**SUMS)
    )
    votes = (
        feedback.annotate(
            owner=F("message__conversation__owner"),
            model_name=F("message__model_name"),
            role=F("message__role"),
            status=F("message__status"),
            **quarter_key("message__created"),
        )
        .order_by()
        .values("owner", "hour", "q", *key)
        .annotate(**THUMBS)
    )
    groups: dict[tuple, dict[str, Any]] = defaultdict(dict)
    for row in [*sums, *votes]:
        moment = quarter_start(row)
        for owner in (row["owner"], None):
            add_sums(groups[(owner, moment, *(row[name] for name in key))], row)
    return [
        UsageQuarter(
            owner_id=owner,
            quarter=moment,
            model_name=model,
            role=role,
            status=status,
            **{name: values.get(name, 0) for name in SUM_FIELDS if name != "cost_sum"},
            cost_sum=values.get("cost_sum"),
        )
        for (owner, moment, model, role, status), values in groups.items()
    ]


def _bins(day: dt.date, messages: QuerySet[Message]) -> list[UsageBin]:
    key = ("model_name", "status", "metric", "bin")
    merged: dict[tuple, Bin] = {}
    rows = histogram_rows(messages.annotate(owner=F("conversation__owner")), "owner", *key[:2])
    for row in rows:
        for owner in (row["owner"], None):
            group = (owner, *(row[name] for name in key))
            if group in merged:
                merged[group].add(row["count"], row["low"], row["high"])
            else:
                merged[group] = Bin(row["count"], row["low"], row["high"])
    return [
        UsageBin(
            day=day,
            owner_id=owner,
            model_name=model,
            status=status,
            metric=metric,
            bin=number,
            count=values.count,
            low=values.low,
            high=values.high,
        )
        for (owner, model, status, metric, number), values in merged.items()
    ]


def _conversations(day: dt.date, messages: QuerySet[Message]) -> list[UsageConversation]:
    rows = (
        messages.order_by()
        .values_list("conversation_id", "conversation__owner", "model_name", "status")
        .distinct()
    )
    found = [
        UsageConversation(
            day=day, conversation_id=conversation, owner_id=owner, model_name=model, status=status
        )
        for conversation, owner, model, status in rows
    ]
    every = {(row.conversation_id, row.owner_id) for row in found}
    found += [
        UsageConversation(day=day, conversation_id=conversation, owner_id=owner, every=True)
        for conversation, owner in every
    ]
    return found


def clean_spans(start: dt.datetime, end: dt.datetime, using: str) -> list[tuple]:
    """[(day start, until)] of the days overlapping [start, end) whose roll-ups hold (rolled,
    unchanged since), in order."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    rolled = RolledDay.objects.using(using).filter(day__gte=first, day__lte=last)
    unchanged = Q(changed__isnull=True) | Q(changed__lt=F("rolled"))
    spans = []
    for day, until in rolled.filter(unchanged).order_by("day").values_list("day", "until"):
        day_start = day_bounds(day)[0]
        if until > day_start:
            spans.append((day_start, until))
    return spans


def days_to_roll(now: dt.datetime | None = None, *, every: bool = False) -> list[dt.date]:
    """Days with messages whose roll-ups are missing or no longer hold, and today (which goes
    on growing); `every`: all days with messages."""
    now = now or timezone.now()
    today = (now - GRACE).astimezone(UTC).date()
    first = Message.objects.order_by("created").values_list("created", flat=True).first()
    if first is None or first.astimezone(UTC).date() > today:
        return []
    start = first.astimezone(UTC).date()
    days = [start + dt.timedelta(days=i) for i in range((today - start).days + 1)]
    if every:
        return days
    end = day_bounds(today)[0]
    clean = {span[0].date() for span in clean_spans(day_bounds(start)[0], end, "default")}
    clean.discard(today)
    return [day for day in days if day not in clean]


def mark_changed(moments: Iterable[dt.datetime]) -> None:
    """The messages or feedback of these moments changed: their days' roll-ups no longer hold.

    Runs once the change is committed, and touches the database only for moments that a roll
    may have covered (older than `GRACE`), so an ordinary turn costs no query here.
    """
    moments = [moment for moment in moments if moment is not None]
    if moments:
        transaction.on_commit(lambda: _mark(moments))


def _mark(moments: list[dt.datetime]) -> None:
    recent = timezone.now() - GRACE
    covered = [
        Q(day=moment.astimezone(UTC).date(), until__gt=moment)
        for moment in moments
        if moment < recent
    ]
    if covered:
        RolledDay.objects.filter(reduce(operator.or_, covered)).update(changed=Now())


def supports_quarters(tzinfo: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether every local midnight of the period falls on a quarter hour (true of every zone
    in use today; not of some historical offsets, whose periods are read from the messages)."""
    from .local_dates import offsets_between

    return all(minutes % 15 == 0 for _, minutes in offsets_between(start, end, tzinfo))
