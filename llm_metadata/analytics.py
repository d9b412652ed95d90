"""Usage figures for the analytics page, aggregated in the database from the messages.

Totals cover every message in scope; the per-model table and the charts cover answers
(assistant messages), which carry the tokens, timings and cost of each call.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    F,
    FloatField,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce

from .db_routing import reporting_db
from .local_dates import local_date
from .metrics import TOKENS_PER_SECOND
from .models import Feedback, Message

ANSWER = Message.Role.ASSISTANT
# Tokens of one call: the endpoint's total when reported, else prompt + completion.
TOKENS = Coalesce(
    F("total_tokens"), Coalesce(F("prompt_tokens"), 0) + Coalesce(F("completion_tokens"), 0)
)


@dataclass(frozen=True)
class Scope:
    """Which messages count: an owner (None: everyone), a half-open period, model and status."""

    owner: AbstractBaseUser | None
    start: dt.datetime
    end: dt.datetime
    model: str = ""
    status: str = ""
    source: str = ""  # chat, api, …
    api_key: str = ""  # the name of the API key the calls were made with

    @property
    def by_origin(self) -> bool:
        """Narrowed by source or key, which the roll-ups do not keep: read from the messages."""
        return bool(self.source or self.api_key)


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
    """Every message of the scope (both roles), read from the reporting database."""
    messages = Message.objects.using(reporting_db()).filter(
        created__gte=scope.start, created__lt=scope.end
    )
    if scope.owner is not None:
        messages = messages.filter(conversation__owner=scope.owner)
    if scope.model:
        messages = messages.filter(model_name=scope.model)
    if scope.status:
        messages = messages.filter(status=scope.status)
    if scope.source:
        messages = messages.filter(source=scope.source)
    if scope.api_key:
        messages = messages.filter(api_key_name=scope.api_key)
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
    """`percentile_cont(f) WITHIN GROUP (ORDER BY x)`: PostgreSQL's own ordered-set aggregate,
    on SQLite the equivalent registered by `sqlite_percentile`. NULLs are ignored."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float, **extra: Any) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within [0, 1]")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "%(function)s(%(expressions)s, %(fraction)s)"
        return self.as_sql(compiler, connection, template=template, **extra)


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
            p50_elapsed=PercentileCont("elapsed_time", 0.5),
            p95_elapsed=PercentileCont("elapsed_time", 0.95),
            p50_ttft=PercentileCont("time_to_first_token", 0.5),
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
            p50_elapsed=g["p50_elapsed"],
            p95_elapsed=g["p95_elapsed"],
            p50_ttft=g["p50_ttft"],
        )
        for g in grouped
    }
    if not rows:
        return []
    votes = (
        Feedback.objects.using(answers.db)
        .filter(message__in=answers.values("id"))
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


def tokens_per_day(
    messages: QuerySet[Message], tzinfo: dt.tzinfo, start: dt.datetime, end: dt.datetime
) -> dict[str, dict[dt.date, int]]:
    """Tokens of the answers per model per local calendar day (days without use are absent);
    the messages lie within [start, end)."""
    grouped = (
        messages.filter(role=ANSWER)
        .annotate(day=local_date("created", tzinfo, start, end))
        .order_by()
        .values("model_name", "day")
        .annotate(sum_tokens=Coalesce(Sum(TOKENS), 0))
    )
    result: dict[str, dict[dt.date, int]] = defaultdict(dict)
    for row in grouped:
        result[row["model_name"]][row["day"]] = row["sum_tokens"]
    return dict(result)


def report(scope: Scope, tzinfo: dt.tzinfo) -> Report:
    """Everything the analytics page shows for one scope, from the messages alone (the page
    reads the same figures from the roll-ups: `usage.report`)."""
    messages = scoped_messages(scope)
    first = scope.start.astimezone(tzinfo).date()
    last = (scope.end - dt.timedelta(microseconds=1)).astimezone(tzinfo).date()
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return Report(
        totals=totals(messages),
        models=model_table(messages),
        days=days,
        tokens_by_day=tokens_per_day(messages, tzinfo, scope.start, scope.end),
    )
