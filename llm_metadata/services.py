"""The writes of a chat turn: the question before the call, the answer (or its failure) after.

The LLM is called between the two writes, outside any transaction: by `stream_answer` (the
streaming view, after `start_turn`) or by `send_message` (the plain form post).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from django.db import close_old_connections, transaction
from django.utils import timezone

from . import catalog, llm
from .files import Attachment
from .models import Conversation, Message, ModelProfile
from .streaming import coalesce
from .text import without_nul

logger = logging.getLogger(__name__)

TITLE_CHARS = 80


@dataclass(frozen=True)
class Ask:
    """What the user asks: the question, the model and its parameters; no conversation opens one.

    `system_prompt` is used only when the question opens a conversation.
    """

    user: AbstractBaseUser
    conversation: Conversation | None
    question: str
    model: str
    temperature: float
    top_k: int
    top_p: float
    max_tokens: int
    system_prompt: str = ""
    attachment: Attachment | None = None


@dataclass
class Turn:
    """A question saved and the call to make for it (at `endpoint`)."""

    conversation: Conversation
    question: Message
    endpoint: llm.Endpoint
    request: llm.ChatRequest
    history_truncated: bool
    profile: ModelProfile


def title_for(question: str) -> str:
    """A conversation's title: its first question on one line, cut at a word near TITLE_CHARS."""
    line = " ".join(question.split())
    if len(line) <= TITLE_CHARS:
        return line
    cut = line[: TITLE_CHARS - 1]
    if " " in cut[TITLE_CHARS // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut + "…"


def conversation_for(user: AbstractBaseUser, conversation_id: Any) -> Conversation | None:
    """The user's conversation with this id, or None (unknown, deleted, malformed or another's)."""
    try:
        pk = uuid.UUID(str(conversation_id))
    except (TypeError, ValueError):
        return None
    return Conversation.objects.for_user(user).filter(pk=pk).first()


def replay(conversation: Conversation) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """(history, files): earlier exchanges oldest first, and every file attached so far.

    An exchange whose answer failed or came back empty is left out: the model never answered it.
    """
    rows = (
        conversation.messages.filter(role__in=[Message.Role.USER, Message.Role.ASSISTANT])
        .order_by("created", "id")
        .values_list("role", "content", "status", "attachment_name", "attachment_text")
    )
    history: list[dict[str, str]] = []
    files: list[tuple[str, str]] = []
    for role, content, status, attachment_name, attachment_text in rows:
        if role == Message.Role.USER:
            if attachment_text:
                files.append((attachment_name or "attachment", attachment_text))
            history.append({"role": role, "content": content})
        elif status == Message.Status.ERROR or not content:
            if history and history[-1]["role"] == Message.Role.USER:
                history.pop()
        else:
            history.append({"role": role, "content": content})
    return history, files


def start_turn(*, ask: Ask) -> Turn:
    """Save the question (opening a conversation when there is none) and build the call."""
    params = {
        "temperature": ask.temperature,
        "top_k": ask.top_k,
        "top_p": ask.top_p,
        "max_tokens": ask.max_tokens,
    }
    conversation, question, attachment = ask.conversation, ask.question, ask.attachment
    now = timezone.now()
    # Read before the write transaction: on SQLite it holds the database's one write lock.
    history, files = replay(conversation) if conversation else ([], [])
    with transaction.atomic():
        if conversation is None:
            conversation = Conversation.objects.create(
                owner=ask.user,
                title=title_for(question),
                system_prompt=ask.system_prompt,
                updated=now,
            )
        else:
            changes = {"updated": now}
            if not conversation.title:
                changes["title"] = title_for(question)
            Conversation.objects.filter(pk=conversation.pk).update(**changes)
            for name, value in changes.items():
                setattr(conversation, name, value)
        asked = Message.objects.create(
            conversation=conversation,
            role=Message.Role.USER,
            content=question,
            model_name=ask.model,
            attachment=attachment.upload if attachment else "",
            attachment_name=attachment.name if attachment else "",
            attachment_text=attachment.text if attachment else "",
            **params,
        )
    if attachment:
        files.append((attachment.name, attachment.text))
    profile = catalog.profile_for(ask.model)
    fitted = llm.fit_messages(
        system_prompt=conversation.system_prompt,
        history=history,
        question=question,
        files=files,
        context_length=profile.context_length,
        max_tokens=ask.max_tokens,
    )
    request = llm.ChatRequest(
        model=ask.model, messages=fitted.messages, context_length=profile.context_length, **params
    )
    return Turn(conversation, asked, catalog.endpoint(), request, fitted.truncated, profile)


def save_answer(
    *,
    turn: Turn,
    status: str,
    text: str,
    result: llm.ChatResult | None = None,
    error: str = "",
    elapsed: float | None = None,
    time_to_first_token: float | None = None,
) -> Message:
    """Store the answer with the call's measurements (from `result` when there is one)."""
    request = turn.request
    # The endpoint's text may hold NUL, which PostgreSQL cannot store.
    text, error = without_nul(text), without_nul(error)
    prompt = result.prompt_tokens if result else None
    completion = result.completion_tokens if result else None
    with transaction.atomic():
        answer = Message.objects.create(
            conversation=turn.conversation,
            role=Message.Role.ASSISTANT,
            content=text,
            model_name=request.model,
            temperature=request.temperature,
            top_k=request.top_k,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=result.total_tokens if result else None,
            elapsed_time=result.elapsed if result else elapsed,
            time_to_first_token=result.time_to_first_token if result else time_to_first_token,
            status=status,
            error=error,
            finish_reason=without_nul(result.finish_reason or "") if result else "",
            raw_usage=without_nul(result.raw_usage) if result else None,
            history_truncated=turn.history_truncated,
            cost=turn.profile.cost_for(prompt, completion),
        )
        Conversation.objects.filter(pk=turn.conversation.pk).update(updated=answer.created)
    return answer


def save_failure(*, turn: Turn, exc: llm.LLMError) -> Message:
    """Store a failed call: its message, and whatever text and timings came before it."""
    partial = exc.partial
    return save_answer(
        turn=turn,
        status=Message.Status.ERROR,
        text=partial.text if partial else "",
        error=exc.message,
        elapsed=partial.elapsed if partial else None,
        time_to_first_token=partial.time_to_first_token if partial else None,
    )


def send_message(*, ask: Ask) -> tuple[Turn, Message]:
    """One whole turn for the plain form post: save, call (sync), save the answer or the error."""
    turn = start_turn(ask=ask)
    try:
        result = llm.chat(turn.endpoint, turn.request)
    except llm.LLMError as exc:
        return turn, save_failure(turn=turn, exc=exc)
    return turn, save_answer(turn=turn, status=Message.Status.OK, text=result.text, result=result)


@dataclass(frozen=True)
class Answered:
    """How a streamed turn ended: the stored answer, and the failure's message if it failed."""

    answer: Message
    error: str | None = None


async def stream_answer(turn: Turn) -> AsyncIterator[str | Answered]:
    """The answer's text as it arrives (deltas merged by `coalesce`), then one `Answered`.

    The answer is stored before `Answered` comes: ok, or error with the text before the failure
    (a bug too). Stopped early (cancelled or closed), it stores the text so far as cancelled.
    """
    # Give the request's database connection back (to the pool) while the answer streams:
    # held to the end, PostgreSQL's 10 pooled connections capped a worker at 10 chats.
    await sync_to_async(close_old_connections)()
    # The LLM package times every call it ends; this clock is for a stream cut short here.
    started = perf_counter()
    first: float | None = None
    parts: list[str] = []
    result: llm.ChatResult | None = None
    failure: llm.LLMError | None = None
    try:
        async for item in coalesce(llm.astream_chat(turn.endpoint, turn.request)):
            if isinstance(item, str):
                if first is None:
                    first = perf_counter()
                parts.append(item)
                yield item
            else:
                result = item
    except llm.LLMError as exc:
        failure = exc
    except (asyncio.CancelledError, GeneratorExit):
        await sync_to_async(save_answer)(
            turn=turn,
            status=Message.Status.CANCELLED,
            text="".join(parts),
            elapsed=perf_counter() - started,
            time_to_first_token=None if first is None else first - started,
        )
        logger.info("chat stream cancelled by the client; partial answer stored")
        raise
    except Exception:  # a bug must still end the stream with a message, not a cut connection
        logger.exception("chat stream failed")
        failure = llm.LLMError("Something went wrong while answering; the question is saved.")
        failure.partial = llm.ChatResult(
            text="".join(parts), model=turn.request.model, elapsed=perf_counter() - started
        )
    yield await sync_to_async(_store)(turn, result, failure)


def _store(turn: Turn, result: llm.ChatResult | None, failure: llm.LLMError | None) -> Answered:
    if failure is None and result is not None:
        answer = save_answer(turn=turn, status=Message.Status.OK, text=result.text, result=result)
        return Answered(answer)
    if failure is None:  # pragma: no cover - the LLM package always ends with a result
        failure = llm.LLMError("The answer ended without its final record.")
    return Answered(save_failure(turn=turn, exc=failure), failure.message)
