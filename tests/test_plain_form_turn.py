"""The plain form's turn (issue 11, item 8): its database connection goes back during the model
call, and every failure the streaming path handles (and a cancel or a bug around the call)
leaves the question with an answer row that explains it; never a server error page."""

from __future__ import annotations

import asyncio
import secrets
import string

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.handlers.asgi import ASGIHandler
from django.db import connection, connections
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse
from markupsafe import escape  # the message partials are Jinja2

from llm_metadata import llm, services
from llm_metadata.models import Message
from tests.test_chat_page import form
from tests.test_chat_stream import session_cookie

ASK = reverse("llm_metadata:ask")


def turns() -> list[tuple[str, str]]:
    return list(Message.objects.order_by("created", "id").values_list("role", "status"))


@pytest.mark.django_db(transaction=True)
def test_it_gives_the_connection_back_during_the_call(
    alice_client: Client, fake_openai, monkeypatch
) -> None:
    seen: list[bool] = []
    call = llm.chat

    def spy(endpoint: llm.Endpoint, request: llm.ChatRequest) -> llm.ChatResult:
        seen.append(connection.connection is None)
        return call(endpoint, request)

    monkeypatch.setattr(services.llm, "chat", spy)
    assert alice_client.post(ASK, form()).status_code == 302
    # SQLite's test database lives in memory, and a connection to it is never closed.
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
    assert seen == [not in_memory]
    assert turns() == [("user", "ok"), ("assistant", "ok")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "mode", ["status", "html", "bad_json", "stream_error", "cut", "end_early", "keepalive"]
)
def test_it_stores_every_failure_of_the_call_with_the_question(
    alice_client: Client, fake_openai, settings, mode: str
) -> None:
    fake_openai.state.mode = mode
    settings.API_MAX_DURATION = 0.5  # "keepalive" never ends on its own
    fake_openai.state.delay = 0.05 if mode == "keepalive" else 0.0
    page = alice_client.post(ASK, form(), follow=True)
    assert page.status_code == 200
    assert turns() == [("user", "ok"), ("assistant", "error")]
    error = Message.objects.get(role="assistant").error
    assert error and escape(error) in page.content.decode()


@pytest.mark.django_db
def test_it_stores_a_bug_in_the_backend_as_an_error(
    alice_client: Client, fake_openai, broken_reader
) -> None:
    page = alice_client.post(ASK, form(), follow=True)
    assert page.status_code == 200
    assert turns() == [("user", "ok"), ("assistant", "error")]


@pytest.mark.django_db
def test_it_stores_a_failure_around_the_call_as_an_error(
    alice_client: Client, fake_openai, monkeypatch
) -> None:
    def broken(endpoint: llm.Endpoint, request: llm.ChatRequest) -> llm.ChatResult:
        raise RuntimeError("a bug around the call")

    monkeypatch.setattr(services.llm, "chat", broken)
    page = alice_client.post(ASK, form(), follow=True)
    assert page.status_code == 200
    assert turns() == [("user", "ok"), ("assistant", "error")]
    assert "The model call failed; try again." in page.content.decode()


@pytest.mark.django_db
def test_it_stores_a_cancel_during_the_call_then_lets_it_go_on(alice: User, monkeypatch) -> None:
    def cancelled(endpoint: llm.Endpoint, request: llm.ChatRequest) -> llm.ChatResult:
        raise asyncio.CancelledError

    monkeypatch.setattr(services.llm, "chat", cancelled)
    ask = services.Ask(
        user=alice, conversation=None, question="Hi?", model="demo", temperature=0.5,
        top_k=40, top_p=0.9, max_tokens=100,
    )  # fmt: skip
    with pytest.raises(asyncio.CancelledError):
        services.send_message(ask=ask)
    assert turns() == [("user", "ok"), ("assistant", "cancelled")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("llm_clients")
async def test_a_browser_that_goes_away_mid_answer_leaves_an_answer_row(
    alice: User, fake_openai
) -> None:
    """The real thing: a plain POST through Django's ASGI handler, hung up during the call."""
    fake_openai.state.tokens, fake_openai.state.delay = 40, 0.02
    session = await session_cookie(alice)
    token = "".join(secrets.choice(string.ascii_letters) for _ in range(32))
    body = encode_multipart(BOUNDARY, {**form(), "csrfmiddlewaretoken": token})
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={session}; csrftoken={token}"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": ASK, "raw_path": ASK.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"), (b"content-type", MULTIPART_CONTENT.encode()),
            (b"content-length", str(len(body)).encode()), (b"cookie", cookie.encode()),
        ],
    }  # fmt: skip
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        while not fake_openai.state.requests:  # hang up once the model is being asked
            await asyncio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        pass

    await ASGIHandler()(scope, receive, send)
    await sync_to_async(connections.close_all)()
    for _ in range(200):  # the call goes on in its thread; its answer is stored when it ends
        if len(await sync_to_async(turns)()) == 2:
            break
        await asyncio.sleep(0.02)
    assert (await sync_to_async(turns)())[0] == ("user", "ok")
    assert (await sync_to_async(turns)())[1][0] == "assistant"
