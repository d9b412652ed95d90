"""Feedback on answers: one per user per message, owner only, form or fetch."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from llm_metadata.models import Feedback, Message
from tests.factories import make_conversation, make_turn


@pytest.fixture
def answer(alice: User) -> Message:
    return make_turn(make_conversation(alice))[1]


def _url(message: Message) -> str:
    return reverse("llm_metadata:message-feedback", args=[message.pk])


def test_it_saves_a_thumbs_up_from_a_plain_form(alice_client: Client, answer: Message) -> None:
    response = alice_client.post(_url(answer), {"rating": "up", "comment": " clear "})
    assert response.status_code == 302
    detail = reverse("llm_metadata:conversation-detail", args=[answer.conversation_id])
    assert response["Location"] == f"{detail}#message-{answer.pk}"
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment, feedback.message) == (1, "clear", answer)


def test_its_rating_words_map_both_ways() -> None:
    assert Feedback.Rating.from_word("up") is Feedback.Rating.UP
    assert Feedback.Rating.from_word("down") is Feedback.Rating.DOWN
    for other in ("", "UP", "1", None, 1, ["up"], {"up": 1}):
        assert Feedback.Rating.from_word(other) is None
    assert [Feedback.Rating.word_of(v) for v in (1, -1, None, 0)] == ["up", "down", "", ""]
    assert Feedback.Rating.DOWN.word == "down"


def test_it_saves_a_comment_without_nul_characters(alice_client: Client, answer: Message) -> None:
    alice_client.post(_url(answer), {"rating": "down", "comment": "va\x00gue"})
    assert Feedback.objects.get().comment == "vague"


def test_it_redirects_back_to_a_local_next_only(alice_client: Client, answer: Message) -> None:
    ask = reverse("llm_metadata:ask")
    back = alice_client.post(_url(answer), {"rating": "up", "next": ask})
    assert back["Location"] == f"{ask}#message-{answer.pk}"
    evil = alice_client.post(_url(answer), {"rating": "up", "next": "https://evil.example/"})
    assert evil["Location"].startswith("/conversation/")


def test_it_answers_json_to_fetch(alice_client: Client, answer: Message) -> None:
    response = alice_client.post(
        _url(answer), {"rating": "down"}, headers={"accept": "application/json"}
    )
    assert response.json() == {"message": answer.pk, "rating": "down", "comment": ""}


def test_it_keeps_one_feedback_per_user_per_message(alice_client: Client, answer: Message) -> None:
    alice_client.post(_url(answer), {"rating": "up"})
    alice_client.post(_url(answer), {"rating": "down", "comment": "changed my mind"})
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment) == (-1, "changed my mind")


def test_it_is_enforced_by_the_database(alice: User, answer: Message) -> None:
    Feedback.objects.create(message=answer, user=alice, rating=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Feedback.objects.create(message=answer, user=alice, rating=-1)


def test_it_refuses_a_missing_rating(alice_client: Client, answer: Message) -> None:
    response = alice_client.post(_url(answer), {}, headers={"accept": "application/json"})
    assert response.status_code == 400
    assert "thumbs up or down" in response.json()["errors"]["rating"][0]
    assert not Feedback.objects.exists()


def test_it_hides_other_users_answers(bob_client: Client, answer: Message) -> None:
    assert bob_client.post(_url(answer), {"rating": "down"}).status_code == 404
    assert not Feedback.objects.exists()


def test_it_looks_the_answer_up_through_its_owner_in_one_query(
    bob_client: Client, answer: Message
) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert bob_client.post(_url(answer), {"rating": "down"}).status_code == 404
    app_queries = [q["sql"] for q in queries.captured_queries if "llm_metadata_" in q["sql"]]
    assert len(app_queries) == 1
    assert "llm_metadata_conversation" in app_queries[0]


def test_it_accepts_feedback_on_answers_only(alice_client: Client, answer: Message) -> None:
    question = answer.conversation.messages.get(role="user")
    assert alice_client.post(_url(question), {"rating": "up"}).status_code == 404


def test_it_is_post_only(alice_client: Client, answer: Message) -> None:
    assert alice_client.get(_url(answer)).status_code == 405


def test_it_renders_the_partial_with_the_current_rating(alice: User, answer: Message) -> None:
    Feedback.objects.create(message=answer, user=alice, rating=-1, comment="too long")
    message = Message.objects.prefetch_related("feedback").get(pk=answer.pk)
    html = render_to_string("llm_metadata/_feedback.html", {"message": message})
    assert _url(answer) in html
    assert 'value="too long"' in html
    assert "btn-danger" in html
    question = answer.conversation.messages.get(role="user")
    assert render_to_string("llm_metadata/_feedback.html", {"message": question}).strip() == ""
