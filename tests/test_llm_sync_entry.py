"""`llm.chat` (the plain form's sync call): on the server's loop it uses that loop's pooled
client; called with no loop around it, it makes a client of its own and closes it."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from asgiref.sync import sync_to_async

from llm_metadata import llm
from llm_metadata.llm import ChatRequest, chat, transport

pytestmark = pytest.mark.usefixtures("llm_clients")


def ask() -> ChatRequest:
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    return ChatRequest(
        model="fake-small",
        messages=messages,
        temperature=0.3,
        top_k=20,
        top_p=0.8,
        max_tokens=50,
        context_length=8192,
    )


async def test_a_request_thread_calls_through_the_servers_pooled_client(fake_openai) -> None:
    # The test's loop runs in the main thread, as the ASGI server's does; a sync view runs in
    # another thread and calls chat(), as the plain form post does.
    with mock.patch.object(llm, "private_clients", wraps=llm.private_clients) as private:
        first = await sync_to_async(chat)(fake_openai.endpoint(), ask())
        second = await sync_to_async(chat)(fake_openai.endpoint(), ask())
    assert first.text == second.text == "The capital of France is Paris."
    assert private.call_count == 0
    pool = transport._pools[asyncio.get_running_loop()]
    assert [client.is_closed for client in pool.values()] == [False]


def test_a_call_without_a_server_loop_closes_its_own_client(fake_openai) -> None:
    with mock.patch.object(llm, "private_clients", wraps=llm.private_clients) as private:
        result = chat(fake_openai.endpoint(), ask())
    assert result.text == "The capital of France is Paris."
    assert private.call_count == 1
