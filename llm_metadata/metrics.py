"""Measurements derived from a message's stored ones, each defined once: in Python for one
message (pages, exports, the stream) and, beside it, the same definition in SQL for aggregates
(analytics). `tests/test_record.py` holds each pair to the same values.
"""

from __future__ import annotations

from django.db.models import Case, F, FloatField, Q, When
from django.db.models.functions import Cast, Coalesce


def tokens_per_second(
    completion_tokens: int | None, elapsed_time: float | None, time_to_first_token: float | None
) -> float | None:
    """Completion tokens over generation time (after the first token), when both are known.

    Generation time is `elapsed_time - time_to_first_token`, or `elapsed_time` alone when that
    difference is not positive.
    """
    if not completion_tokens or not elapsed_time:
        return None
    generation = elapsed_time - (time_to_first_token or 0.0)
    if generation <= 0:
        generation = elapsed_time
    return completion_tokens / generation


_FIRST_TOKEN = Coalesce(F("time_to_first_token"), 0.0)
# tokens_per_second, row by row in SQL.
TOKENS_PER_SECOND = Case(
    When(
        Q(completion_tokens__gt=0, elapsed_time__gt=0),
        then=Cast("completion_tokens", FloatField())
        / Case(
            When(Q(elapsed_time__gt=_FIRST_TOKEN), then=F("elapsed_time") - _FIRST_TOKEN),
            default=F("elapsed_time"),
            output_field=FloatField(),
        ),
    ),
    default=None,
    output_field=FloatField(),
)
