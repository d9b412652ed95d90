"""Import of exported conversation JSON: round trip, clear errors, all or nothing, own account."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from llm_metadata import exports, imports
from llm_metadata.models import Conversation, Feedback, Message
from tests.factories import make_conversation, make_turn

URL = reverse("llm_metadata:conversation-import")


@pytest.fixture
def conversation(alice: User) -> Conversation:
    conv = make_conversation(alice, title="Tides", system_prompt="Be brief.")
    make_turn(conv, "Why?", "The moon.", model_name="alpha", cost=Decimal("0.00012"))
    _, answer = make_turn(
        conv,
        "And?",
        "Sun too.",
        model_name="beta",
        status=Message.Status.ERROR,
        error="cut off",
        finish_reason="length",
        raw_usage={"eval_count": 3},
        history_truncated=True,
        total_tokens=None,
        time_to_first_token=None,
    )
    Message.objects.filter(pk=answer.pk).update(attachment_name="a.txt", attachment_text="A")
    Feedback.objects.create(message=answer, user=alice, rating=1, comment="nice")
    return conv


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    conv = dict(doc["conversation"])
    # Ids are new after an import: a parent is compared as its place in the document.
    place = {m["id"]: i for i, m in enumerate(conv["messages"])}
    conv["messages"] = [
        {k: place.get(v) if k == "parent" else v for k, v in m.items() if k != "id"}
        for m in conv["messages"]
    ]
    del conv["id"]
    return conv


def _flash(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def _upload(client: Client, content: bytes, name: str = "export.json"):
    return client.post(URL, {"json_file": SimpleUploadedFile(name, content)})


def test_it_round_trips_content_and_metadata(alice: User, conversation: Conversation) -> None:
    exported = exports.conversation_json(conversation)
    (copy,) = imports.import_conversations(owner=alice, raw=exported.encode())
    copy = Conversation.objects.get(pk=copy.pk)
    assert copy.pk != conversation.pk
    assert _comparable(exports.conversation_dict(copy)) == _comparable(json.loads(exported))


def test_it_imports_through_the_page_into_the_users_account(
    bob: User, bob_client: Client, conversation: Conversation
) -> None:
    response = _upload(bob_client, exports.conversation_json(conversation).encode())
    copy = Conversation.objects.get(owner=bob)
    assert response["Location"] == reverse("llm_metadata:conversation-detail", args=[copy.pk])
    assert copy.messages.count() == 4
    assert Feedback.objects.filter(user=bob).count() == 1
    assert conversation.messages.count() == 4  # alice's original is untouched
    assert Conversation.objects.filter(owner=conversation.owner).count() == 1


def test_it_imports_a_list_of_conversations(alice: User, conversation: Conversation) -> None:
    doc = exports.conversation_dict(conversation)
    created = imports.import_conversations(owner=alice, raw=json.dumps([doc, doc]).encode())
    assert len(created) == 2
    assert Conversation.objects.filter(owner=alice).count() == 3


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not valid JSON (Expecting property name"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b"[]", "empty list"),
        (b'{"name": "x"}', 'not an LLM Metadata conversation export (needs "schema"'),
        (b'{"schema": "llm-metadata/conversation", "version": 9}', "9 is newer than"),
        (b'{"schema": "llm-metadata/conversation", "version": 1}', "'messages' list"),
    ],
)
def test_it_names_what_is_wrong(alice: User, content: bytes, expected: str) -> None:
    with pytest.raises(imports.ImportFileError) as error:
        imports.import_conversations(owner=alice, raw=content)
    assert expected in str(error.value)


def test_it_names_the_bad_field_and_saves_nothing(
    alice: User, alice_client: Client, conversation: Conversation
) -> None:
    good = exports.conversation_dict(conversation)
    bad = json.loads(json.dumps(good))
    bad["conversation"]["messages"][2]["role"] = "wizard"
    bad["conversation"]["messages"][1]["elapsed_time"] = "fast"
    response = _upload(alice_client, json.dumps([good, bad]).encode(), "mine.json")
    assert response["Location"] == reverse("llm_metadata:conversation-list")
    text = _flash(response)
    assert "Could not import mine.json" in text
    assert "[1].conversation.messages[2].role: 'wizard' is not one of user, assistant" in text
    assert "[1].conversation.messages[1].elapsed_time: expected a number or null" in text
    assert Conversation.objects.count() == 1  # the good first document was not saved either


@pytest.mark.parametrize(
    "moment", ["2026-13-45T99:00:00", "2026-02-30T10:00:00", "0001-01-01T00:00:00+01:00"]
)
def test_it_names_an_impossible_date_instead_of_failing(
    alice: User, conversation: Conversation, moment: str
) -> None:
    """Found by the fuzz test: a well-formed impossible date was a ValueError (a 500)."""
    doc = exports.conversation_dict(conversation)
    doc["conversation"]["updated"] = moment
    with pytest.raises(imports.ImportFileError) as error:
        imports.import_conversations(owner=alice, raw=json.dumps(doc).encode())
    assert f"file.conversation.updated: expected an ISO 8601 date-time, got '{moment}'" in str(
        error.value
    )


def test_it_accepts_only_the_statuses_the_app_sets(alice: User, conversation: Conversation) -> None:
    doc = exports.conversation_dict(conversation)
    doc["conversation"]["messages"][1]["status"] = "pending"
    with pytest.raises(imports.ImportFileError) as error:
        imports.import_conversations(owner=alice, raw=json.dumps(doc).encode())
    assert "messages[1].status: 'pending' is not one of ok, error, cancelled" in str(error.value)
    assert str(error.value).endswith("cancelled")


def test_it_checks_types_of_every_field(alice: User, conversation: Conversation) -> None:
    doc = exports.conversation_dict(conversation)
    message = doc["conversation"]["messages"][1]
    message.update(
        top_k=-1, cost="lots", created="yesterday", feedback={"rating": ["up"]}, raw_usage=3
    )
    with pytest.raises(imports.ImportFileError) as error:
        imports.import_conversations(owner=alice, raw=json.dumps(doc).encode())
    problems = " | ".join(error.value.problems)
    for field in ("top_k", "cost", "created", "feedback", "raw_usage"):
        assert f"messages[1].{field}" in problems


@pytest.mark.parametrize("depth", [100, 990, 100_000])
def test_it_refuses_deeply_nested_json(
    alice: User, alice_client: Client, conversation: Conversation, depth: int
) -> None:
    nested = '{"a": ' * depth + "1" + "}" * depth
    doc = exports.conversation_json(conversation).replace(
        '"raw_usage": null', f'"raw_usage": {nested}', 1
    )
    assert nested in doc
    response = _upload(alice_client, doc.encode())
    assert response.status_code == 302
    assert "nested" in _flash(response) and "levels deep" in _flash(response)
    assert Conversation.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("prompt_tokens", 2**31, "expected a whole number from 0 to 2147483647 or null"),
        ("total_tokens", 10**20, "expected a whole number from 0 to 2147483647 or null"),
        ("elapsed_time", 10**400, "expected a finite number"),
    ],
    ids=["2**31", "10**20", "10**400"],
)
def test_it_refuses_numbers_beyond_the_fields_range(
    alice_client: Client, conversation: Conversation, field: str, value: int, expected: str
) -> None:
    doc = exports.conversation_dict(conversation)
    doc["conversation"]["messages"][1][field] = value
    response = _upload(alice_client, json.dumps(doc).encode())
    assert response.status_code == 302
    assert f"messages[1].{field}: {expected}" in _flash(response)
    assert Conversation.objects.count() == 1


def test_it_imports_the_largest_integer_the_fields_hold(
    alice: User, conversation: Conversation
) -> None:
    doc = exports.conversation_dict(conversation)
    doc["conversation"]["messages"][1]["prompt_tokens"] = 2**31 - 1
    (copy,) = imports.import_conversations(owner=alice, raw=json.dumps(doc).encode())
    assert copy.messages.order_by("created", "id")[1].prompt_tokens == 2**31 - 1


def test_it_imports_text_without_nul_characters(alice: User, conversation: Conversation) -> None:
    doc = exports.conversation_dict(conversation)
    doc["conversation"]["title"] = "Ti\x00des"
    message = doc["conversation"]["messages"][1]
    message.update(content="The\x00 moon.", raw_usage={"note\x00": "a\x00b"})
    message["feedback"] = {"rating": "up", "comment": "ni\x00ce"}
    (copy,) = imports.import_conversations(owner=alice, raw=json.dumps(doc).encode())
    answer = copy.messages.order_by("created", "id")[1]
    assert (copy.title, answer.content) == ("Tides", "The moon.")
    assert answer.raw_usage == {"note": "ab"}
    assert answer.feedback.get().comment == "nice"


def test_it_refuses_a_missing_file(alice_client: Client) -> None:
    response = alice_client.post(URL)
    assert "Choose a conversation JSON file" in _flash(response)


def test_it_refuses_an_oversize_file(alice_client: Client, settings) -> None:
    settings.MAX_UPLOAD_MB = 0
    response = _upload(alice_client, b"{}")
    assert "larger than 0 MB" in _flash(response)


def test_it_requires_login_and_post(client: Client, alice_client: Client) -> None:
    assert client.post(URL)["Location"].startswith("/accounts/login/")
    assert alice_client.get(URL).status_code == 405
