"""Regenerate, edit and select without JavaScript: the tree they build and the exact messages
the (fake, real HTTP) model receives afterwards, which come from the active path only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from llm_metadata import branches
from llm_metadata.models import Message
from tests.factories import make_conversation, make_turn

ASK = reverse("llm_metadata:ask")


def _url(name: str, message: Message) -> str:
    return reverse(f"llm_metadata:message-{name}", args=[message.pk])


def ask(client: Client, server, question: str, reply: str, conversation: str = "") -> Message:
    """One turn through the plain form; the answer stored."""
    server.state.reply = reply
    data = {
        "question": question,
        "model": "fake-small",
        "temperature": "0.3",
        "top_k": "20",
        "top_p": "0.8",
        "max_tokens": "256",
        "conversation": conversation,
    }
    response = client.post(ASK, data)
    assert response.status_code == 302
    return Message.objects.filter(role="assistant").latest("created", "id")


def sent(server) -> list[tuple[str, str]]:
    """The messages of the model's last chat request, as (role, content)."""
    return [(m["role"], m["content"]) for m in server.state.last["body"]["messages"]]


def path_of(conversation_id) -> list[str]:
    return [m.content for m in branches.path_messages(conversation_id)]


@pytest.fixture
def two_turns(alice_client: Client, fake_openai) -> tuple[Message, Message]:
    first = ask(alice_client, fake_openai, "Q1", "R1")
    second = ask(alice_client, fake_openai, "Q2", "R2", str(first.conversation_id))
    return first, second


def test_a_regenerate_replays_the_branch_above_the_question(
    alice_client: Client, fake_openai, two_turns: tuple[Message, Message]
) -> None:
    _, answer = two_turns
    fake_openai.state.reply = "R2 again"
    response = alice_client.post(_url("regenerate", answer))
    new = Message.objects.latest("created", "id")
    assert response.status_code == 302
    assert response["Location"].endswith(f"?c={answer.conversation_id}#message-{new.pk}")
    assert sent(fake_openai) == [("user", "Q1"), ("assistant", "R1"), ("user", "Q2")]
    body = fake_openai.state.last["body"]
    assert (body["model"], body["temperature"], body["top_p"], body["max_tokens"]) == (
        "fake-small",
        0.3,
        0.8,
        256,
    )
    assert (new.parent_id, new.content, new.active) == (answer.parent_id, "R2 again", True)
    answer.refresh_from_db()
    assert not answer.active
    assert path_of(answer.conversation_id) == ["Q1", "R1", "Q2", "R2 again"]
    ask(alice_client, fake_openai, "Q3", "R3", str(answer.conversation_id))
    assert sent(fake_openai) == [
        ("user", "Q1"),
        ("assistant", "R1"),
        ("user", "Q2"),
        ("assistant", "R2 again"),
        ("user", "Q3"),
    ]


def test_a_regenerate_takes_another_model_and_parameters(
    alice_client: Client, fake_openai, two_turns: tuple[Message, Message]
) -> None:
    _, answer = two_turns
    data = {"model": "fake-large", "temperature": "0.1", "top_k": "5", "max_tokens": "99"}
    alice_client.post(_url("regenerate", answer), data)
    body = fake_openai.state.last["body"]
    assert (body["model"], body["temperature"], body["top_p"], body["max_tokens"]) == (
        "fake-large",
        0.1,
        0.8,
        99,
    )
    new = Message.objects.latest("created", "id")
    assert (new.model_name, new.temperature, new.top_k, new.top_p, new.max_tokens) == (
        "fake-large",
        0.1,
        5,
        0.8,
        99,
    )


def test_an_edit_in_the_middle_sends_the_history_above_it_only(
    alice_client: Client, fake_openai, two_turns: tuple[Message, Message]
) -> None:
    first, second = two_turns
    conversation = str(first.conversation_id)
    ask(alice_client, fake_openai, "Q3", "R3", conversation)
    fake_openai.state.reply = "R2 edited"
    response = alice_client.post(_url("edit", second.parent), {"question": "Q2 edited"})
    assert response.status_code == 302
    assert sent(fake_openai) == [("user", "Q1"), ("assistant", "R1"), ("user", "Q2 edited")]
    assert path_of(conversation) == ["Q1", "R1", "Q2 edited", "R2 edited"]
    edited = Message.objects.get(content="Q2 edited")
    assert edited.parent_id == second.parent.parent_id
    assert Message.objects.filter(conversation_id=conversation).count() == 8
    ask(alice_client, fake_openai, "Q4", "R4", conversation)
    assert sent(fake_openai) == [
        ("user", "Q1"),
        ("assistant", "R1"),
        ("user", "Q2 edited"),
        ("assistant", "R2 edited"),
        ("user", "Q4"),
    ]


def test_switching_back_to_an_older_branch_replays_that_branch(
    alice_client: Client, fake_openai, two_turns: tuple[Message, Message]
) -> None:
    first, second = two_turns
    conversation = str(first.conversation_id)
    ask(alice_client, fake_openai, "Q3", "R3", conversation)
    alice_client.post(_url("edit", second.parent), {"question": "Q2 edited"})
    response = alice_client.post(_url("select", second.parent), {"next": f"{ASK}?c=x"})
    assert response.status_code == 302
    assert response["Location"] == f"{ASK}?c=x#message-{second.parent_id}"
    assert path_of(conversation) == ["Q1", "R1", "Q2", "R2", "Q3", "R3"]
    ask(alice_client, fake_openai, "Q4", "R4", conversation)
    assert sent(fake_openai) == [
        ("user", "Q1"),
        ("assistant", "R1"),
        ("user", "Q2"),
        ("assistant", "R2"),
        ("user", "Q3"),
        ("assistant", "R3"),
        ("user", "Q4"),
    ]


def test_a_failed_regeneration_is_kept_but_not_made_active(
    alice_client: Client, fake_openai, two_turns: tuple[Message, Message]
) -> None:
    _, answer = two_turns
    fake_openai.state.mode = "status"
    response = alice_client.post(_url("regenerate", answer), follow=True)
    failed = Message.objects.latest("created", "id")
    assert (failed.status, failed.active, failed.parent_id) == ("error", False, answer.parent_id)
    assert path_of(answer.conversation_id) == ["Q1", "R1", "Q2", "R2"]
    assert "it is kept as a version" in response.text
    assert response.text.count('class="version-count">1/2<') == 1  # R2, then the failed one
    # The failed version is listed in the version table with its status.
    assert "<td>error" in response.text


def test_a_cancelled_regeneration_is_kept_but_not_made_active(alice: User, fake_openai) -> None:
    from llm_metadata import llm, services, versions

    conversation = make_conversation(alice)
    _, answer = make_turn(conversation, "Q", "A")
    turn = versions.start_regenerate(user=alice, answer=answer, choices=versions.Choices())
    stopped = llm.ChatResult(text="A ag", model="llama3", status="cancelled")
    new = services.save_answer(turn=turn, result=stopped)
    assert (new.active, new.parent_id) == (False, answer.parent_id)
    assert [m.pk for m in branches.active_path(conversation)] == [answer.parent_id, answer.pk]


def test_select_makes_a_version_active_and_continues_below_it(alice: User) -> None:
    conversation = make_conversation(alice)
    question, old = make_turn(conversation, "Q", "old")
    follow_up, _ = make_turn(conversation, "Q2", "A2")
    new = Message.objects.create(
        conversation=conversation, role="assistant", content="new", parent=question, active=False
    )
    branches.activate(new)
    assert [m.content for m in branches.active_path(conversation)] == ["Q", "new"]
    branches.activate(old)
    assert [m.content for m in branches.active_path(conversation)] == ["Q", "old", "Q2", "A2"]
    assert follow_up.parent_id == old.pk


def test_only_the_owner_reaches_a_message(
    alice: User, bob_client: Client, fake_openai, two_turns: tuple[Message, Message]
) -> None:
    _, answer = two_turns
    for name, message, data in (
        ("regenerate", answer, {}),
        ("edit", answer.parent, {"question": "mine now"}),
        ("select", answer, {}),
    ):
        assert bob_client.post(_url(name, message), data).status_code == 404
    assert Message.objects.count() == 4


def test_it_refuses_the_wrong_kind_of_message_and_bad_values(
    alice_client: Client, fake_openai, two_turns: tuple[Message, Message]
) -> None:
    _, answer = two_turns
    assert alice_client.post(_url("regenerate", answer.parent)).status_code == 404
    assert alice_client.post(_url("edit", answer), {"question": "x"}).status_code == 404
    response = alice_client.post(_url("regenerate", answer), {"temperature": "7"}, follow=True)
    assert "Temperature must be a number from 0 to 1." in response.text
    response = alice_client.post(_url("edit", answer.parent), {"question": ""}, follow=True)
    assert "Question is required." in response.text
    assert Message.objects.count() == 4


def test_an_edited_question_keeps_its_file(alice: User, fake_openai) -> None:
    from django.core.files.base import ContentFile

    from llm_metadata import services, versions

    conversation = make_conversation(alice)
    question, _ = make_turn(conversation, "Summarise the notes", "Done", model_name="fake-small")
    question.attachment.save("notes.txt", ContentFile(b"the notes"), save=False)
    question.attachment_name, question.attachment_text = "notes.txt", "the notes"
    question.save()
    turn = versions.start_edit(
        user=alice, question=question, text="Summarise them", choices=versions.Choices()
    )
    services.finish_turn(turn)
    edited = turn.question
    edited.refresh_from_db()
    assert (edited.attachment.name, edited.attachment_name) == (
        question.attachment.name,
        "notes.txt",
    )
    assert "the notes" in fake_openai.state.last["body"]["messages"][-1]["content"]


def test_over_the_limit_a_regenerate_or_edit_sends_and_saves_nothing(
    alice_client: Client, fake_openai, two_turns: tuple[Message, Message], settings
) -> None:
    question, answer = two_turns[1].parent, two_turns[1]
    settings.RATE_LIMIT_PER_MINUTE = 2  # the two turns have used the minute's calls
    sent_before, stored = len(fake_openai.state.requests), Message.objects.count()
    response = alice_client.post(_url("regenerate", answer), follow=True)
    assert "model calls a minute" in response.text
    response = alice_client.post(
        _url("edit", question),
        {"question": "Q2 reworded"},
        HTTP_ACCEPT="text/event-stream",
    )
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert "model calls a minute" in " ".join(response.json()["errors"]["__all__"])
    assert len(fake_openai.state.requests) == sent_before
    assert Message.objects.count() == stored
