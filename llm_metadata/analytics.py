"""Usage figures for the analytics page, aggregated in the database.

Totals cover every message in scope; the per-model table and the charts cover answers
(assistant messages), which carry the tokens, timings and cost of each call.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    F,
    FloatField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, Coalesce, RowNumber, TruncDate

from .models import Feedback, Message

ANSWER = Message.Role.ASSISTANT
# Tokens of one call: the endpoint's total when reported, else prompt + completion.
TOKENS = Coalesce(
    F("total_tokens"), Coalesce(F("prompt_tokens"), 0) + Coalesce(F("completion_tokens"), 0)
)
_GENERATION = F("elapsed_time") - Coalesce(F("time_to_first_token"), 0.0)
# Same definition as Message.tokens_per_second, row by row in SQL.
TOKENS_PER_SECOND = Case(
    When(
        Q(completion_tokens__gt=0, elapsed_time__gt=0),
        then=Cast("completion_tokens", FloatField())
        / Case(
            When(Q(elapsed_time__gt=Coalesce(F("time_to_first_token"), 0.0)), then=_GENERATION),
            default=F("elapsed_time"),
            output_field=FloatField(),
        ),
    ),
    default=None,
    output_field=FloatField(),
)


@dataclass(frozen=True)
class Scope:
    """Which messages count: an owner (None: everyone), a half-open period, model and status."""

    owner: AbstractBaseUser | None
    start: dt.datetime
    end: dt.datetime
    model: str = ""
    status: str = ""


@dataclass
class ModelRow:
    model: str
    answers: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens: int = 0
    p50_elapsed: float | None = None
    p95_elapsed: float | None = None
    p50_ttft: float | None = None
    mean_tokens_per_second: float | None = None
    errors: int = 0
    cost: Decimal | None = None
    thumbs_up: int = 0
    thumbs_down: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.answers if self.answers else 0.0

    @property
    def error_percent(self) -> float:
        return 100 * self.error_rate


@dataclass
class Report:
    totals: dict[str, Any]
    models: list[ModelRow]
    days: list[dt.date]
    tokens_by_day: dict[str, dict[dt.date, int]] = field(default_factory=dict)


def scoped_messages(scope: Scope) -> QuerySet[Message]:
    """Every message of the scope (both roles)."""
    messages = Message.objects.filter(created__gte=scope.start, created__lt=scope.end)
    if scope.owner is not None:
        messages = messages.filter(conversation__owner=scope.owner)
    if scope.model:
        messages = messages.filter(model_name=scope.model)
    if scope.status:
        messages = messages.filter(status=scope.status)
    return messages


def totals(messages: QuerySet[Message]) -> dict[str, Any]:
    """Conversations, messages, tokens, cost, errors and cancellations in one query."""
    return messages.aggregate(
        conversations=Count("conversation", distinct=True),
        messages=Count("id"),
        prompt=Coalesce(Sum("prompt_tokens"), 0),
        completion=Coalesce(Sum("completion_tokens"), 0),
        total_cost=Sum("cost"),
        errors=Count("id", filter=Q(status=Message.Status.ERROR)),
        cancelled=Count("id", filter=Q(status=Message.Status.CANCELLED)),
    )


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate `percentile_cont(f) WITHIN GROUP (ORDER BY x)`."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float, **extra: Any) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within [0, 1]")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentiles(answers: QuerySet[Message], column: str, fraction: float) -> dict[str, float]:
    """`percentile_cont(fraction)` of `column` per model (NULLs ignored), by model name."""
    rows = answers.filter(**{f"{column}__isnull": False})
    if connection.vendor == "postgresql":
        grouped = rows.order_by().values("model_name").annotate(p=PercentileCont(column, fraction))
        return {row["model_name"]: row["p"] for row in grouped}
    return _percentiles_by_rank(rows, column, fraction)


def _percentiles_by_rank(rows: QuerySet[Message], column: str, fraction: float) -> dict[str, float]:
    """Portable percentile_cont: rank rows per model in SQL, fetch only the 1-2 rows around
    position fraction * (n - 1), and interpolate between them."""
    by_model = [F("model_name")]
    position = Value(fraction) * (F("n") - 1)
    ranked = (
        rows.order_by()
        .annotate(
            rank=Window(RowNumber(), partition_by=by_model, order_by=F(column).asc()),
            n=Window(Count("id"), partition_by=by_model),
        )
        # rank - 1 is the 0-based index; keep the integers strictly within (pos - 1, pos + 1).
        .filter(rank__gt=position, rank__lt=position + 2)
        .values_list("model_name", "rank", "n", column)
    )
    around: dict[str, list[tuple[int, float, int]]] = defaultdict(list)
    for model, rank, n, value in ranked:
        around[model].append((rank, value, n))
    result = {}
    for model, found in around.items():
        found.sort()
        n = found[0][2]
        pos = fraction * (n - 1)
        low, high = found[0][1], found[-1][1]
        result[model] = low + (high - low) * (pos - math.floor(pos))
    return result


def model_table(messages: QuerySet[Message]) -> list[ModelRow]:
    """One row per model over the answers in scope, busiest model first."""
    answers = messages.filter(role=ANSWER)
    grouped = (
        answers.order_by()
        .values("model_name")
        .annotate(
            n_answers=Count("id"),
            sum_prompt=Coalesce(Sum("prompt_tokens"), 0),
            sum_completion=Coalesce(Sum("completion_tokens"), 0),
            sum_tokens=Coalesce(Sum(TOKENS), 0),
            mean_tps=Avg(TOKENS_PER_SECOND),
            n_errors=Count("id", filter=Q(status=Message.Status.ERROR)),
            sum_cost=Sum("cost"),
        )
        .order_by("-n_answers", "model_name")
    )
    rows = {
        g["model_name"]: ModelRow(
            model=g["model_name"],
            answers=g["n_answers"],
            prompt_tokens=g["sum_prompt"],
            completion_tokens=g["sum_completion"],
            tokens=g["sum_tokens"],
            mean_tokens_per_second=g["mean_tps"],
            errors=g["n_errors"],
            cost=g["sum_cost"],
        )
        for g in grouped
    }
    if not rows:
        return []
    for attr, column, fraction in (
        ("p50_elapsed", "elapsed_time", 0.5),
        ("p95_elapsed", "elapsed_time", 0.95),
        ("p50_ttft", "time_to_first_token", 0.5),
    ):
        for model, value in percentiles(answers, column, fraction).items():
            setattr(rows[model], attr, value)
    votes = (
        Feedback.objects.filter(message__in=answers.values("id"))
        .order_by()
        .values("message__model_name")
        .annotate(
            up=Count("id", filter=Q(rating=Feedback.Rating.UP)),
            down=Count("id", filter=Q(rating=Feedback.Rating.DOWN)),
        )
    )
    for vote in votes:
        row = rows[vote["message__model_name"]]
        row.thumbs_up, row.thumbs_down = vote["up"], vote["down"]
    return list(rows.values())


def tokens_per_day(messages: QuerySet[Message], tzinfo: dt.tzinfo) -> dict[str, dict[dt.date, int]]:
    """Tokens of the answers per model per local calendar day (days without use are absent)."""
    grouped = (
        messages.filter(role=ANSWER)
        .annotate(day=TruncDate("created", tzinfo=tzinfo))
        .order_by()
        .values("model_name", "day")
        .annotate(sum_tokens=Coalesce(Sum(TOKENS), 0))
    )
    result: dict[str, dict[dt.date, int]] = defaultdict(dict)
    for row in grouped:
        result[row["model_name"]][row["day"]] = row["sum_tokens"]
    return dict(result)


def report(scope: Scope, tzinfo: dt.tzinfo) -> Report:
    """Everything the analytics page shows for one scope."""
    messages = scoped_messages(scope)
    first = scope.start.astimezone(tzinfo).date()
    last = (scope.end - dt.timedelta(microseconds=1)).astimezone(tzinfo).date()
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return Report(
        totals=totals(messages),
        models=model_table(messages),
        days=days,
        tokens_by_day=tokens_per_day(messages, tzinfo),
    )
