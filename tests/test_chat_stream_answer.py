"""services.stream_answer: the text as it arrives, then the stored answer, however the call ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import connections

from llm_metadata import llm, services
from llm_metadata.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _close_thread_connection() -> AsyncIterator[None]:
    """sync_to_async's thread has its own connection; left open, it holds the test database."""
    yield
    await sync_to_async(connections.close_all)()


@sync_to_async
def start(user: User) -> services.Turn:
    ask = services.Ask(
        user=user,
        conversation=None,
        question="Q",
        model="m",
        temperature=0.5,
        top_k=10,
        top_p=0.5,
        max_tokens=100,
    )
    return services.start_turn(ask=ask)


@sync_to_async
def stored() -> Message:
    return Message.objects.get(role=Message.Role.ASSISTANT)


def fake_llm(
    monkeypatch: pytest.MonkeyPatch,
    *items: str | llm.ChatResult | Exception,
    then_wait: bool = False,
) -> None:
    async def astream_chat(
        endpoint: llm.Endpoint, request: llm.ChatRequest
    ) -> AsyncIterator[str | llm.ChatResult]:
        for item in items:
            if isinstance(item, Exception):
                raise item
            yield item
        if then_wait:
            await asyncio.Event().wait()

    monkeypatch.setattr("llm_metadata.llm.astream_chat", astream_chat)


async def collect(turn: services.Turn) -> tuple[str, services.Answered]:
    items = [item async for item in services.stream_answer(turn)]
    *texts, last = items
    assert all(isinstance(text, str) for text in texts) and isinstance(last, services.Answered)
    return "".join(texts), last


async def test_it_yields_the_text_then_the_stored_answer(alice: User, monkeypatch) -> None:
    result = llm.ChatResult(text="Paris.", model="m", completion_tokens=2, elapsed=1.5)
    fake_llm(monkeypatch, "Par", "is.", result)
    text, answered = await collect(await start(alice))
    assert (text, answered.error) == ("Paris.", None)
    answer = await stored()
    assert answered.answer == answer
    assert (answer.status, answer.content, answer.completion_tokens) == ("ok", "Paris.", 2)
    assert answer.elapsed_time == 1.5  # the LLM package's timing, not a second clock


async def test_it_stores_an_llm_failure_with_the_text_before_it(alice: User, monkeypatch) -> None:
    partial = llm.ChatResult(text="Par", model="m", elapsed=2.0, time_to_first_token=0.5)
    fake_llm(monkeypatch, "Par", llm.LLMError("Cut \x00off.", partial=partial))
    text, answered = await collect(await start(alice))
    assert (text, answered.error) == ("Par", "Cut \x00off.")
    answer = await stored()
    assert (answer.status, answer.content, answer.error) == ("error", "Par", "Cut off.")
    assert (answer.elapsed_time, answer.time_to_first_token) == (2.0, 0.5)


async def test_it_ends_a_broken_stream_with_a_stored_error(alice: User, monkeypatch) -> None:
    fake_llm(monkeypatch, "Half", RuntimeError("a bug"))
    text, answered = await collect(await start(alice))
    assert text == "Half" and "question is saved" in answered.error
    answer = await stored()
    assert (answer.status, answer.content) == ("error", "Half")
    assert answer.elapsed_time >= 0 and answer.time_to_first_token is None


async def test_it_stores_the_text_so_far_when_closed_early(alice: User, monkeypatch) -> None:
    fake_llm(monkeypatch, "Half", then_wait=True)
    stream = services.stream_answer(await start(alice))
    assert await anext(stream) == "Half"
    await stream.aclose()
    answer = await stored()
    assert (answer.status, answer.content) == ("cancelled", "Half")
    assert 0 <= answer.time_to_first_token <= answer.elapsed_time


async def test_it_stores_the_text_so_far_when_cancelled(alice: User, monkeypatch) -> None:
    fake_llm(monkeypatch, "Half", then_wait=True)
    turn = await start(alice)
    first = asyncio.Event()

    async def relay() -> None:
        async for _ in services.stream_answer(turn):
            first.set()

    task = asyncio.create_task(relay())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    answer = await stored()
    assert (answer.status, answer.content) == ("cancelled", "Half")
