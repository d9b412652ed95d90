"""The analytics page's figures from the daily roll-ups, and from the messages where there are none.

A period is cut into the UTC days inside it whose roll-ups hold (`rollups.clean_spans`; today up
to its last roll) and the rest (the period's first and last hours in the viewer's zone, the
minutes since today's roll, days changed since their roll): the first part is read from the
roll-ups, the rest from the messages with the same groupings, and the two are added. Counts and
sums are exactly the messages' (`analytics.report` computes them from the messages alone; a
test compares). Percentiles come from latency histograms, within the error
stated in docs/metadata.md. Reads go to `db_routing.reporting_db()` (the replica, when set).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Max, Min, Q, QuerySet, Sum

from . import analytics, rollups
from .db_routing import reporting_db
from .local_dates import local_date
from .models import Feedback, Message
from .usage_models import UsageBin, UsageConversation, UsageQuarter

Span = tuple[dt.datetime, dt.datetime]
Key = tuple[str, str, str, dt.date]  # model, role, status, local day


@dataclass
class Parts:
    """A period cut by what may be read from the roll-ups.

    `days`: rolled parts of UTC days that lie wholly in the period (every roll-up serves);
    `quarters`: rolled parts of days that the period cuts (the quarter-hour sums serve, the
    day-keyed histograms and conversation rows do not); `raw`: the rest. Each list is ordered,
    with touching spans joined.
    """

    days: list[Span] = field(default_factory=list)
    quarters: list[Span] = field(default_factory=list)
    raw: list[Span] = field(default_factory=list)


def _add(spans: list[Span], start: dt.datetime, end: dt.datetime) -> None:
    if spans and spans[-1][1] == start:
        spans[-1] = (spans[-1][0], end)
    else:
        spans.append((start, end))


def split(scope: analytics.Scope, tzinfo: dt.tzinfo, db: str) -> Parts:
    """The period's parts: see `Parts`. Without quarter-hour local days (a historical offset),
    all raw."""
    parts = Parts()
    cursor = scope.start
    if rollups.supports_quarters(tzinfo, scope.start, scope.end):
        for day_start, until in rollups.clean_spans(scope.start, scope.end, db):
            start, end = max(day_start, scope.start), min(until, scope.end)
            if start >= end:
                continue
            if cursor < start:
                _add(parts.raw, cursor, start)
            whole = (start, end) == (day_start, until)
            _add(parts.days if whole else parts.quarters, start, end)
            cursor = end
    if cursor < scope.end:
        _add(parts.raw, cursor, scope.end)
    return parts


def within(column: str, spans: list[Span]) -> Q:
    spans_q = Q(pk__in=[])
    for start, end in spans:
        spans_q |= Q(**{f"{column}__gte": start, f"{column}__lt": end})
    return spans_q


def _filtered(queryset: QuerySet, scope: analytics.Scope, owner_column: str) -> QuerySet:
    if scope.model:
        queryset = queryset.filter(model_name=scope.model)
    if scope.status:
        queryset = queryset.filter(status=scope.status)
    if owner_column:
        queryset = queryset.filter(**{owner_column: scope.owner})
    return queryset


def _rolled_rows(
    scope: analytics.Scope, spans: list[Span], tzinfo: dt.tzinfo, db: str
) -> Iterator[dict[str, Any]]:
    rows = _filtered(UsageQuarter.objects.using(db), scope, "owner")
    if scope.owner is None:
        rows = rows.filter(owner__isnull=True)
    rows = (
        rows.filter(within("quarter", spans))
        .annotate(day=local_date("quarter", tzinfo, scope.start, scope.end))
        .order_by()
        .values("model_name", "role", "status", "day")
        .annotate(**{f"total_{name}": Sum(name) for name in rollups.SUM_FIELDS})
    )
    for row in rows:
        yield {**row, **{name: row[f"total_{name}"] for name in rollups.SUM_FIELDS}}


def _raw_messages(scope: analytics.Scope, spans: list[Span]) -> QuerySet[Message]:
    return analytics.scoped_messages(scope).filter(within("created", spans))


def _raw_rows(messages: QuerySet[Message], scope: analytics.Scope, tzinfo: dt.tzinfo) -> Any:
    return (
        messages.annotate(day=local_date("created", tzinfo, scope.start, scope.end))
        .order_by()
        .values("model_name", "role", "status", "day")
        .annotate(**rollups.SUMS)
    )


def report(scope: analytics.Scope, tzinfo: dt.tzinfo) -> analytics.Report:
    """What `analytics.report` computes from the messages, from the roll-ups where they hold."""
    db = reporting_db()
    parts = split(scope, tzinfo, db)
    rolled = sorted(parts.days + parts.quarters)
    messages = _raw_messages(scope, parts.raw)
    merged: dict[Key, dict[str, Any]] = defaultdict(dict)
    sources: list[Iterable[dict[str, Any]]] = [_raw_rows(messages, scope, tzinfo)]
    if rolled:
        sources.append(_rolled_rows(scope, rolled, tzinfo, db))
    for source in sources:
        for row in source:
            key = (row["model_name"], row["role"], row["status"], row["day"])
            rollups.add_sums(merged[key], row)
    # Histograms and conversations: the whole days from the roll-ups, the rest from messages.
    unrolled = _raw_messages(scope, sorted(parts.raw + parts.quarters))
    totals = _totals(merged)
    totals["conversations"] = _conversations(scope, parts.days, unrolled, db)
    models = _model_rows(merged, _raw_thumbs(scope, parts.raw, db))
    _percentiles(models, scope, parts.days, unrolled, db)
    first = scope.start.astimezone(tzinfo).date()
    last = (scope.end - dt.timedelta(microseconds=1)).astimezone(tzinfo).date()
    tokens_by_day: dict[str, dict[dt.date, int]] = defaultdict(dict)
    for (model, role, _, day), sums in merged.items():
        if role == analytics.ANSWER and sums.get("messages"):
            tokens_by_day[model][day] = tokens_by_day[model].get(day, 0) + sums["tokens"]
    return analytics.Report(
        totals=totals,
        models=models,
        days=[first + dt.timedelta(days=i) for i in range((last - first).days + 1)],
        tokens_by_day=dict(tokens_by_day),
    )


def _raw_thumbs(scope: analytics.Scope, spans: list[Span], db: str) -> dict[str, dict]:
    """{model: thumbs} of the feedback on the answers read from the messages (from the feedback
    side: the answers of the spans by their index, then their feedback by its own)."""
    votes = Feedback.objects.using(db).filter(
        within("message__created", spans), message__role=Message.Role.ASSISTANT
    )
    if scope.owner is not None:
        votes = votes.filter(message__conversation__owner=scope.owner)
    if scope.model:
        votes = votes.filter(message__model_name=scope.model)
    if scope.status:
        votes = votes.filter(message__status=scope.status)
    grouped = votes.order_by().values("message__model_name").annotate(**rollups.THUMBS)
    return {row["message__model_name"]: row for row in grouped}


def _totals(merged: dict[Key, dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {"messages": 0, "prompt": 0, "completion": 0, "errors": 0}
    totals.update(total_cost=None, cancelled=0)
    for (_, _, status, _), sums in merged.items():
        totals["messages"] += sums.get("messages", 0)
        totals["prompt"] += sums.get("prompt", 0)
        totals["completion"] += sums.get("completion", 0)
        if sums.get("cost_sum") is not None:
            totals["total_cost"] = (totals["total_cost"] or Decimal(0)) + sums["cost_sum"]
        if status == Message.Status.ERROR:
            totals["errors"] += sums.get("messages", 0)
        elif status == Message.Status.CANCELLED:
            totals["cancelled"] += sums.get("messages", 0)
    return totals


def _model_rows(merged: dict[Key, dict[str, Any]], thumbs: dict[str, Any]) -> list:
    per_model: dict[str, dict[str, Any]] = defaultdict(dict)
    errors: dict[str, int] = defaultdict(int)
    for (model, role, status, _), sums in merged.items():
        if role != analytics.ANSWER:
            continue
        rollups.add_sums(per_model[model], sums)
        if status == Message.Status.ERROR:
            errors[model] += sums.get("messages", 0)
    for model, votes in thumbs.items():
        if model in per_model:
            per_model[model]["thumbs_up"] += votes["thumbs_up"]
            per_model[model]["thumbs_down"] += votes["thumbs_down"]
    rows = [
        analytics.ModelRow(
            model=model,
            answers=sums["messages"],
            prompt_tokens=sums["prompt"],
            completion_tokens=sums["completion"],
            tokens=sums["tokens"],
            mean_tokens_per_second=sums["tps_sum"] / sums["tps_count"]
            if sums["tps_count"]
            else None,
            errors=errors[model],
            cost=sums.get("cost_sum"),
            thumbs_up=sums["thumbs_up"],
            thumbs_down=sums["thumbs_down"],
        )
        for model, sums in per_model.items()
        if sums.get("messages")
    ]
    return sorted(rows, key=lambda row: (-row.answers, row.model))


def _conversations(
    scope: analytics.Scope, rolled: list[Span], messages: QuerySet[Message], db: str
) -> int:
    raw = messages.order_by().values("conversation_id")
    if not rolled:
        return raw.distinct().count()
    stored = _filtered(UsageConversation.objects.using(db), scope, "owner" if scope.owner else "")
    stored = stored.filter(_days(rolled), every=not (scope.model or scope.status))
    return stored.order_by().values("conversation_id").union(raw).count()


def _days(spans: list[Span]) -> Q:
    """The day-keyed roll-up rows of these spans (each starts a UTC day; the last may end
    within one: today, rolled up to its `until`)."""
    days = Q(pk__in=[])
    for start, end in spans:
        last = (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
        days |= Q(day__gte=start.astimezone(dt.UTC).date(), day__lte=last)
    return days


def _percentiles(
    models: list, scope: analytics.Scope, rolled: list[Span], messages: QuerySet[Message], db: str
) -> None:
    bins: dict[tuple[str, str], dict[int, rollups.Bin]] = defaultdict(dict)
    rows: list[Iterable[dict[str, Any]]] = [rollups.histogram_rows(messages, "model_name")]
    if rolled:
        stored = _filtered(UsageBin.objects.using(db), scope, "owner")
        if scope.owner is None:
            stored = stored.filter(owner__isnull=True)
        rows.append(
            stored.filter(_days(rolled))
            .order_by()
            .values("model_name", "metric", "bin")
            .annotate(count=Sum("count"), low=Min("low"), high=Max("high"))
        )
    for source in rows:
        for row in source:
            found = bins[(row["model_name"], row["metric"])]
            if row["bin"] in found:
                found[row["bin"]].add(row["count"], row["low"], row["high"])
            else:
                found[row["bin"]] = rollups.Bin(row["count"], row["low"], row["high"])
    for row in models:
        elapsed = bins.get((row.model, "e"), {})
        row.p50_elapsed = percentile(elapsed, 0.5)
        row.p95_elapsed = percentile(elapsed, 0.95)
        row.p50_ttft = percentile(bins.get((row.model, "t"), {}), 0.5)


def percentile(bins: dict[int, rollups.Bin], fraction: float) -> float | None:
    """percentile_cont over a histogram: the values of a bin are taken as evenly spread between
    its lowest and highest (exact when a bin holds one or two distinct values)."""
    ordered = [bins[number] for number in sorted(bins)]
    total = sum(b.count for b in ordered)
    if not total:
        return None
    position = fraction * (total - 1)
    low_rank = math.floor(position)
    low = _value_at(ordered, low_rank)
    high = _value_at(ordered, min(low_rank + 1, total - 1))
    return low + (high - low) * (position - low_rank)


def _value_at(ordered: list[rollups.Bin], rank: int) -> float:
    for found in ordered:
        if rank < found.count:
            if found.count == 1:
                return found.low
            return found.low + (found.high - found.low) * rank / (found.count - 1)
        rank -= found.count
    return ordered[-1].high
