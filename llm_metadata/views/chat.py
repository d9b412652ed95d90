"""The chat page: /ask/ (a plain form post), /ask/new/, the streaming /ask/stream/, attachments.

The current conversation's id lives in the session (`conversation_id`); the form also carries it,
so a page always posts into the conversation it shows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import catalog, limits, record, selectors, services
from ..files import ACCEPT, LABEL
from ..forms import ChatForm, initial_for, model_options
from ..jinja_env import render_messages
from ..models import Conversation, Message, store_stale_html
from ..streaming import sse

SESSION_KEY = "conversation_id"
CHAT_PAGE_MESSAGES = 50  # the chat page shows the newest; the whole thread is on its own page


def _conversation_from_request(request: HttpRequest, form: ChatForm | None) -> Conversation | None:
    """The conversation to show or post into: `?c=`, the form's `conversation`, else the session's.

    A posted empty `conversation` starts a new one. An id that is not one of the user's own
    conversations is a 404; a stale session id is dropped.
    """
    wanted = request.GET.get("c") if form is None else request.POST.get("conversation")
    if wanted == "":
        return None
    for_page = form is None  # a GET shows the conversation
    if wanted is not None:
        conversation = services.conversation_for(request.user, wanted, for_page=for_page)
        if conversation is None:
            raise Http404("No such conversation.")
        _remember(request, conversation)
        return conversation
    conversation = services.conversation_for(
        request.user, request.session.get(SESSION_KEY), for_page=for_page
    )
    if conversation is None:
        request.session.pop(SESSION_KEY, None)
    return conversation


def _remember(request: HttpRequest, conversation: Conversation) -> None:
    """Make this the session's conversation; an unchanged session is not written again."""
    if request.session.get(SESSION_KEY) != str(conversation.pk):
        request.session[SESSION_KEY] = str(conversation.pk)


def _ask(request: HttpRequest, form: ChatForm, conversation: Conversation | None) -> services.Ask:
    data = form.cleaned_data
    return services.Ask(
        user=request.user,
        conversation=conversation,
        question=data["question"],
        model=data["model"],
        temperature=data["temperature"],
        top_k=data["top_k"],
        top_p=data["top_p"],
        max_tokens=data["max_tokens"],
        system_prompt=data["system_prompt"] if conversation is None else "",
        attachment=data["file_upload"],
        profile=form.chosen_profile(),
    )


def _render_page(
    request: HttpRequest, conversation: Conversation | None, form: ChatForm, status: int = 200
) -> HttpResponse:
    messages_list, earlier = (
        selectors.latest_messages(conversation, request.user, CHAT_PAGE_MESSAGES)
        if conversation
        else ([], False)
    )
    store_stale_html(messages_list)
    options = model_options(form.offered)
    if not form.is_bound:
        last = next((m for m in reversed(messages_list) if m.role == Message.Role.USER), None)
        form.initial = initial_for(options, last)
    context = {
        "conversation": conversation,
        "messages_list": messages_list,
        "earlier_messages": earlier,
        "form": form,
        "model_options": options,
        "accept": ACCEPT,
        "accept_label": LABEL,
        "max_upload_mb": settings.MAX_UPLOAD_MB,
        "usage": limits.usage_to_show(request.user, conversation),
    }
    return render(request, "llm_metadata/ask.html", context, status=status)


@login_required
def ask(request: HttpRequest) -> HttpResponse:
    """GET: the current conversation and the form. POST (no JavaScript): one turn, then redirect."""
    offered = catalog.offered_models()
    if request.method != "POST":
        conversation = _conversation_from_request(request, None)
        return _render_page(request, conversation, ChatForm(offered=offered))
    form = ChatForm(request.POST, request.FILES, offered=offered)
    conversation = _conversation_from_request(request, form)
    if not form.is_valid():
        return _render_page(request, conversation, form, status=400)
    refusal = limits.admit(request.user)
    if refusal is not None:  # nothing sent, nothing stored: the question stays in the box
        form.add_error(None, refusal.message)
        response = _render_page(request, conversation, form, status=429)
        response["Retry-After"] = str(refusal.retry_after)
        return response
    try:
        turn, answer = services.send_message(ask=_ask(request, form, conversation))
    except services.AnswerNotStored as failure:  # logged at ERROR; the question stays in the box
        form.add_error(None, str(failure))
        return _render_page(request, conversation, form, status=503)
    _remember(request, turn.conversation)
    return redirect(f"{reverse('llm_metadata:ask')}#message-{answer.pk}")


@login_required
@require_POST
def new_conversation(request: HttpRequest) -> HttpResponse:
    """Forget the current conversation; the next question opens a new one."""
    request.session.pop(SESSION_KEY, None)
    return redirect("llm_metadata:ask")


@login_required
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """A file attached to one of the user's own questions."""
    owned = Message.objects.filter(conversation__in=Conversation.objects.for_user(request.user))
    message = get_object_or_404(owned.exclude(attachment=""), pk=pk)
    try:
        handle = message.attachment.open("rb")
    except FileNotFoundError:
        raise Http404("The file is no longer stored.") from None
    name = message.attachment_name or message.attachment.name.rsplit("/", 1)[-1]
    return FileResponse(handle, as_attachment=True, filename=name)


# --- Streaming -----------------------------------------------------------------------------


def _message_html(request: HttpRequest, message: Message) -> str:
    return render_messages(request, [message])


def _prepare(
    request: HttpRequest,
) -> dict[str, list[str]] | limits.Refusal | tuple[services.Turn, bytes]:
    """Validate the form, admit the call and save the question: (turn, meta event), or the
    form's errors, or the refusal."""
    form = ChatForm(request.POST, request.FILES, offered=catalog.offered_models())
    conversation = _conversation_from_request(request, form)
    if not form.is_valid():
        return form.error_dict()
    refusal = limits.admit(request.user)
    if refusal is not None:
        return refusal
    turn = services.start_turn(ask=_ask(request, form, conversation))
    _remember(request, turn.conversation)
    meta = {
        "conversation_id": str(turn.conversation.pk),
        "question_id": turn.question.pk,
        "title": turn.conversation.title,
        "question_html": _message_html(request, turn.question),
    }
    return turn, sse("meta", meta)


def _final_event(request: HttpRequest, answered: services.Answered) -> bytes:
    """`error` (its message) or `done` (the answer's metadata), each with the answer's html."""
    answer = answered.answer
    if answer is None:  # the text reached the reader, but the database refused to keep it
        return sse("error", {"message": answered.error, "id": None, "html": ""})
    html = _message_html(request, answer)
    if answered.error is not None:
        return sse("error", {"message": answered.error, "id": answer.pk, "html": html})
    return sse("done", {**_answer_meta(answer), "html": html})


def _answer_meta(answer: Message) -> dict[str, Any]:
    """The answer's record fields that the stream carries (`record`, output "stream")."""
    return {**record.values(answer, "stream"), "conversation_id": str(answer.conversation_id)}


async def _events(request: HttpRequest, turn: services.Turn, meta: bytes) -> AsyncIterator[bytes]:
    """meta, the answer's deltas, then done or error; a client that goes away leaves `cancelled`."""
    yield meta
    async with aclosing(services.stream_answer(turn)) as stream:
        async for item in stream:
            if isinstance(item, str):
                yield sse("delta", {"text": item})
            else:
                yield await sync_to_async(_final_event)(request, item)


@login_required
@require_POST
def ask_stream(request: HttpRequest) -> HttpResponse:
    """The same form as POST /ask/, answered as server-sent events: `meta` (conversation_id,
    question_id, title, question_html), `delta` ({text}) as the answer arrives, then `done`
    (the answer's metadata and html) or `error` ({message, id, html}). A form that does not
    validate gets 400 with {"errors": {field: [messages]}}, a user over a limit 429 with
    `Retry-After` and {"message", "kind", "retry_after"}; neither calls the model.

    A synchronous view on purpose: the start (form, limits, the question saved, the meta event)
    runs in the request's thread with the middleware chain, with no hop to the event loop and
    back; the answer then streams on the loop (`_events` is an async generator).
    """
    prepared = _prepare(request)
    if isinstance(prepared, dict):
        return JsonResponse({"errors": prepared}, status=400)
    if isinstance(prepared, limits.Refusal):
        body = {
            "message": prepared.message,
            "kind": prepared.kind,
            "retry_after": prepared.retry_after,
            "usage": limits.usage(request.user).summary,
        }
        response = JsonResponse(body, status=429)
        response["Retry-After"] = str(prepared.retry_after)
        return response
    turn, meta = prepared
    response = StreamingHttpResponse(
        _events(request, turn, meta), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx and friends: pass events on at once
    return response
