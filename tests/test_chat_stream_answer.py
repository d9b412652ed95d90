"""services.stream_answer: the text as it arrives, then the stored answer, however the call ends.

The LLM is the fake server over real HTTP: the ending is the LLM package's decision, stored here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import connections

from llm_metadata import services
from llm_metadata.models import Message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("llm_clients")]


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
        model="fake-small",
        temperature=0.5,
        top_k=10,
        top_p=0.5,
        max_tokens=1000,
    )
    return services.start_turn(ask=ask)


@sync_to_async
def stored() -> Message:
    return Message.objects.get(role=Message.Role.ASSISTANT)


async def collect(turn: services.Turn) -> tuple[str, services.Answered]:
    items = [item async for item in services.stream_answer(turn)]
    *texts, last = items
    assert all(isinstance(text, str) for text in texts) and isinstance(last, services.Answered)
    return "".join(texts), last


async def test_it_yields_the_text_then_the_stored_answer(alice: User, fake_openai) -> None:
    text, answered = await collect(await start(alice))
    assert (text, answered.error) == ("The capital of France is Paris.", None)
    answer = await stored()
    assert answered.answer == answer
    assert (answer.status, answer.content, answer.completion_tokens) == ("ok", text, 6)
    assert 0 < answer.time_to_first_token <= answer.elapsed_time


async def test_it_stores_an_llm_failure_with_the_text_before_it(alice: User, fake_ollama) -> None:
    fake_ollama.state.mode = "cut"
    text, answered = await collect(await start(alice))
    assert text == "The capital"
    assert (
        answered.error == "The connection to the endpoint was lost before the answer was complete."
    )
    answer = await stored()
    assert (answer.status, answer.content, answer.error) == ("error", "The capital", answered.error)
    assert 0 < answer.time_to_first_token <= answer.elapsed_time
    assert answer.completion_tokens is None


async def test_it_ends_a_broken_stream_with_a_stored_error(
    alice: User, fake_openai, broken_reader, llm_log
) -> None:
    text, answered = await collect(await start(alice))
    assert text == "The" and answered.error == "Something went wrong while answering; try again."
    answer = await stored()
    assert (answer.status, answer.content) == ("error", "The")
    assert "RuntimeError: a bug" in llm_log.text  # the traceback is logged for the operator


async def test_it_stores_the_text_so_far_when_closed_early(alice: User, fake_openai) -> None:
    fake_openai.state.tokens, fake_openai.state.delay = 1000, 0.01
    stream = services.stream_answer(await start(alice))
    first = await anext(stream)
    await stream.aclose()
    answer = await stored()
    assert answer.status == "cancelled" and answer.content.startswith(first)
    assert 0 < len(answer.content) < len("".join(fake_openai.state.pieces()))
    assert 0 <= answer.time_to_first_token <= answer.elapsed_time


async def test_it_stores_the_text_so_far_when_cancelled(alice: User, fake_openai) -> None:
    fake_openai.state.tokens, fake_openai.state.delay = 1000, 0.01
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
    assert answer.status == "cancelled" and answer.content.startswith(" lorem")
    for _ in range(100):  # the upstream request is closed too
        if fake_openai.state.disconnects:
            break
        await asyncio.sleep(0.02)
    assert fake_openai.state.disconnects == 1


async def test_it_stores_an_answer_cut_at_api_max_duration(alice: User, fake_openai, settings):
    settings.API_MAX_DURATION = 0.5
    fake_openai.state.mode, fake_openai.state.delay = "keepalive", 0.05
    text, answered = await collect(await start(alice))
    assert text == "The capital"
    assert answered.error == "The answer took longer than 0.5 s (API_MAX_DURATION); it is cut off."
    answer = await stored()
    assert (answer.status, answer.content, answer.error) == ("error", text, answered.error)
    assert 0.5 < answer.elapsed_time < 1.5
