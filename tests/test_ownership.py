"""Users reach only their own conversations; deleting one removes its messages and files."""

from __future__ import annotations

from pathlib import Path

from django.core.files.base import ContentFile
from django.urls import reverse

from llm_metadata.models import Conversation, Message
from tests.factories import make_conversation, make_turn


def test_it_hides_other_users_conversations_from_for_user(alice, bob):
    mine = make_conversation(alice)
    make_conversation(bob)
    assert list(Conversation.objects.for_user(alice)) == [mine]


def test_it_returns_nothing_for_an_anonymous_user(alice):
    from django.contrib.auth.models import AnonymousUser

    make_conversation(alice)
    assert Conversation.objects.for_user(AnonymousUser()).count() == 0


def test_it_answers_404_for_another_users_conversation(alice, bob_client):
    conversation = make_conversation(alice)
    make_turn(conversation)
    detail = reverse("llm_metadata:conversation-detail", args=[conversation.pk])
    delete = reverse("llm_metadata:conversation-delete", args=[conversation.pk])
    assert bob_client.get(detail).status_code == 404
    assert bob_client.post(delete).status_code == 404
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_it_deletes_a_conversation_with_its_messages_and_files(
    alice, alice_client, django_capture_on_commit_callbacks
):
    conversation = make_conversation(alice)
    question, _ = make_turn(conversation)
    question.attachment.save("notes.txt", ContentFile(b"some notes"), save=True)
    stored = Path(question.attachment.path)
    assert stored.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            reverse("llm_metadata:conversation-delete", args=[conversation.pk])
        )

    assert response.status_code == 302
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()
    assert not stored.exists()


def test_it_refuses_delete_by_get(alice, alice_client):
    conversation = make_conversation(alice)
    response = alice_client.get(reverse("llm_metadata:conversation-delete", args=[conversation.pk]))
    assert response.status_code == 405
    assert Conversation.objects.filter(pk=conversation.pk).exists()
