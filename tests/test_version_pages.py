"""The chat and detail pages show the active path only, with a switcher (< 2/3 >) and a table
comparing the versions of an answer; their query counts do not grow with the versions."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from llm_metadata import branches
from llm_metadata.models import Conversation, Feedback, Message
from tests.factories import make_conversation, make_turn

ASK = reverse("llm_metadata:ask")


def _versioned(alice: User, turns: int) -> Conversation:
    """`turns` exchanges; every answer has three versions, the middle one active."""
    conversation = make_conversation(alice, title="Versions")
    for i in range(turns):
        question, first = make_turn(conversation, f"Q{i}", f"first {i}", model_name="small")
        middle = Message.objects.create(
            conversation=conversation,
            role="assistant",
            content=f"middle {i}",
            parent=question,
            active=False,
            model_name="large",
            temperature=0.2,
            completion_tokens=40,
            elapsed_time=2.0,
            time_to_first_token=0.5,
            cost=Decimal("0.0012"),
        )
        Message.objects.create(
            conversation=conversation,
            role="assistant",
            content=f"last {i}",
            parent=question,
            active=False,
            status="error",
            error="refused",
        )
        Feedback.objects.create(message=first, user=alice, rating=-1, comment=f"meh {i}")
        branches.activate(middle)
    return conversation


def test_the_chat_page_shows_the_active_path_with_switchers(
    alice: User, alice_client: Client, fake_openai
) -> None:
    conversation = _versioned(alice, 2)
    text = alice_client.get(ASK, {"c": conversation.pk}).text
    assert "middle 0" in text and "middle 1" in text
    assert "first 0" not in text and "last 1" not in text
    assert text.count('class="version-count">2/3<') == 2
    assert text.count("version-prev") == 2 and text.count("version-next") == 2
    # The version table: model, parameters, tokens, timings, speed, cost, feedback, status.
    assert text.count("Compare the 3 versions") == 2
    assert "<td>large</td>" in text and "<td>small</td>" in text
    assert "t 0.2 · k — · p — · max —" in text
    assert "<td>2.00 s</td><td>0.50 s</td>" in text.replace("\n      ", "")
    assert "<td>26.7</td>" in text.replace("\n      ", "")  # 40 tokens / 1.5 s
    assert "$0.00120000" in text
    assert "👎 meh 0" in text
    assert "<td>error" in text


def test_a_switcher_link_posts_to_select_and_comes_back(alice: User, alice_client: Client) -> None:
    conversation = _versioned(alice, 1)
    first = Message.objects.get(content="first 0")
    page = f"{reverse('llm_metadata:conversation-detail', args=[conversation.pk])}"
    text = alice_client.get(page).text
    select = reverse("llm_metadata:message-select", args=[first.pk])
    assert f'action="{select}"' in text
    response = alice_client.post(select, {"next": page})
    assert response["Location"] == f"{page}#message-{first.pk}"
    text = alice_client.get(page).text
    assert "first 0" in text and "middle 0" not in text
    assert 'class="version-count">1/3<' in text


def test_the_pages_queries_do_not_grow_with_the_versions(
    alice: User, alice_client: Client, fake_openai, django_assert_max_num_queries
) -> None:
    conversation = _versioned(alice, 30)
    detail = reverse("llm_metadata:conversation-detail", args=[conversation.pk])
    alice_client.get(ASK, {"c": conversation.pk})  # the model list, now in the shared cache
    with django_assert_max_num_queries(11):  # one more than without versions: the versions
        response = alice_client.get(ASK, {"c": conversation.pk})
    assert response.text.count("Compare the 3 versions") == 25
    with django_assert_max_num_queries(7):  # one more than without versions: the versions
        response = alice_client.get(detail)
    assert response.text.count("Compare the 3 versions") == 25
    assert "60 messages" in response.text
