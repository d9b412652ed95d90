"""The admin changelists stay within a fixed number of queries however many messages exist."""

from __future__ import annotations

import pytest
from django.urls import reverse

from llm_metadata.models import Conversation, Message


@pytest.fixture
def many_messages(alice, bob) -> None:
    conversations = [
        Conversation(owner=owner, title=f"Topic {i}") for i in range(25) for owner in (alice, bob)
    ]
    Conversation.objects.bulk_create(conversations)
    Message.objects.bulk_create(
        Message(
            conversation=conversations[i % len(conversations)],
            role="user" if i % 2 == 0 else "assistant",
            content=f"message number {i} about paris",
            model_name=("llama3", "qwen3")[i % 2],
            total_tokens=i,
            elapsed_time=0.1,
        )
        for i in range(500)
    )


@pytest.mark.parametrize(
    "query",
    ["", "?q=paris", "?role__exact=user", "?model_name=llama3&status__exact=ok", "?q=alice"],
)
def test_it_lists_messages_in_few_queries(
    admin_client, many_messages, django_assert_max_num_queries, query
):
    url = reverse("admin:llm_metadata_message_changelist") + query
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    assert response.status_code == 200
    assert "message number" in response.content.decode()


@pytest.mark.parametrize("query", ["", "?q=Topic", "?q=bob"])
def test_it_lists_conversations_with_message_counts(
    admin_client, many_messages, django_assert_max_num_queries, query
):
    url = reverse("admin:llm_metadata_conversation_changelist") + query
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    assert response.status_code == 200
    assert "Topic" in response.content.decode()


def test_it_opens_a_conversation_with_its_messages_inline(admin_client, many_messages):
    conversation = Conversation.objects.first()
    url = reverse("admin:llm_metadata_conversation_change", args=[conversation.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "message number" in response.content.decode()


def test_it_is_closed_to_non_staff(alice_client):
    response = alice_client.get(reverse("admin:llm_metadata_message_changelist"))
    assert response.status_code == 302
