"""API calls beside chats: the history's source and key filters, the detail page, the export."""

from __future__ import annotations

import orjson
from django.urls import reverse

from llm_metadata import api_keys
from llm_metadata.models import Message
from tests.factories import make_conversation, make_turn

HISTORY = reverse("llm_metadata:conversation-list")


def _api_conversation(owner, title: str, key: str = "notebook"):
    conversation = make_conversation(owner, title=title)
    question, answer = make_turn(conversation, question="q", answer="a")
    Message.objects.filter(pk__in=[question.pk, answer.pk]).update(
        source=Message.Source.API, api_key_name=key
    )
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.TOOL,
        content="42",
        source=Message.Source.API,
        api_key_name=key,
        message_extra={"tool_call_id": "call_1"},
    )
    return conversation


def test_history_filters_by_source_and_by_key(alice_client, alice) -> None:
    api_keys.create_key(owner=alice, name="notebook")
    make_turn(make_conversation(alice, title="typed in the chat"))
    _api_conversation(alice, "from a notebook")
    _api_conversation(alice, "from cron", key="cron")
    page = alice_client.get(HISTORY).content.decode()
    assert 'name="source"' in page and 'name="key"' in page
    api = alice_client.get(HISTORY, {"source": "api"}).content.decode()
    assert "from a notebook" in api and "from cron" in api and "typed in the chat" not in api
    chat = alice_client.get(HISTORY, {"source": "chat"}).content.decode()
    assert "typed in the chat" in chat and "from a notebook" not in chat
    keyed = alice_client.get(HISTORY, {"key": "cron"}).content.decode()
    assert "from cron" in keyed and "from a notebook" not in keyed


def test_the_detail_page_shows_an_api_call_with_its_key_and_tool_message(
    alice_client, alice
) -> None:
    conversation = _api_conversation(alice, "from a notebook")
    page = alice_client.get(
        reverse("llm_metadata:conversation-detail", args=[conversation.pk])
    ).content.decode()
    assert "API · notebook" in page and 'data-role="tool"' in page


def test_the_messages_export_filters_by_source_and_key(alice_client, alice) -> None:
    make_turn(make_conversation(alice, title="chat"))
    _api_conversation(alice, "api", key="cron")
    url = reverse("llm_metadata:messages-export", args=["jsonl"])
    response = alice_client.get(url, {"source": "api", "key": "cron"})
    rows = [orjson.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert len(rows) == 3 and {r["source"] for r in rows} == {"api"}
    assert {r["api_key_name"] for r in rows} == {"cron"} and "tool" in {r["role"] for r in rows}


def test_analytics_narrows_to_api_calls_and_to_one_key(alice_client, alice) -> None:
    make_turn(make_conversation(alice), model_name="chat-model")
    conversation = _api_conversation(alice, "api")
    Message.objects.filter(conversation=conversation).update(model_name="api-model")
    url = reverse("llm_metadata:analytics")
    everything = alice_client.get(url).content.decode()
    assert "chat-model" in everything and "api-model" in everything
    api = alice_client.get(url, {"source": "api"}).content.decode()
    assert "api-model" in api and "chat-model" not in api and "source api" in api
    other_key = alice_client.get(url, {"key": "cron"}).content.decode()
    assert "api-model" not in other_key
