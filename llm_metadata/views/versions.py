"""New versions and switching: POST /message/<id>/regenerate/, /edit/ and /select/ (owner only).

Regenerate and edit answer like the chat form: as server-sent events (the same events as
/ask/stream/) when the request accepts `text/event-stream` (the page's script), else the call
runs to its end and the POST redirects to the page it came from, at the new version.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import branches, catalog, services, versions
from ..models import Message
from ..streaming import sse
from ..version_forms import EditForm, RegenerateForm
from . import chat
from .redirects import next_or

Prepared = tuple[
    Message, services.Turn | None, dict[str, list[str]] | None, versions.OverLimit | None
]


def _owned(request: HttpRequest, pk: int, role: str) -> Message:
    message = versions.owned_message(request.user, pk)
    if message is None or message.role != role or (role == "assistant" and not message.parent_id):
        raise Http404("No such message.")
    return message


def _prepare(request: HttpRequest, pk: int, edit: bool) -> Prepared:
    """The old version, and the new version's started turn or the form's errors."""
    old = _owned(request, pk, Message.Role.USER if edit else Message.Role.ASSISTANT)
    form_class = EditForm if edit else RegenerateForm
    form = form_class(request.POST, offered=catalog.offered_models())
    if not form.is_valid():
        return old, None, form.error_dict(), None
    try:
        if edit:
            text = form.cleaned_data["question"]
            turn = versions.start_edit(
                user=request.user, question=old, text=text, choices=form.choices()
            )
        else:
            turn = versions.start_regenerate(user=request.user, answer=old, choices=form.choices())
    except versions.OverLimit as over:  # nothing sent, nothing saved
        return old, None, {"__all__": [over.refusal.message]}, over
    chat._remember(request, turn.conversation)
    return old, turn, None, None


def _meta(request: HttpRequest, old: Message, turn: services.Turn) -> bytes:
    return sse(
        "meta",
        {
            "conversation_id": str(turn.conversation.pk),
            "question_id": turn.question.pk,
            "title": turn.conversation.title,
            "question_html": chat._message_html(request, turn.question),
            "version_of": old.pk,
        },
    )


def _page(request: HttpRequest, message: Message) -> str:
    """The page the form came from (`next`), else the chat page, at `message`."""
    chat_page = f"{reverse('llm_metadata:ask')}?c={message.conversation_id}"
    return f"{next_or(request, chat_page).split('#')[0]}#message-{message.pk}"


async def _new_version(request: HttpRequest, pk: int, edit: bool) -> HttpResponse:
    old, turn, errors, over = await sync_to_async(_prepare)(request, pk, edit)
    streaming = "text/event-stream" in request.headers.get("Accept", "")
    if turn is None:
        if streaming:
            response = JsonResponse({"errors": errors}, status=400 if over is None else 429)
        else:
            text = " ".join(m for field in errors.values() for m in field)
            await sync_to_async(messages.error)(request, text)
            response = redirect(_page(request, old))
        if over is not None:
            response["Retry-After"] = str(over.refusal.retry_after)
        return response
    if streaming:
        meta = await sync_to_async(_meta)(request, old, turn)
        response = StreamingHttpResponse(
            chat._events(request, turn, meta), content_type="text/event-stream; charset=utf-8"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
    answer = await sync_to_async(services.finish_turn)(turn)
    if not answer.active:
        note = f"The new version failed ({answer.error or answer.status}); it is kept as a version."
        await sync_to_async(messages.error)(request, note)
        return redirect(_page(request, old))
    return redirect(_page(request, answer))


@login_required
@require_POST
async def message_regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    """A new version of one of the user's answers (optional `model`, `temperature`, `top_k`,
    `top_p`, `max_tokens`; by default the old version's)."""
    return await _new_version(request, pk, edit=False)


@login_required
@require_POST
async def message_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A new version of one of the user's questions (`question`), sent and answered."""
    return await _new_version(request, pk, edit=True)


@login_required
@require_POST
def message_select(request: HttpRequest, pk: int) -> HttpResponse:
    """Make this version (and the branch below it) the conversation's active path."""
    message = versions.owned_message(request.user, pk)
    if message is None:
        raise Http404("No such message.")
    path = branches.activate(message)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"message": message.pk, "path": path})
    return redirect(_page(request, message))
