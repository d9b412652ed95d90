"""Exports carry the message tree: `parent` and `active` in every format, the JSON export →
import round trip keeps the tree exactly, and "active path only" leaves other versions out."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from llm_metadata import branches, exports, imports
from llm_metadata.models import Conversation, Message
from tests.factories import make_conversation, make_turn


@pytest.fixture
def branched(alice: User) -> Conversation:
    """Q1 → (A1 old, A1 new: active) → Q2 → A2; and Q1's edited version Q1b → A1b (inactive)."""
    conversation = make_conversation(alice, title="Branched")
    question, old = make_turn(conversation, "Q1", "A1 old")
    new = Message.objects.create(
        conversation=conversation, role="assistant", content="A1 new", parent=question
    )
    branches.activate(new)
    make_turn(conversation, "Q2", "A2")
    edited = Message.objects.create(
        conversation=conversation, role="user", content="Q1b", parent=None, active=False
    )
    Message.objects.create(
        conversation=conversation, role="assistant", content="A1b", parent=edited, active=False
    )
    old.refresh_from_db()
    assert not old.active
    return conversation


def _shape(conversation: Conversation) -> list[tuple]:
    """The tree as (content, parent's content, active) in order: ids left aside."""
    rows = Message.objects.filter(conversation=conversation).order_by("created", "id")
    return list(rows.values_list("content", "parent__content", "active"))


def test_json_export_then_import_keeps_the_tree_exactly(alice: User, branched) -> None:
    raw = exports.conversation_json(branched).encode()
    (copy,) = imports.import_conversations(owner=alice, raw=raw)
    assert _shape(copy) == _shape(branched)
    assert _shape(copy) == [
        ("Q1", None, True),
        ("A1 old", "Q1", False),
        ("A1 new", "Q1", True),
        ("Q2", "A1 new", True),
        ("A2", "Q2", True),
        ("Q1b", None, False),
        ("A1b", "Q1b", False),
    ]
    assert [m.content for m in branches.active_path(copy)] == ["Q1", "A1 new", "Q2", "A2"]


def test_the_flat_exports_carry_parent_and_active(alice_client: Client, branched) -> None:
    ids = dict(Message.objects.values_list("content", "id"))
    url = reverse("llm_metadata:messages-export", args=["jsonl"])
    body = b"".join(alice_client.get(url).streaming_content)
    rows = {row["content"]: row for row in map(json.loads, body.splitlines())}
    assert (rows["A1 old"]["parent"], rows["A1 old"]["active"]) == (ids["Q1"], False)
    assert (rows["Q2"]["parent"], rows["Q2"]["active"]) == (ids["A1 new"], True)
    url = reverse("llm_metadata:messages-export", args=["csv"])
    text = b"".join(alice_client.get(url).streaming_content).decode("utf-8-sig")
    cells = {row["content"]: row for row in csv.DictReader(io.StringIO(text))}
    assert (cells["A1b"]["parent"], cells["A1b"]["active"]) == (str(ids["Q1b"]), "False")
    assert (cells["Q1"]["parent"], cells["Q1"]["active"]) == ("", "True")


def test_the_active_path_only_option_of_each_export(alice_client: Client, branched) -> None:
    path = ["Q1", "A1 new", "Q2", "A2"]
    url = reverse("llm_metadata:messages-export", args=["jsonl"])
    body = b"".join(alice_client.get(url, {"active": "1"}).streaming_content)
    assert [json.loads(line)["content"] for line in body.splitlines()] == path
    url = reverse("llm_metadata:conversation-export", args=[branched.pk, "json"])
    document = alice_client.get(url, {"active": "1"}).json()
    assert [m["content"] for m in document["conversation"]["messages"]] == path
    assert len(alice_client.get(url).json()["conversation"]["messages"]) == 7
    url = reverse("llm_metadata:conversation-export", args=[branched.pk, "csv"])
    text = b"".join(alice_client.get(url, {"active": "1"}).streaming_content).decode("utf-8-sig")
    assert [row["content"] for row in csv.DictReader(io.StringIO(text))] == path
    url = reverse("llm_metadata:conversation-export", args=[branched.pk, "md"])
    transcript = alice_client.get(url).content.decode()
    assert "A1 new" in transcript and "A1 old" not in transcript


def test_the_export_command_takes_active_only(branched, tmp_path) -> None:
    out = tmp_path / "path.jsonl"
    call_command("export_messages", "--format", "jsonl", "--active-only", "--output", str(out))
    contents = [json.loads(line)["content"] for line in out.read_text().splitlines()]
    assert contents == ["Q1", "A1 new", "Q2", "A2"]
    call_command("export_messages", "--format", "jsonl", "--output", str(out))
    assert len(out.read_text().splitlines()) == 7


def test_a_file_from_before_the_tree_imports_as_one_line(alice: User, branched) -> None:
    document = exports.conversation_dict(branched, active_only=True)
    for message in document["conversation"]["messages"]:
        del message["parent"], message["active"]
    (copy,) = imports.import_conversations(owner=alice, raw=json.dumps(document).encode())
    assert _shape(copy) == [
        ("Q1", None, True),
        ("A1 new", "Q1", True),
        ("Q2", "A1 new", True),
        ("A2", "Q2", True),
    ]


def test_a_parent_that_is_not_an_earlier_message_is_refused(alice: User, branched) -> None:
    document = exports.conversation_dict(branched)
    messages = document["conversation"]["messages"]
    messages[1]["parent"] = messages[3]["id"]
    with pytest.raises(imports.ImportFileError) as caught:
        imports.parse(json.dumps(document).encode())
    assert "messages[1].parent" in str(caught.value)
    assert Conversation.objects.count() == 1
