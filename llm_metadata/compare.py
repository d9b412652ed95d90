"""Comparisons: one question to two to four models at once, each answering in its own thread.

A comparison's columns are conversations of their own, so a follow-up question replays to each
model only its own earlier answers (`services.replay`, unchanged). The questions are saved for
every column first (`start_round`), then the calls run concurrently: all awaited for the plain
form post (`answer_all`), or streamed side by side as one merged event stream (`stream_all`).
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from . import limits, llm, services
from .compare_models import Comparison, ComparisonColumn, Vote
from .models import Conversation, Message

MIN_MODELS, MAX_MODELS = 2, 4
# Words that give a model's maker away in an answer (the comparison's own model names are
# added to them); a blind vote on answers that contain one is flagged.
VENDOR_WORDS = (
    "OpenAI", "ChatGPT", "GPT", "Anthropic", "Claude", "Meta", "Llama", "Qwen", "Alibaba",
    "Mistral", "Mixtral", "Google", "Gemini", "Gemma", "DeepMind", "DeepSeek", "Microsoft",
    "Phi", "xAI", "Grok", "Cohere", "Command R", "Falcon", "Vicuna", "Yi", "01.AI",
)  # fmt: skip


@dataclass(frozen=True)
class CompareAsk:
    """One question for several models, with the parameters they all get."""

    user: AbstractBaseUser
    question: str
    models: Sequence[str]
    temperature: float
    top_k: int
    top_p: float
    max_tokens: int
    blind: bool = False


class OverLimit(Exception):
    """The per-user limits refused a comparison's calls; nothing was sent or saved."""

    def __init__(self, refusal: limits.Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def admit_calls(user: AbstractBaseUser, calls: int) -> None:
    """The one place a comparison asks the per-user limits for its model calls, one per column,
    before anything is saved (`start_round` calls it, for new comparisons and follow-ups
    alike); raises OverLimit when refused."""
    refusal = limits.admit(user, calls=calls)
    if refusal is not None:
        raise OverLimit(refusal)


def shuffle_sides(names: list[str]) -> None:
    """A blind comparison's order, from the system's random source (not guessable)."""
    random.SystemRandom().shuffle(names)


def create(ask: CompareAsk) -> Comparison:
    """Save the comparison with a conversation per model; blind ones get a random order."""
    order = list(ask.models)
    if ask.blind:
        shuffle_sides(order)
    now = timezone.now()
    with transaction.atomic():
        comparison = Comparison.objects.create(
            owner=ask.user,
            question=ask.question,
            temperature=ask.temperature,
            top_k=ask.top_k,
            top_p=ask.top_p,
            max_tokens=ask.max_tokens,
            blind=ask.blind,
        )
        for position, name in enumerate(order):
            conversation = Conversation.objects.create(
                owner=ask.user, title=services.title_for(ask.question), updated=now
            )
            ComparisonColumn.objects.create(
                comparison=comparison,
                position=position,
                model_name=name,
                conversation=conversation,
            )
    return comparison


def columns_of(comparison: Comparison) -> list[ComparisonColumn]:
    """The comparison's columns from the left, each with its conversation (one query)."""
    return list(comparison.columns.select_related("conversation").order_by("position"))


def start_round(
    question: str, *, ask: CompareAsk | None = None, comparison: Comparison | None = None
) -> tuple[Comparison, list[services.Turn]]:
    """A new comparison (`ask`) or a follow-up in `comparison`: the limits asked for one call
    per column, then `question` saved in every column's thread and each model's call built
    (its own history)."""
    if comparison is None:
        if ask is None:
            raise TypeError("start_round needs an ask (new comparison) or a comparison")
        admit_calls(ask.user, len(ask.models))
        comparison = create(ask)
    else:
        admit_calls(comparison.owner, comparison.columns.count())
    turns = [
        services.start_turn(
            ask=services.Ask(
                user=comparison.owner,
                conversation=column.conversation,
                question=question,
                model=column.model_name,
                temperature=comparison.temperature,
                top_k=comparison.top_k,
                top_p=comparison.top_p,
                max_tokens=comparison.max_tokens,
                source=Message.Source.COMPARE,
            )
        )
        for column in columns_of(comparison)
    ]
    return comparison, turns


async def _call_all(turns: Sequence[services.Turn]) -> list[llm.ChatResult]:
    calls = (llm.achat(turn.endpoint, turn.request) for turn in turns)
    if threading.current_thread() is threading.main_thread():
        return list(await asyncio.gather(*calls))
    async with llm.private_clients():
        return list(await asyncio.gather(*calls))


def answer_all(turns: Sequence[services.Turn]) -> list[Message]:
    """The plain form post's round: every model called at once, then the answers stored."""
    from asgiref.sync import async_to_sync

    results = async_to_sync(_call_all)(turns)
    return [services.save_answer(turn=t, result=r) for t, r in zip(turns, results, strict=True)]


async def stream_all(
    turns: Sequence[services.Turn],
) -> AsyncIterator[tuple[int, str | services.Answered]]:
    """(column position, item) as the answers arrive side by side, each column's items as
    `services.stream_answer` yields them. Closed early, every column still streaming is
    stopped, and stored as cancelled."""
    queue: asyncio.Queue[tuple[int, str | services.Answered | None]] = asyncio.Queue()

    async def pump(position: int, turn: services.Turn) -> None:
        try:
            async with aclosing(services.stream_answer(turn)) as stream:
                async for item in stream:
                    await queue.put((position, item))
        finally:
            await queue.put((position, None))

    tasks = [asyncio.ensure_future(pump(i, turn)) for i, turn in enumerate(turns)]
    running = len(tasks)
    try:
        while running:
            position, item = await queue.get()
            if item is None:
                running -= 1
            else:
                yield position, item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:  # a failure of the machinery itself (not of a call) is not hidden
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()


# --- Blind mode and votes -------------------------------------------------------------------


def latest_vote(comparison: Comparison) -> Vote | None:
    return comparison.votes.order_by("-created", "-id").first()


def names_shown(comparison: Comparison, vote: Vote | None) -> bool:
    """Model names are shown unless the comparison is blind and has no vote yet."""
    return not comparison.blind or vote is not None


def can_vote(columns: Sequence[ComparisonColumn]) -> bool:
    """Votes (a / b / tie / both bad) are for two-model comparisons."""
    return len(columns) == 2


def identity_words(model_names: Sequence[str]) -> list[str]:
    """The vendor words and the models' names, whole and cut at ':', '/', '-' and '.'."""
    words = set(VENDOR_WORDS)
    for name in model_names:
        words.add(name)
        words.update(part for part in re.split(r"[:/]", name) if len(part) >= 3)
        base = re.split(r"[:/\-.\d]", name.rsplit("/", 1)[-1])[0]
        if len(base) >= 3:
            words.add(base)
    return sorted(words, key=len, reverse=True)


def identity_leak(texts: Sequence[str], model_names: Sequence[str]) -> str:
    """The first model or vendor name found in the answers (whole words, any case), or ""."""
    pattern = "|".join(re.escape(word) for word in identity_words(model_names))
    # Not inside a longer word, but "Llama3" or "GPT-4o" still count.
    found = re.compile(rf"(?<![a-z0-9])(?:{pattern})(?![a-z])", re.IGNORECASE)
    for text in texts:
        match = found.search(text)
        if match:
            return match.group(0)
    return ""


def cast_vote(comparison: Comparison, choice: str) -> Vote:
    """Record the owner's vote (the latest counts). A vote on a blind comparison whose answers
    name a model or vendor is flagged: the ranking leaves it out by default."""
    columns = columns_of(comparison)
    reason = ""
    if comparison.blind:
        answers = Message.objects.filter(
            conversation__in=[column.conversation_id for column in columns],
            role=Message.Role.ASSISTANT,
        ).values_list("content", flat=True)
        leak = identity_leak(list(answers), [column.model_name for column in columns])
        if leak:
            reason = f"an answer names {leak!r}"
    return Vote.objects.create(
        comparison=comparison,
        choice=choice,
        blind=comparison.blind,
        flagged=bool(reason),
        flag_reason=reason,
    )


def attach_comparisons(conversations: Iterable[Conversation]) -> None:
    """Set `comparison_id` (None unless the conversation is a comparison's column) and
    `names_hidden` (a blind comparison before its vote) on each, in one query for all."""
    rows = list(conversations)
    found = {
        conversation_id: (comparison_id, blind and not voted)
        for conversation_id, comparison_id, blind, voted in ComparisonColumn.objects.filter(
            conversation__in=[row.pk for row in rows]
        )
        .annotate(voted=Exists(Vote.objects.filter(comparison=OuterRef("comparison"))))
        .values_list("conversation_id", "comparison_id", "comparison__blind", "voted")
    }
    for row in rows:
        row.comparison_id, row.names_hidden = found.get(row.pk, (None, False))
