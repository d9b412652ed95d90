"""Regenerate and edit as the page's script asks for them (Accept: text/event-stream), through
Django's ASGI handler: the same events as /ask/stream/, and the tree they leave."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.urls import reverse

from llm_metadata import branches
from llm_metadata.models import Message
from tests.factories import make_conversation, make_turn
from tests.test_chat_stream import Exchange
from tests.test_chat_stream import post as post_stream

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("llm_clients")]


async def post(user: User, path: str, data: dict[str, str]) -> Exchange:
    """POST `data` as multipart to `path`, as the page's script does, and read the whole reply."""
    return await post_stream(user, data, path=path, accept="text/event-stream")


@sync_to_async
def _turns(user: User) -> list[Message]:
    conversation = make_conversation(user)
    return [*make_turn(conversation, "Q1", "A1"), *make_turn(conversation, "Q2", "A2")]


@sync_to_async
def _path(message: Message) -> list[str]:
    return [m.content for m in branches.path_messages(message.conversation_id)]


def _sent(server) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in server.state.last["body"]["messages"]]


async def test_a_regenerate_streams_like_any_answer(alice: User, fake_openai) -> None:
    _, _, q2, a2 = await _turns(alice)
    fake_openai.state.reply = "A2 once more"
    path = reverse("llm_metadata:message-regenerate", args=[a2.pk])
    exchange = await post(alice, path, {"model": "fake-large"})
    assert exchange.status == 200
    assert exchange.names()[0] == "meta" and exchange.names()[-1] == "done"
    assert exchange.text() == "A2 once more"
    meta, done = exchange.events()[0][1], exchange.events()[-1][1]
    assert (meta["question_id"], meta["version_of"]) == (q2.pk, a2.pk)
    assert (done["parent"], done["active"], done["model_name"]) == (q2.pk, True, "fake-large")
    assert _sent(fake_openai) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2")]
    assert await _path(a2) == ["Q1", "A1", "Q2", "A2 once more"]


async def test_an_edit_streams_and_a_failed_regenerate_stays_off_the_path(
    alice: User, fake_openai
) -> None:
    q1, _, _, a2 = await _turns(alice)
    fake_openai.state.reply = "A1 edited"
    exchange = await post(
        alice,
        reverse("llm_metadata:message-edit", args=[q1.pk]),
        {"question": "Q1 edited", "model": "fake-small"},
    )
    assert exchange.names()[-1] == "done" and exchange.text() == "A1 edited"
    assert _sent(fake_openai) == [("user", "Q1 edited")]
    assert await _path(a2) == ["Q1 edited", "A1 edited"]
    fake_openai.state.mode = "stream_error"
    answer = await sync_to_async(Message.objects.get)(content="A1 edited")
    exchange = await post(alice, reverse("llm_metadata:message-regenerate", args=[answer.pk]), {})
    assert exchange.names()[-1] == "error"
    assert await _path(a2) == ["Q1 edited", "A1 edited"]
    failed = await sync_to_async(Message.objects.latest)("created", "id")
    assert (failed.status, failed.active, failed.parent_id) == ("error", False, answer.parent_id)


async def test_bad_values_get_the_errors_as_json(alice: User, fake_openai) -> None:
    _, _, _, a2 = await _turns(alice)
    path = reverse("llm_metadata:message-regenerate", args=[a2.pk])
    exchange = await post(alice, path, {"top_k": "500"})
    assert exchange.status == 400
    assert b"Top K must be a whole number from 0 to 100." in bytes(exchange.body)
    assert not [r for r in fake_openai.state.requests if r["path"].endswith("/completions")]
