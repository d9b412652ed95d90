"""The analytics page: usage, latency, cost and feedback per model for a period."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .. import analytics, charts, usage, vote_ranking
from ..page_forms import AnalyticsFilterForm
from .data_owner import can_read_any, data_owner


@login_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    form = AnalyticsFilterForm(request.GET or None)
    data = form.valid_data()
    tzinfo = timezone.get_current_timezone()
    start, end = form.bounds(tzinfo)
    owner = data_owner(request, data.get("user", ""))
    scope = analytics.Scope(
        owner=owner,
        start=start,
        end=end,
        model=data.get("model", ""),
        status=data.get("status", ""),
        source=data.get("source", ""),
        api_key=data.get("key", ""),
    )
    # The roll-ups keep no source or key: a view narrowed by them is read from the messages.
    result = analytics.report(scope, tzinfo) if scope.by_origin else usage.report(scope, tzinfo)
    votes = vote_ranking.VoteScope(scope, include_flagged=request.GET.get("flagged") == "1")
    models = sorted(result.tokens_by_day)
    series = {name: result.tokens_by_day[name] for name in models}
    context = {
        "form": form,
        "report": result,
        "scope": scope,
        "owner_label": "everyone" if owner is None else owner.get_username(),
        "can_pick_user": can_read_any(request),
        "legend": [(name or "(none)", charts.swatch(i)) for i, name in enumerate(models)],
        "day_rows": [(day, [series[name].get(day, 0) for name in models]) for day in result.days],
        "day_models": models,
        "tokens_chart": charts.stacked_days(result.days, series, "Tokens per day per model"),
        "latency_chart": charts.latency_bars(
            [(row.model, row.p50_elapsed, row.p95_elapsed) for row in result.models],
            "Elapsed time by model (p50, p95)",
        ),
        "last_day": end - dt.timedelta(microseconds=1),
        "board": vote_ranking.board(votes, result.models),
    }
    return render(request, "llm_metadata/analytics.html", context)
