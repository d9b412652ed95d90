"""Comparisons: /compare/ (the form, and the plain post that waits for every answer), its
streaming twin /compare/stream/, a comparison's page with follow-ups (plain and streamed), and
votes. Everything is the owner's only: another user's comparison is a 404."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import catalog, compare, services
from ..compare_forms import CompareForm, FollowUpForm, VoteForm
from ..compare_models import Comparison, ComparisonColumn, Vote
from ..forms import initial_for, model_options
from ..models import Message, store_stale_html
from ..streaming import sse

RECENT = 20  # comparisons listed under the form


@dataclass
class Column:
    """A column as the page shows it: its label (the model, or "Model A" while blind)."""

    column: ComparisonColumn
    label: str
    messages: list[Message]


def _label(column: ComparisonColumn, shown: bool) -> str:
    return column.model_name if shown else f"Model {column.letter}"


def _owned(request: HttpRequest, pk: Any) -> Comparison:
    return get_object_or_404(Comparison.objects.for_user(request.user), pk=pk)


def _columns(columns: Sequence[ComparisonColumn], shown: bool) -> list[Column]:
    """Each column with its thread, oldest first (one query for all of them)."""
    by_conversation: dict[Any, list[Message]] = {c.conversation_id: [] for c in columns}
    messages = Message.objects.filter(conversation__in=list(by_conversation)).order_by(
        "created", "id"
    )
    for message in messages:
        by_conversation[message.conversation_id].append(message)
    store_stale_html([m for thread in by_conversation.values() for m in thread])
    return [Column(c, _label(c, shown), by_conversation[c.conversation_id]) for c in columns]


def _form_page(request: HttpRequest, form: CompareForm, status: int = 200) -> HttpResponse:
    options = model_options(form.offered)
    if not form.is_bound:
        first = initial_for(options)
        form.initial = {**first, "models": [o.name for o in options[:2]]}
    recent = Comparison.objects.for_user(request.user).prefetch_related("columns")[:RECENT]
    context = {"form": form, "recent": recent}
    return render(request, "llm_metadata/compare.html", context, status=status)


def _compare_form(request: HttpRequest) -> CompareForm:
    offered = catalog.offered_models()
    form = CompareForm(request.POST or None, offered=offered)
    form.offered = offered
    return form


def _compare_ask(request: HttpRequest, form: CompareForm) -> compare.CompareAsk:
    data = form.cleaned_data
    return compare.CompareAsk(
        user=request.user,
        question=data["question"],
        models=data["models"],
        temperature=data["temperature"],
        top_k=data["top_k"],
        top_p=data["top_p"],
        max_tokens=data["max_tokens"],
        blind=data["blind"],
    )


@login_required
def compare_page(request: HttpRequest) -> HttpResponse:
    """GET: the form and the recent comparisons. POST (no JavaScript): every model answers at
    once; the page of the comparison follows when all have."""
    form = _compare_form(request)
    if request.method != "POST":
        return _form_page(request, form)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    question = form.cleaned_data["question"]
    try:
        comparison, turns = compare.start_round(question, ask=_compare_ask(request, form))
    except compare.OverLimit as over:  # nothing sent, nothing saved: the question stays
        form.add_error(None, over.refusal.message)
        return _refused(_form_page(request, form, status=429), over)
    compare.answer_all(turns)
    return redirect("llm_metadata:comparison-detail", pk=comparison.pk)


def _refused(response: HttpResponse, over: compare.OverLimit) -> HttpResponse:
    response["Retry-After"] = str(over.refusal.retry_after)
    return response


@login_required
def comparison_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    """GET: the columns side by side, the follow-up form and the vote. POST (no JavaScript): a
    follow-up question to every model, each in its own thread."""
    comparison = _owned(request, pk)
    follow_up = FollowUpForm(request.POST or None)
    over: compare.OverLimit | None = None
    if request.method == "POST" and follow_up.is_valid():
        question = follow_up.cleaned_data["question"]
        try:
            _, turns = compare.start_round(question, comparison=comparison)
        except compare.OverLimit as refused:  # nothing sent, nothing saved
            over = refused
            follow_up.add_error("question", refused.refusal.message)
        else:
            compare.answer_all(turns)
            return redirect("llm_metadata:comparison-detail", pk=comparison.pk)
    vote = compare.latest_vote(comparison)
    shown = compare.names_shown(comparison, vote)
    columns = compare.columns_of(comparison)
    context = {
        "comparison": comparison,
        "columns": _columns(columns, shown),
        "shown": shown,
        "vote": vote,
        "can_vote": compare.can_vote(columns),
        "choices": Vote.Choice.choices,
        "follow_up": follow_up,
    }
    status = 400 if request.method == "POST" else 200
    response = render(request, "llm_metadata/comparison_detail.html", context, status=status)
    if over is not None:
        response.status_code = 429
        _refused(response, over)
    return response


@login_required
@require_POST
def comparison_vote(request: HttpRequest, pk: Any) -> HttpResponse:
    """The owner's vote on a two-model comparison (a, b, tie or both_bad); voting again changes
    it. Then the names are shown."""
    comparison = _owned(request, pk)
    form = VoteForm(request.POST)
    if not compare.can_vote(compare.columns_of(comparison)):
        return HttpResponse("Votes are for comparisons of two models.", status=400)
    if not form.is_valid():
        return HttpResponse(" ".join(form.errors["choice"]), status=400)
    compare.cast_vote(comparison, form.cleaned_data["choice"])
    return redirect(reverse("llm_metadata:comparison-detail", args=[comparison.pk]) + "#vote")


# --- Streaming ------------------------------------------------------------------------------


def _message_html(message: Message, shown: bool) -> str:
    return render_to_string(
        "llm_metadata/_compare_message.html", {"message": message, "shown": shown}
    )


def _meta(comparison: Comparison, turns: Sequence[services.Turn], shown: bool) -> bytes:
    columns = compare.columns_of(comparison)
    return sse(
        "meta",
        {
            "comparison_id": str(comparison.pk),
            "url": reverse("llm_metadata:comparison-detail", args=[comparison.pk]),
            "columns": [
                {
                    "position": column.position,
                    "label": _label(column, shown),
                    "question_html": _message_html(turn.question, shown),
                }
                for column, turn in zip(columns, turns, strict=True)
            ],
        },
    )


def _final_event(position: int, answered: services.Answered, shown: bool) -> bytes:
    answer = answered.answer
    data = {"column": position, "id": answer.pk, "status": answer.status}
    data["html"] = _message_html(answer, shown)
    if answered.error is not None:
        return sse("error", {**data, "message": answered.error})
    return sse("done", data)


async def _events(
    comparison: Comparison, turns: Sequence[services.Turn], shown: bool
) -> AsyncIterator[bytes]:
    """meta, then every column's deltas as they come, each column's done or error, then end."""
    yield await sync_to_async(_meta)(comparison, turns, shown)
    async with aclosing(compare.stream_all(turns)) as stream:
        async for position, item in stream:
            if isinstance(item, str):
                yield sse("delta", {"column": position, "text": item})
            else:
                yield await sync_to_async(_final_event)(position, item, shown)
    yield sse("end", {"url": reverse("llm_metadata:comparison-detail", args=[comparison.pk])})


def _streaming(comparison: Comparison, turns: Sequence[services.Turn], shown: bool) -> Any:
    response = StreamingHttpResponse(
        _events(comparison, turns, shown), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _prepare_new(request: HttpRequest) -> Any:
    form = _compare_form(request)
    if not form.is_valid():
        return form.error_dict()
    question = form.cleaned_data["question"]
    try:
        comparison, turns = compare.start_round(question, ask=_compare_ask(request, form))
    except compare.OverLimit as over:
        return over
    return comparison, turns, not comparison.blind


def _prepare_follow_up(request: HttpRequest, pk: Any) -> Any:
    comparison = _owned(request, pk)
    form = FollowUpForm(request.POST)
    if not form.is_valid():
        return form.error_dict()
    shown = compare.names_shown(comparison, compare.latest_vote(comparison))
    try:
        _, turns = compare.start_round(form.cleaned_data["question"], comparison=comparison)
    except compare.OverLimit as over:
        return over
    return comparison, turns, shown


def _refused_json(over: compare.OverLimit) -> JsonResponse:
    """429 for the streaming endpoints: the message goes under the question box."""
    response = JsonResponse({"errors": {"question": [over.refusal.message]}}, status=429)
    return _refused(response, over)


@login_required
@require_POST
async def compare_stream(request: HttpRequest) -> HttpResponse:
    """The /compare/ form answered as server-sent events, every column at once: `meta`
    (comparison_id, url, columns: position, label, question_html), `delta` ({column, text}),
    each column's `done` or `error` ({column, id, status, html}, error also message), then
    `end` ({url}). A form that does not validate gets 400 with {"errors": {...}}."""
    prepared = await sync_to_async(_prepare_new)(request)
    if isinstance(prepared, dict):
        return JsonResponse({"errors": prepared}, status=400)
    if isinstance(prepared, compare.OverLimit):
        return _refused_json(prepared)
    return _streaming(*prepared)


@login_required
@require_POST
async def comparison_stream(request: HttpRequest, pk: Any) -> HttpResponse:
    """A follow-up `question` to every model of the comparison, streamed as /compare/stream/."""
    prepared = await sync_to_async(_prepare_follow_up)(request, pk)
    if isinstance(prepared, dict):
        return JsonResponse({"errors": prepared}, status=400)
    if isinstance(prepared, compare.OverLimit):
        return _refused_json(prepared)
    return _streaming(*prepared)
