"""The writes of a chat turn: the question before the call, the answer (or its failure) after.

The LLM is called between the two writes, outside any transaction: by `stream_answer` (the
streaming view, after `start_turn`) or by `send_message` (the plain form post).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.utils import timezone

from . import branches, catalog, limits, llm
from .files import Attachment
from .models import Conversation, Message, ModelProfile
from .streaming import coalesce
from .text import without_nul

logger = logging.getLogger(__name__)
T = TypeVar("T")

TITLE_CHARS = 80
# Waits between attempts to store an answer when the database fails (about 4 s in all): long
# enough for a restarted primary, a failover or a dropped pooled connection, short enough that the
# reader is not left waiting on a stream that cannot end well.
STORE_RETRY_DELAYS = (0.1, 0.3, 0.6, 1.0, 2.0)
STORE_RETRY_WINDOW = 5.0  # seconds after which no new attempt starts
# The database errors that a new connection may cure; any other error is a bug, not retried.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


class AnswerNotStored(Exception):
    """The database refused the answer on every attempt; its text reached the reader only."""

    message = (
        "The answer could not be stored: the database did not respond. "
        "Its text is shown here but is not kept; ask again later."
    )


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
    source: str = Message.Source.CHAT
    edit_of: Message | None = None  # a question this one is a new version of (edit and resend)
    profile: ModelProfile | None = None  # the model's profile when the caller has read it


@dataclass
class Turn:
    """A question saved and the call to make for it (at `endpoint`)."""

    conversation: Conversation
    question: Message
    endpoint: llm.Endpoint
    request: llm.ChatRequest
    history_truncated: bool
    profile: ModelProfile
    # A new version of an answer (regenerate): it joins the active path only if it is ok.
    new_version: bool = False


def title_for(question: str) -> str:
    """A conversation's title: its first question on one line, cut at a word near TITLE_CHARS."""
    line = " ".join(question.split())
    if len(line) <= TITLE_CHARS:
        return line
    cut = line[: TITLE_CHARS - 1]
    if " " in cut[TITLE_CHARS // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut + "…"


def conversation_for(
    user: AbstractBaseUser, conversation_id: Any, *, for_page: bool = False
) -> Conversation | None:
    """The user's conversation with this id, or None (unknown, deleted, malformed or another's);
    `for_page`: with what the chat page needs to skip queries, `has_versions` and
    `owner_limited` (`limits.usage_to_show`)."""
    try:
        pk = uuid.UUID(str(conversation_id))
    except (TypeError, ValueError):
        return None
    conversations = Conversation.objects.for_user(user)
    if for_page:
        conversations = conversations.with_versions_flag().annotate(
            owner_limited=limits.owner_limited()
        )
    return conversations.filter(pk=pk).first()


REPLAY_COLUMNS = ("id", "role", "content", "status", "attachment_name", "attachment_text")


def replay_rows(rows: Iterable[tuple]) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """(history, files) of messages in order (REPLAY_COLUMNS): the exchanges, every file.

    An exchange whose answer failed or came back empty is left out: the model never answered it.
    """
    history: list[dict[str, str]] = []
    files: list[tuple[str, str]] = []
    for _, role, content, status, attachment_name, attachment_text in rows:
        if role == Message.Role.USER:
            if attachment_text:
                files.append((attachment_name or "attachment", attachment_text))
            history.append({"role": role, "content": content})
        elif role != Message.Role.ASSISTANT:
            continue
        elif status == Message.Status.ERROR or not content:
            if history and history[-1]["role"] == Message.Role.USER:
                history.pop()
        else:
            history.append({"role": role, "content": content})
    return history, files


def replay(conversation: Conversation) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """(history, files) of the conversation's active path: never a version switched away from."""
    return replay_rows(branches.path_messages(conversation.pk).values_list(*REPLAY_COLUMNS))


def _path_so_far(conversation: Conversation | None) -> tuple[list[tuple], int | None]:
    """The active path's replay rows and its last message's id (where the question goes)."""
    if conversation is None:
        return [], None
    rows = list(branches.path_messages(conversation.pk).values_list(*REPLAY_COLUMNS))
    return rows, rows[-1][0] if rows else None


def rows_above(message: Message) -> list[tuple]:
    """The replay rows of the messages above `message` in its branch, oldest first."""
    above = branches.lineage(message)[:-1]
    rows = Message.objects.filter(pk__in=above).order_by("created", "id")
    return list(rows.values_list(*REPLAY_COLUMNS))


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
    if ask.edit_of is not None:
        rows, parent_id = rows_above(ask.edit_of), ask.edit_of.parent_id
    else:
        rows, parent_id = _path_so_far(conversation)
    history, files = replay_rows(rows)
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
            source=ask.source,
            content=question,
            model_name=ask.model,
            attachment=attachment.upload if attachment else "",
            attachment_name=attachment.name if attachment else "",
            attachment_text=attachment.text if attachment else "",
            parent_id=parent_id,
            # A new version joins the path by `activate` (a first question has no parent:
            # saved active, it would be given the path's last message as one).
            active=ask.edit_of is None,
            **params,
        )
        if ask.edit_of is not None:
            branches.activate(asked)
    if attachment:
        files.append((attachment.name, attachment.text))
    return build_turn(conversation, asked, history, files, ask.model, params, profile=ask.profile)


def build_turn(
    conversation: Conversation,
    question: Message,
    history: list[dict[str, str]],
    files: list[tuple[str, str]],
    model: str,
    params: dict[str, Any],
    new_version: bool = False,
    profile: ModelProfile | None = None,
) -> Turn:
    """The call for a saved question: history and files fitted to the model's context."""
    profile = profile or catalog.profile_for(model)
    fitted = llm.fit_messages(
        system_prompt=conversation.system_prompt,
        history=history,
        question=question.content,
        files=files,
        context_length=profile.context_length,
        max_tokens=params["max_tokens"],
    )
    request = llm.ChatRequest(
        model=model, messages=fitted.messages, context_length=profile.context_length, **params
    )
    endpoint = catalog.endpoint()
    return Turn(conversation, question, endpoint, request, fitted.truncated, profile, new_version)


def store_answer(*, turn: Turn, result: llm.ChatResult) -> Message:
    """`save_answer`, tried again on a new connection while the database fails (sync callers)."""
    started = time.monotonic()
    for attempt in itertools.count():
        try:
            return _save_or_drop_connection(turn, result)
        except TRANSIENT_DB_ERRORS as error:
            wait = _wait_or_give_up(turn, error, attempt, started)
        time.sleep(wait)
    raise AssertionError("unreachable")


async def astore_answer(*, turn: Turn, result: llm.ChatResult) -> Message:
    """`store_answer` for the event loop: the waits do not hold the worker's sync thread."""
    started = time.monotonic()
    for attempt in itertools.count():
        try:
            return await sync_to_async(_save_or_drop_connection)(turn, result)
        except TRANSIENT_DB_ERRORS as error:
            wait = _wait_or_give_up(turn, error, attempt, started)
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def _wait_or_give_up(turn: Turn, error: Exception, attempt: int, started: float) -> float:
    """The wait before the next attempt; after the last, log at ERROR and raise AnswerNotStored.

    Attempts stop after STORE_RETRY_DELAYS or once STORE_RETRY_WINDOW has passed (one attempt
    may itself wait for the connection pool's timeout while the database is down).
    """
    conversation = turn.conversation.pk
    spent = time.monotonic() - started
    if attempt >= len(STORE_RETRY_DELAYS) or spent > STORE_RETRY_WINDOW:
        logger.error(
            "the answer of conversation %s could not be stored (%d attempts in %.1f s): %s",
            conversation,
            attempt + 1,
            spent,
            error,
        )
        raise AnswerNotStored(AnswerNotStored.message) from error
    wait = STORE_RETRY_DELAYS[attempt]
    logger.warning(
        "storing the answer of conversation %s failed (%s); trying again in %.1f s",
        conversation,
        error,
        wait,
    )
    return wait


def _save_or_drop_connection(turn: Turn, result: llm.ChatResult) -> Message:
    """One attempt; a connection that the failure left unusable is closed in this thread, so
    the next attempt opens (or borrows from the pool) a good one."""
    try:
        return save_answer(turn=turn, result=result)
    except TRANSIENT_DB_ERRORS:
        close_old_connections()
        raise


def save_answer(*, turn: Turn, result: llm.ChatResult) -> Message:
    """Store the answer as the call ended (ok, error or cancelled), with its measurements.

    One attempt: callers use `store_answer` / `astore_answer`, which retry database faults.
    A new version of an answer becomes the active one only when it is ok; a failed or
    cancelled one is kept as a version off the active path.
    """
    request = turn.request
    prompt, completion = result.prompt_tokens, result.completion_tokens
    active = not turn.new_version or result.status == Message.Status.OK
    with transaction.atomic():
        answer = Message(
            conversation=turn.conversation,
            parent=turn.question,
            active=active,
            role=Message.Role.ASSISTANT,
            source=turn.question.source,
            # The endpoint's text may hold NUL, which PostgreSQL cannot store.
            content=without_nul(result.text),
            model_name=request.model,
            temperature=request.temperature,
            top_k=request.top_k,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=result.total_tokens,
            elapsed_time=result.elapsed,
            time_to_first_token=result.time_to_first_token,
            status=result.status,
            error=without_nul(result.error),
            finish_reason=without_nul(result.finish_reason or ""),
            raw_usage=without_nul(result.raw_usage),
            history_truncated=turn.history_truncated,
            cost=turn.profile.cost_for(prompt, completion),
        )
        # What the call sent, measured, for the token budgets when the endpoint reported none.
        answer.prompt_estimate = limits.prompt_estimate(request.messages)
        answer.save(force_insert=True)
        if turn.new_version and active:
            branches.activate(answer)
        Conversation.objects.filter(pk=turn.conversation.pk).update(updated=answer.created)
    return answer


def send_message(*, ask: Ask) -> tuple[Turn, Message]:
    """One whole turn for the plain form post: save, call (sync), save the answer as it ended."""
    turn = start_turn(ask=ask)
    return turn, finish_turn(turn)


def finish_turn(turn: Turn) -> Message:
    """Call the model (sync) for a started turn and store the answer as the call ended.

    The database connection goes back (to the pool) during the call, as in `stream_answer`.
    The LLM package turns every failure of the call into an error result; whatever still
    escapes it (a bug around the call: an error answer, returned; the request cancelled: a
    cancelled answer, then the cancel goes on) leaves an answer row that says so.
    """
    release_connection()
    try:
        result = llm.chat(turn.endpoint, turn.request)
    except Exception:
        logger.exception("the model call of a plain form post failed outside the LLM package")
        result = _ended(turn, Message.Status.ERROR, "The model call failed; try again.")
    except BaseException:
        save_answer(turn=turn, result=_ended(turn, Message.Status.CANCELLED, ""))
        raise
    return store_answer(turn=turn, result=result)


def release_connection() -> None:
    """Give this thread's database connection back while a model call runs (held, PostgreSQL's
    pool of 10 capped a worker at 10 calls); a caller's transaction (a test's) keeps it."""
    if not connection.in_atomic_block:
        close_old_connections()


def _ended(turn: Turn, status: str, error: str) -> llm.ChatResult:
    return llm.ChatResult(text="", model=turn.request.model, status=status, error=error)


@dataclass(frozen=True)
class Answered:
    """How a streamed turn ended: the stored answer (None: the database refused it on every
    attempt), and the failure's message if it failed."""

    answer: Message | None
    error: str | None = None


# Endings that run on after their request was cancelled: held here until done, since the event
# loop keeps only weak references to tasks.
_ENDINGS: set[asyncio.Task] = set()


async def _shielded(ending: Coroutine[Any, Any, T]) -> T:
    task = asyncio.ensure_future(ending)
    _ENDINGS.add(task)
    task.add_done_callback(_ENDINGS.discard)
    return await asyncio.shield(task)


async def _end_stream(turn: Turn, chat: llm.ChatStream) -> tuple[llm.ChatResult, Message | None]:
    """Close the call, then store the answer as it ended (None: the database refused it)."""
    result = await chat.aclose()
    try:
        answer = await astore_answer(turn=turn, result=result)
    except AnswerNotStored:  # logged at ERROR; the reader is told, if still there
        return result, None
    if result.status == Message.Status.CANCELLED:
        logger.info("chat stream stopped early; the answer so far is stored as cancelled")
    return result, answer


async def stream_answer(turn: Turn) -> AsyncIterator[str | Answered]:
    """The answer's text as it arrives (deltas merged by `coalesce`), then one `Answered`.

    The answer is stored as the LLM package says the call ended: ok, error with the text
    before the failure, or (stopped early: closed, or its task cancelled) cancelled with the
    text so far; then the stop propagates and no `Answered` comes.
    """
    # Give the request's database connection back (to the pool) while the answer streams:
    # held to the end, PostgreSQL's 10 pooled connections capped a worker at 10 chats.
    await sync_to_async(release_connection)()
    chat = llm.stream_chat(turn.endpoint, turn.request)
    try:
        async with aclosing(coalesce(chat)) as texts:
            async for text in texts:
                yield text
    finally:
        # Shielded: a request task cancelled now (the reader left as the answer ended) must
        # not drop the store on its way; the ending runs to its end on its own.
        result, answer = await _shielded(_end_stream(turn, chat))
    if answer is None:
        yield Answered(None, AnswerNotStored.message)
    else:
        yield Answered(answer, result.error or None)
