"""Thumbs up / down with an optional comment on an answer: a plain form or a fetch call."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from ..models import Conversation, Feedback, Message
from ..text import without_nul
from .redirects import next_or

MAX_COMMENT = 2000


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _answers_for_user(request: HttpRequest) -> QuerySet[Message]:
    """Answers in the user's conversations, reached through the owner (one query with it)."""
    owned = Conversation.objects.for_user(request.user)
    return Message.objects.filter(role=Message.Role.ASSISTANT, conversation__in=owned)


def _back(request: HttpRequest, message: Message) -> str:
    detail = reverse("llm_metadata:conversation-detail", args=[message.conversation_id])
    return f"{next_or(request, detail).split('#')[0]}#message-{message.pk}"


@login_required
@require_POST
def message_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    """Set (or replace) the owner's rating of one of their answers; anyone else gets 404."""
    message = get_object_or_404(_answers_for_user(request), pk=pk)
    rating = Feedback.Rating.from_word(request.POST.get("rating"))
    comment = without_nul(request.POST.get("comment", "")).strip()
    if rating is None or len(comment) > MAX_COMMENT:
        error = "Choose thumbs up or down." if rating is None else "The comment is too long."
        if _wants_json(request):
            return JsonResponse(
                {"errors": {"rating" if rating is None else "comment": [error]}}, status=400
            )
        return redirect(_back(request, message))
    feedback, _ = Feedback.objects.update_or_create(
        message=message, user=request.user, defaults={"rating": rating, "comment": comment}
    )
    if _wants_json(request):
        word = Feedback.Rating.word_of(feedback.rating)
        return JsonResponse({"message": message.pk, "rating": word, "comment": feedback.comment})
    return redirect(_back(request, message))
