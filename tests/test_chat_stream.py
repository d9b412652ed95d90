"""POST /ask/stream/ driven through Django's ASGI handler: events, failures, client disconnects.

The requests go through the real ASGI path (middleware, CSRF, the disconnect listener), so a
test can hang up mid-answer the way a browser's Stop button does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import string
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from llm_metadata import services
from llm_metadata.models import Conversation, Message
from llm_metadata.request_threads import ThreadReusingASGIHandler
from llm_metadata.streaming import coalesce
from tests.factories import make_conversation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("llm_clients")]
STREAM = reverse("llm_metadata:ask-stream")


@dataclass
class Exchange:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)

    def events(self) -> list[tuple[str, dict]]:
        found = []
        for block in bytes(self.body).decode().split("\n\n"):
            if block.strip():
                name, data = block.split("\n")
                found.append(
                    (name.removeprefix("event: "), json.loads(data.removeprefix("data: ")))
                )
        return found

    def names(self) -> list[str]:
        return [name for name, _ in self.events()]

    def text(self) -> str:
        return "".join(data["text"] for name, data in self.events() if name == "delta")


def form(**changes: str) -> dict[str, str]:
    data = {
        "question": "What is the capital of France?",
        "model": "fake-small",
        "temperature": "0.7",
        "top_k": "40",
        "top_p": "0.9",
        "max_tokens": "600",
    }
    data.update(changes)
    return data


@sync_to_async
def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def post(
    user: User | str,
    data: dict[str, Any],
    hang_up_when: Callable[[bytes], bool] | None = None,
    *,
    path: str = STREAM,
    accept: str | None = None,
) -> Exchange:
    """POST `data` as multipart to `path` (the chat's stream endpoint) as `user` (or with a
    session key), with an `Accept` header when given; hang up once `hang_up_when(body so far)`.
    The other streaming endpoints' tests post through this too."""
    session = user if isinstance(user, str) else await session_cookie(user)
    token = "".join(secrets.choice(string.ascii_letters) for _ in range(32))
    body = encode_multipart(BOUNDARY, {**data, "csrfmiddlewaretoken": token})
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; csrftoken={token}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", MULTIPART_CONTENT.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cookie", cookie.encode()),
            *([(b"accept", accept.encode())] if accept else []),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    exchange = Exchange()
    gone = asyncio.Event()
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if gone.is_set():
            return
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")
            if hang_up_when is not None and hang_up_when(bytes(exchange.body)):
                gone.set()

    await ThreadReusingASGIHandler()(scope, receive, send)  # the app's handler (main/asgi.py)
    await sync_to_async(connections.close_all)()  # the request thread's connection
    return exchange


@sync_to_async
def messages() -> list[Message]:
    return list(Message.objects.order_by("created", "id"))


async def test_it_streams_meta_deltas_then_done(alice: User, fake_openai) -> None:
    exchange = await post(alice, form())
    assert exchange.status == 200
    assert exchange.headers["content-type"].startswith("text/event-stream")
    assert exchange.headers["cache-control"] == "no-cache"
    names = exchange.names()
    assert names[0] == "meta" and names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    assert exchange.text() == "The capital of France is Paris."
    asked, answered = await messages()
    meta, done = exchange.events()[0][1], exchange.events()[-1][1]
    assert meta["question_id"] == asked.pk
    assert meta["conversation_id"] == str(asked.conversation_id)
    assert "What is the capital of France?" in meta["question_html"]
    assert done["id"] == answered.pk and done["status"] == "ok"
    assert done["completion_tokens"] == answered.completion_tokens == 6
    assert done["prompt_tokens"] == answered.prompt_tokens
    assert done["time_to_first_token"] == answered.time_to_first_token
    assert done["model_name"] == "fake-small" and done["finish_reason"] == "stop"
    assert f'id="message-{answered.pk}"' in done["html"]
    assert "The capital of France is Paris." in done["html"]
    assert answered.content == "The capital of France is Paris."


async def test_it_keeps_the_conversation_in_the_session(alice: User, fake_openai) -> None:
    session = await session_cookie(alice)
    await post(session, form(question="One"))
    await post(session, form(question="Two"))
    conversation = await sync_to_async(Conversation.objects.get)()
    assert conversation.title == "One"
    assert await sync_to_async(conversation.messages.count)() == 4
    assert fake_openai.state.last["body"]["messages"][-3:] == [
        {"role": "user", "content": "One"},
        {"role": "assistant", "content": "The capital of France is Paris."},
        {"role": "user", "content": "Two"},
    ]
    stored = await sync_to_async(SessionStore(session).load)()
    assert stored["conversation_id"] == str(conversation.pk)


async def test_it_merges_deltas_that_arrive_together(alice: User, fake_openai) -> None:
    fake_openai.state.tokens = 300
    exchange = await post(alice, form())
    deltas = [name for name in exchange.names() if name == "delta"]
    assert len(deltas) < 300
    assert exchange.text() == "".join(fake_openai.state.pieces())
    assert (await messages())[-1].completion_tokens == 300


async def test_it_reports_a_failure_as_an_error_event(alice: User, fake_openai) -> None:
    fake_openai.state.mode = "status"
    fake_openai.state.status = 500
    exchange = await post(alice, form())
    assert exchange.status == 200
    assert exchange.names() == ["meta", "error"]
    error = exchange.events()[-1][1]
    asked, answered = await messages()
    assert asked.role == "user" and asked.content == "What is the capital of France?"
    assert answered.status == "error" and answered.error == error["message"]
    assert error["id"] == answered.pk and error["message"] in error["html"]


async def test_it_keeps_the_text_before_a_stream_is_cut(alice: User, fake_openai) -> None:
    fake_openai.state.mode = "cut"
    exchange = await post(alice, form())
    assert exchange.names()[-1] == "error"
    assert exchange.text() == "The capital"
    answered = (await messages())[-1]
    assert (answered.status, answered.content) == ("error", "The capital")


async def test_it_ends_the_stream_with_a_message_when_something_breaks(
    alice: User, fake_openai, broken_reader
) -> None:
    exchange = await post(alice, form())
    assert exchange.names() == ["meta", "delta", "error"]
    assert exchange.events()[-1][1]["message"] == "Something went wrong while answering; try again."
    _, answered = await messages()
    assert (answered.status, answered.content) == ("error", "The")


async def test_it_stores_a_cancelled_answer_when_the_client_hangs_up(
    alice: User, fake_openai
) -> None:
    fake_openai.state.tokens = 400
    fake_openai.state.delay = 0.02
    exchange = await post(alice, form(), hang_up_when=lambda body: b"event: delta" in body)
    assert "done" not in exchange.names()
    asked, answered = await messages()
    assert asked.status == "ok"
    assert answered.status == "cancelled"
    assert answered.content and exchange.text() in answered.content
    assert len(answered.content) < len("".join(fake_openai.state.pieces()))
    assert answered.time_to_first_token is not None and answered.elapsed_time > 0
    assert answered.prompt_tokens is None and answered.completion_tokens is None
    for _ in range(100):  # the upstream request is closed too
        if fake_openai.state.disconnects:
            break
        await asyncio.sleep(0.02)
    assert fake_openai.state.disconnects == 1


async def test_an_answer_stored_after_its_request_has_ended_is_kept(
    alice: User, fake_openai, monkeypatch
) -> None:
    """The shielded ending can outlive its request (the request task cancelled again while it
    waits for the store, as a server shutting down does): its store still runs, after the
    request's thread has gone back to the pool."""
    fake_openai.state.tokens = 400
    fake_openai.state.delay = 0.02
    store = services.astore_answer
    storing, request_over = asyncio.Event(), asyncio.Event()

    async def store_after_the_request(**kwargs: Any) -> Message:
        storing.set()
        await request_over.wait()
        return await store(**kwargs)

    monkeypatch.setattr(services, "astore_answer", store_after_the_request)
    request = asyncio.create_task(
        post(alice, form(), hang_up_when=lambda body: b"event: delta" in body)
    )
    await asyncio.wait_for(storing.wait(), timeout=10)
    request.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await request
    request_over.set()
    for _ in range(200):
        if await Message.objects.filter(role="assistant").aexists():
            break
        await asyncio.sleep(0.02)
    _, answered = await messages()
    assert answered.status == "cancelled" and answered.content


async def test_it_relays_two_answers_at_once_on_one_event_loop(
    alice: User, bob: User, fake_openai
) -> None:
    fake_openai.state.tokens = 100  # alice's long answer (the fake reads it per request)
    fake_openai.state.delay = 0.02
    alice_streaming = asyncio.Event()
    finished: list[str] = []

    def alice_watch(body: bytes) -> bool:
        if b"event: delta" in body and not alice_streaming.is_set():
            fake_openai.state.tokens = 3  # bob's short one
            alice_streaming.set()
        return False

    async def alice_asks() -> Exchange:
        exchange = await post(alice, form(), hang_up_when=alice_watch)
        finished.append("alice")
        return exchange

    async def bob_asks() -> Exchange:
        await alice_streaming.wait()
        exchange = await post(bob, form())
        finished.append("bob")
        return exchange

    long, short = await asyncio.gather(alice_asks(), bob_asks())
    assert long.names()[-1] == short.names()[-1] == "done"
    assert (len(long.names()) > 3, short.text()) == (True, " lorem ipsum dolor")
    # Bob's short answer went out while alice's long one was still streaming.
    assert finished == ["bob", "alice"]


async def test_it_answers_with_the_demo_model(alice: User, demo_endpoint) -> None:
    exchange = await post(alice, form(model="demo"))
    assert exchange.names()[-1] == "done"
    assert "This is the demo model" in exchange.text()


async def test_it_refuses_another_users_conversation(alice: User, bob: User, fake_openai) -> None:
    theirs = await sync_to_async(make_conversation)(bob)
    exchange = await post(alice, form(conversation=str(theirs.pk)))
    assert exchange.status == 404
    assert await messages() == []
    assert not [r for r in fake_openai.state.requests if r["path"].endswith("/chat/completions")]


async def test_it_answers_form_errors_with_json(alice: User, fake_openai) -> None:
    exchange = await post(alice, form(temperature="3"))
    assert exchange.status == 400
    assert json.loads(bytes(exchange.body)) == {
        "errors": {"temperature": ["Temperature must be a number from 0 to 1."]}
    }


async def test_it_answers_nul_characters_in_the_form_with_json_errors(
    alice: User, fake_openai
) -> None:
    exchange = await post(alice, form(question="Hi\x00there"))
    assert exchange.status == 400
    assert json.loads(bytes(exchange.body))["errors"] == {
        "question": ["Null characters are not allowed."]
    }
    late = SimpleUploadedFile("late.txt", b"words " * 2000 + b"\x00")
    exchange = await post(alice, {**form(), "file_upload": late})
    assert exchange.status == 400
    assert "binary data" in json.loads(bytes(exchange.body))["errors"]["file_upload"][0]
    assert await messages() == []


async def test_it_stores_an_answer_with_nul_characters_without_them(
    alice: User, fake_openai
) -> None:
    fake_openai.state.reply = "Par\x00is\x00."
    exchange = await post(alice, form())
    assert exchange.names()[-1] == "done"
    assert (await messages())[-1].content == "Paris."


async def _source(items: list[str | int], gap: float = 0.0) -> AsyncIterator[str | int]:
    for item in items:
        if gap:
            await asyncio.sleep(gap)
        yield item


async def test_coalesce_joins_a_burst_and_keeps_the_final_record_last() -> None:
    out = [item async for item in coalesce(_source([*"abcdefghij", 42]), window=0.5)]
    assert out == ["a", "bcdefghij", 42]


async def test_coalesce_sends_spaced_deltas_at_once() -> None:
    out = [item async for item in coalesce(_source(["a", "b", "c"], gap=0.05), window=0.01)]
    assert out == ["a", "b", "c"]


async def test_coalesce_flushes_text_before_a_failure() -> None:
    async def failing() -> AsyncIterator[str]:
        yield "a"
        yield "b"
        raise RuntimeError("boom")

    seen: list[str] = []
    with pytest.raises(RuntimeError):
        async for item in coalesce(failing(), window=10):
            seen.append(item)
    assert "".join(seen) == "ab"


async def test_coalesce_closes_its_source_when_closed() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                await asyncio.sleep(0.001)
                yield "x"
        finally:
            closed.set()

    stream = coalesce(endless(), window=0.001)
    assert await anext(stream) == "x"
    await stream.aclose()
    assert closed.is_set()
