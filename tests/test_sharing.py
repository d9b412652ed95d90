"""Share snapshots at the service level: what a snapshot copies (the record's allow-list under
the owner's choices), the scan and leaving out, publish, share again, revoke, expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from llm_metadata import record, sharing
from llm_metadata.models import Feedback, Message
from llm_metadata.share_models import ShareLink
from llm_metadata.sharing import Choices
from tests.factories import make_conversation, make_turn

EVERYTHING = Choices(
    model=True, usage=True, attachments=True, feedback=True, system_prompt=True, owner_name=True
)
COPIES = {"html", "html_version"}  # besides the record's fields: the answer's sanitised HTML


@pytest.fixture
def conversation(alice: User):
    conversation = make_conversation(alice, title="Sorting", system_prompt="Be brief.")
    question, answer = make_turn(
        conversation, question="How do I sort?", answer="Use `sorted()`.", cost="0.00042"
    )
    question.attachment_name = "data.csv"
    question.attachment_text = "the file's private rows"
    question.save()
    answer.raw_usage = {"id": "chatcmpl-private"}
    answer.finish_reason = "stop"
    answer.save()
    Feedback.objects.create(message=answer, user=alice, rating=1, comment="clear")
    return conversation


def test_the_default_choices_copy_the_text_and_the_model_and_nothing_else(conversation) -> None:
    snapshot = sharing.build_snapshot(conversation, Choices())
    question, answer = snapshot.messages
    allowed = {f.name for f in record.FIELDS if f.share in ("always", "model")}
    assert set(question) == allowed
    assert set(answer) == allowed | COPIES
    assert question["content"] == "How do I sort?" and answer["model_name"] == "llama3"
    assert "<code>sorted()</code>" in answer["html"]
    assert (snapshot.system_prompt, snapshot.owner_name) == ("", "")


def test_every_choice_adds_its_fields_and_never_one_left_out_of_share(conversation) -> None:
    snapshot = sharing.build_snapshot(conversation, EVERYTHING)
    question, answer = snapshot.messages
    never = {f.name for f in record.FIELDS if not f.is_in("share")}
    assert set(answer) == {f.name for f in record.fields_in("share")} | COPIES
    assert not never & (set(question) | set(answer))
    assert question["attachment_name"] == "data.csv"
    assert answer["feedback"] == {"rating": "up", "comment": "clear"}
    assert answer["cost"] == "0.00042000" and answer["total_tokens"] == 17
    assert (snapshot.system_prompt, snapshot.owner_name) == ("Be brief.", "alice")
    text = repr(snapshot)
    assert "private rows" not in text and "chatcmpl-private" not in text


def test_system_messages_are_shown_with_the_system_prompt_only(conversation) -> None:
    Message.objects.create(conversation=conversation, role=Message.Role.SYSTEM, content="Rules")
    without = sharing.build_snapshot(conversation, Choices())
    assert [m["role"] for m in without.messages] == ["user", "assistant"]
    shown = sharing.build_snapshot(conversation, Choices(system_prompt=True))
    assert [m["role"] for m in shown.messages] == ["user", "assistant", "system"]


def test_another_users_feedback_is_never_copied(conversation, bob: User) -> None:
    answer = conversation.messages.get(role=Message.Role.ASSISTANT)
    Feedback.objects.filter(message=answer).delete()
    Feedback.objects.create(message=answer, user=bob, rating=-1, comment="bob's view")
    snapshot = sharing.build_snapshot(conversation, EVERYTHING)
    assert snapshot.messages[1]["feedback"] is None


def test_the_snapshot_is_a_copy_until_shared_again(conversation) -> None:
    link = sharing.publish(
        conversation=conversation,
        snapshot=sharing.build_snapshot(conversation, Choices()),
        choices=Choices(),
        expires=None,
    )
    assert len(link.token) >= 22  # ≥ 128 random bits, URL-safe base64
    conversation.messages.filter(role=Message.Role.USER).update(content="Changed later")
    assert sharing.open_link(link.token).messages[0]["content"] == "How do I sort?"
    again = sharing.publish(
        conversation=conversation,
        snapshot=sharing.build_snapshot(conversation, Choices()),
        choices=Choices(),
        expires=None,
    )
    assert again.token == link.token and again.created == link.created
    assert again.updated > link.updated
    opened = sharing.open_link(link.token)
    assert opened.messages[0]["content"] == "Changed later"
    assert opened.views == 2


def _publish(conversation, **kwargs) -> ShareLink:
    snapshot = sharing.build_snapshot(conversation, Choices())
    return sharing.publish(
        conversation=conversation, snapshot=snapshot, choices=Choices(), **kwargs
    )


def test_tokens_differ_between_conversations(alice: User, conversation) -> None:
    other = make_conversation(alice)
    assert _publish(conversation, expires=None).token != _publish(other, expires=None).token


def test_revoking_or_deleting_the_conversation_ends_the_link(conversation) -> None:
    token = _publish(conversation, expires=None).token
    assert sharing.revoke(conversation) is True
    assert sharing.open_link(token) is None and not ShareLink.objects.exists()
    assert sharing.revoke(conversation) is False
    new_token = _publish(conversation, expires=None).token
    assert new_token != token  # a revoked link never opens again
    conversation.delete()
    assert sharing.open_link(new_token) is None and not ShareLink.objects.exists()


def test_an_expired_link_does_not_open(conversation) -> None:
    link = _publish(conversation, expires=timezone.now() + dt.timedelta(minutes=5))
    assert sharing.open_link(link.token) is not None
    ShareLink.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))
    assert sharing.open_link(link.token) is None


def test_a_deactivated_owners_links_do_not_open(alice: User, conversation) -> None:
    link = _publish(conversation, expires=None)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert sharing.open_link(link.token) is None
    User.objects.filter(pk=alice.pk).update(is_active=True)
    assert sharing.open_link(link.token) is not None


def test_the_scan_finds_secrets_wherever_the_snapshot_publishes_them(alice: User) -> None:
    conversation = make_conversation(alice, title="Deploy", system_prompt="secret: abcd-1234-x")
    question, _ = make_turn(conversation, question="My key is AKIAIOSFODNN7EXAMPLE, help")
    question.attachment_name = "alice@example.com.txt"
    question.save()
    make_turn(conversation, question="Nothing secret here")
    default = sharing.scan(sharing.build_snapshot(conversation, Choices()))
    assert [(f.where, f.kind) for f in default] == [("message 1 (user)", "AWS access key")]
    assert default[0].masked == "AKI…LE (20 characters)"
    everything = sharing.scan(sharing.build_snapshot(conversation, EVERYTHING))
    assert {(f.where, f.kind) for f in everything} == {
        ("system prompt", "credential"),
        ("message 1 (user)", "AWS access key"),
        ("message 1 (user)", "e-mail address"),
    }


def test_leaving_out_drops_the_flagged_messages_and_parts(alice: User) -> None:
    conversation = make_conversation(alice, title="password=opensesame")
    make_turn(conversation, question="ok", answer="Use sk-abcdefghijklmnopqrstuvwx123456")
    make_turn(conversation, question="thanks", answer="You're welcome")
    snapshot = sharing.build_snapshot(conversation, Choices())
    findings = sharing.scan(snapshot)
    kept = sharing.without(snapshot, findings)
    assert [m["content"] for m in kept.messages] == ["ok", "thanks", "You're welcome"]
    assert kept.title == "" and kept.left_out == 1
    assert sharing.scan(kept) == []


def test_the_findings_digest_names_exactly_those_findings(alice: User) -> None:
    conversation = make_conversation(alice)
    question, _ = make_turn(conversation, question="password=opensesame")
    first = sharing.scan(sharing.build_snapshot(conversation, Choices()))
    question.content = "password=another-one"
    question.save()
    second = sharing.scan(sharing.build_snapshot(conversation, Choices()))
    assert sharing.findings_digest(first) != sharing.findings_digest(second)
    assert sharing.findings_digest(first) == sharing.findings_digest(list(first))


def test_the_shared_messages_are_the_conversations_in_order(conversation) -> None:
    make_turn(conversation, question="Second question", answer="Second answer")
    contents = [m.content for m in sharing.messages_to_share(conversation)]
    assert contents == ["How do I sort?", "Use `sorted()`.", "Second question", "Second answer"]
