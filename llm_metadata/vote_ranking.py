"""The votes behind the ranking on the analytics page: each two-model comparison's latest vote,
turned into `ranking.Outcome`s (two queries), ranked, and set beside the models' usage figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from . import analytics, ranking
from .compare_models import Comparison, ComparisonColumn, Vote
from .db_routing import reporting_db


@dataclass(frozen=True)
class VoteScope:
    """The analytics page's owner (None: everyone) and period, applied to the comparisons."""

    scope: analytics.Scope
    include_flagged: bool = False


@dataclass(frozen=True)
class Counted:
    outcomes: list[ranking.Outcome]
    flagged: int  # latest votes left out for naming a model or vendor


def counted_votes(where: VoteScope) -> Counted:
    """The latest vote of every two-model comparison in scope, flagged ones left out unless
    asked for."""
    db = reporting_db()
    comparisons = Comparison.objects.using(db).filter(
        created__gte=where.scope.start, created__lt=where.scope.end
    )
    if where.scope.owner is not None:
        comparisons = comparisons.filter(owner=where.scope.owner)
    latest: dict[object, tuple[str, bool]] = {}
    votes = (
        Vote.objects.using(db)
        .filter(comparison__in=comparisons)
        .order_by("comparison_id", "-created", "-id")
        .values_list("comparison_id", "choice", "flagged")
    )
    for comparison_id, choice, flagged in votes.iterator(chunk_size=5000):
        latest.setdefault(comparison_id, (choice, flagged))
    sides: dict[object, list[str]] = {}
    columns = (
        ComparisonColumn.objects.using(db)
        .filter(comparison__in=comparisons)
        .order_by("comparison_id", "position")
        .values_list("comparison_id", "model_name")
    )
    for comparison_id, model_name in columns.iterator(chunk_size=5000):
        sides.setdefault(comparison_id, []).append(model_name)
    outcomes, flagged_count = [], 0
    for comparison_id, (choice, flagged) in latest.items():
        models = sides.get(comparison_id, [])
        if len(models) != 2:
            continue
        if flagged:
            flagged_count += 1
            if not where.include_flagged:
                continue
        outcomes.append(ranking.Outcome(models[0], models[1], choice))
    return Counted(outcomes, flagged_count)


@dataclass(frozen=True)
class RankRow:
    """A ranked model with its usage figures from the same page's report."""

    ranked: ranking.RankedModel
    p50_elapsed: float | None
    tokens_per_second: float | None
    cost_per_1000: Decimal | None


@dataclass(frozen=True)
class Board:
    ranking: ranking.Ranking
    rows: list[RankRow]
    flagged: int
    include_flagged: bool


def board(where: VoteScope, usage_rows: list[analytics.ModelRow]) -> Board:
    """The ranking of the votes in scope, each model beside its p50 latency, tokens per second
    and cost per 1,000 answers (from the analytics report's per-model rows)."""
    counted = counted_votes(where)
    result = ranking.rank(counted.outcomes)
    usage = {row.model: row for row in usage_rows}
    rows = []
    for ranked in result.models:
        row = usage.get(ranked.model)
        cost = None
        if row is not None and row.cost is not None and row.answers:
            cost = row.cost * 1000 / row.answers
        rows.append(
            RankRow(
                ranked,
                row.p50_elapsed if row else None,
                row.mean_tokens_per_second if row else None,
                cost,
            )
        )
    return Board(result, rows, counted.flagged, where.include_flagged)
