"""The analytics page: usage, latency, cost and feedback per model for a period."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .. import analytics, charts
from ..models import Message
from .data_owner import can_read_any, data_owner

PERIODS = (
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("custom", "Dates"),
)


class AnalyticsFilterForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    model = forms.CharField(required=False, max_length=200)
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Message.Status.choices], required=False
    )
    user = forms.CharField(required=False, max_length=150)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("Custom dates need both a start and an end date.")
            if start > end:
                raise forms.ValidationError("The start date is after the end date.")
            if (end - start).days > 3660:
                raise forms.ValidationError("Pick a period of at most ten years.")
        return data


def _period(data: dict, tzinfo: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """Half-open [start, end) in UTC covering whole local days."""
    if data.get("period") == "custom":
        first, last = data["start"], data["end"]
    else:
        last = timezone.localdate(timezone=tzinfo)
        first = last - dt.timedelta(days=int(data.get("period") or "30") - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tzinfo)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tzinfo)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


@login_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    form = AnalyticsFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    tzinfo = timezone.get_current_timezone()
    start, end = _period(data, tzinfo)
    owner = data_owner(request, data.get("user", ""))
    scope = analytics.Scope(
        owner=owner,
        start=start,
        end=end,
        model=data.get("model", ""),
        status=data.get("status", ""),
    )
    result = analytics.report(scope, tzinfo)
    models = sorted(result.tokens_by_day)
    series = {name: result.tokens_by_day[name] for name in models}
    context = {
        "form": form,
        "report": result,
        "scope": scope,
        "owner_label": "everyone" if owner is None else owner.get_username(),
        "can_pick_user": can_read_any(request),
        "legend": [(name or "(none)", charts.colour(i)) for i, name in enumerate(models)],
        "day_rows": [(day, [series[name].get(day, 0) for name in models]) for day in result.days],
        "day_models": models,
        "tokens_chart": charts.stacked_days(result.days, series, "Tokens per day per model"),
        "latency_chart": charts.latency_bars(
            [(row.model, row.p50_elapsed, row.p95_elapsed) for row in result.models],
            "Elapsed time by model (p50, p95)",
        ),
        "last_day": end - dt.timedelta(microseconds=1),
    }
    return render(request, "llm_metadata/analytics.html", context)
