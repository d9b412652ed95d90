"""The one definition of the message record, walked through every output that it drives.

A field added to `Message` must be in `record.FIELDS` (or `record.INTERNAL`), and from there it
reaches every export, the import, the stream's final event, the page and the docs; each test
below walks the definition, so none of them needs an edit for a new field.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from llm_metadata import exports, imports, record
from llm_metadata.metrics import TOKENS_PER_SECOND, tokens_per_second
from llm_metadata.models import Conversation, Feedback, Message
from llm_metadata.record import Kind
from llm_metadata.views.chat import _answer_meta
from tests.factories import make_conversation

FLAT = ("csv", "jsonl")
TREE = ("parent", "active")


def _distinct_value(f: record.Field, n: int) -> Any:
    """A value for the field that no other field of the message has, and not its default."""
    if f.kind is Kind.CHOICE:
        return {
            "role": Message.Role.ASSISTANT,
            "status": Message.Status.CANCELLED,
            "source": Message.Source.API,
        }[f.name]
    if f.kind is Kind.TEXT:
        return f"{f.name} value {n}"[: f.max_length or None]
    if f.kind is Kind.INTEGER:
        return 1000 + n
    if f.kind is Kind.NUMBER:
        return {"temperature": 0.25, "top_p": 0.75}.get(f.name, 10.0 + n * 0.5)
    if f.kind is Kind.BOOLEAN:
        return not f.default()
    if f.kind is Kind.DATETIME:
        return dt.datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=dt.UTC)
    if f.kind is Kind.DECIMAL:
        return Decimal("0.00012345")
    if f.kind is Kind.JSON:
        return {"reported": n, "nested": {"list": [1, 2]}}
    raise AssertionError(f"no test value for {f.name} ({f.kind})")


@pytest.fixture
def full(alice: User) -> Message:
    """An answer whose every stored field holds a distinctive value, with the owner's feedback."""
    conversation = make_conversation(alice, title="Every field", system_prompt="System.")
    # A lone message is its conversation's whole tree: first (no parent) and active. Other
    # values of `parent` and `active` are walked through every output in test_tree_exports.py.
    stored = [f for f in record.FIELDS if f.model_field is not None and f.name not in ("id", *TREE)]
    values = {f.name: _distinct_value(f, n) for n, f in enumerate(stored)}
    message = Message.objects.create(conversation=conversation, **values)
    Message.objects.filter(pk=message.pk).update(created=values["created"])  # auto_now_add
    Feedback.objects.create(message=message, user=alice, rating=1, comment="feedback comment")
    return Message.objects.prefetch_related("feedback").get(pk=message.pk)


def _expected(f: record.Field, message: Message) -> Any:
    return record.plain(f.value(message))


def test_every_message_column_is_in_the_record_or_internal() -> None:
    columns = {f.name for f in Message._meta.concrete_fields}
    in_record = {f.name for f in record.FIELDS if f.model_field is not None}
    assert not in_record & set(record.INTERNAL)
    assert columns == in_record | set(record.INTERNAL), (
        "a Message column must be described in record.FIELDS (or INTERNAL with a reason)"
    )
    for f in record.FIELDS:
        assert f.meaning and f.label, f.name
        assert set(f.left_out) <= set(record.OUTPUTS), f.name
        assert all(f.left_out.values()), f"{f.name}: a field left out says why"
        for name in f.inputs:
            assert record.BY_NAME[name].derived is None


def test_every_field_says_whether_and_under_which_choice_a_share_shows_it() -> None:
    for f in record.FIELDS:
        assert f.is_in("share") == bool(f.share), (
            f"{f.name}: name the share choice that shows it (record.SHARE_PARTS), or leave it "
            "out of 'share' with a reason"
        )
        assert not f.share or f.share in record.SHARE_PARTS, f.name


def test_the_json_export_carries_every_field(alice_client: Client, full: Message) -> None:
    url = reverse("llm_metadata:conversation-export", args=[full.conversation_id, "json"])
    (message,) = alice_client.get(url).json()["conversation"]["messages"]
    assert list(message) == [f.name for f in record.fields_in("json")]
    for f in record.fields_in("json"):
        if f.kind is Kind.FEEDBACK:
            assert message[f.name] == {"rating": "up", "comment": "feedback comment"}
        else:
            assert message[f.name] == _expected(f, full), f.name


@pytest.mark.parametrize("output", FLAT)
def test_the_flat_exports_carry_every_field(
    alice_client: Client, full: Message, output: str
) -> None:
    url = reverse("llm_metadata:messages-export", args=[output])
    body = b"".join(alice_client.get(url).streaming_content).decode("utf-8-sig")
    if output == "csv":
        (row,) = csv.DictReader(io.StringIO(body))
    else:
        row = json.loads(body)
    assert row["id"] in (full.pk, str(full.pk))
    assert (row["conversation_title"], row["owner"]) == ("Every field", "alice")
    for f in record.FIELDS:
        if not f.is_in(output):
            assert f.name not in row
            continue
        if f.kind is Kind.FEEDBACK:
            assert (row["feedback_rating"], row["feedback_comment"]) == ("up", "feedback comment")
            continue
        expected = _expected(f, full)
        if output == "csv":
            expected = exports._cell(expected)
            expected = "" if expected is None else str(expected)
        assert row[f.name] == expected, f.name


def test_the_markdown_transcript_carries_every_field(alice_client: Client, full: Message) -> None:
    url = reverse("llm_metadata:conversation-export", args=[full.conversation_id, "md"])
    text = alice_client.get(url).content.decode()
    for f in record.fields_in("markdown"):
        if f.kind is Kind.FEEDBACK:
            assert "Feedback: thumbs up: feedback comment" in text
        elif f.kind is Kind.DATETIME:
            assert record.plain(f.value(full)) in text, f.name
        elif f.name in ("role", "content", "error"):
            assert str(f.value(full)).capitalize() in text or str(f.value(full)) in text
        else:
            assert f"{f.label.lower()} {record.display(f, f.value(full))}" in text, f.name


def test_the_streams_final_event_carries_every_stream_field(full: Message) -> None:
    event = _answer_meta(full)
    for f in record.fields_in("stream"):
        assert event[f.name] == _expected(f, full), f.name
    assert not {f.name for f in record.FIELDS if not f.is_in("stream")} & set(event)


def test_the_conversation_page_lists_every_page_field(alice_client: Client, full: Message) -> None:
    url = reverse("llm_metadata:conversation-detail", args=[full.conversation_id])
    text = alice_client.get(url).text
    for f in record.fields_in("page"):
        shown = record.display(f, f.value(full)).replace("'", "&#x27;").replace('"', "&quot;")
        assert f'<dt class="col-sm-3">{f.label}</dt><dd class="col-sm-9">{shown}</dd>' in text


def test_json_export_then_import_round_trips_every_field(alice: User, full: Message) -> None:
    document = exports.conversation_dict(full.conversation)
    (imported,) = imports.import_conversations(
        owner=alice, raw=json.dumps(document).encode("utf-8")
    )
    copy = Message.objects.prefetch_related("feedback").get(conversation=imported)
    assert copy.pk != full.pk
    again = exports.conversation_dict(imported)["conversation"]["messages"][0]
    original = document["conversation"]["messages"][0]
    for f in record.FIELDS:
        if f.name == "id":
            continue
        assert again[f.name] == original[f.name], f.name
        if f.importable and f.derived is None and f.kind is not Kind.FEEDBACK:
            assert f.value(copy) == f.value(full), f.name


def test_the_import_takes_the_default_for_a_field_left_out(alice: User, full: Message) -> None:
    document = exports.conversation_dict(full.conversation)
    message = document["conversation"]["messages"][0]
    optional = [f for f in imports.IMPORTED if not f.required and f.kind is not Kind.DATETIME]
    for f in optional:
        del message[f.name]
    (imported,) = imports.import_conversations(owner=alice, raw=json.dumps(document).encode())
    copy = imported.messages.get()
    for f in optional:
        if f.kind is not Kind.FEEDBACK:
            assert f.value(copy) == f.default(), f.name
    assert not copy.feedback.exists()


def test_the_import_checks_each_field_by_its_kind(alice: User, full: Message) -> None:
    wrong = {
        Kind.TEXT: 7,
        Kind.CHOICE: "wizard",
        Kind.INTEGER: -1,
        Kind.NUMBER: "fast",
        Kind.BOOLEAN: "yes",
        Kind.DATETIME: "last Tuesday",
        Kind.DECIMAL: "a lot",
        Kind.JSON: "usage",
        Kind.FEEDBACK: {"rating": "sideways"},
    }
    for f in imports.IMPORTED:
        document = exports.conversation_dict(full.conversation)
        document["conversation"]["messages"][0][f.name] = wrong[f.kind]
        with pytest.raises(imports.ImportFileError) as caught:
            imports.parse(json.dumps(document).encode())
        assert f"messages[0].{f.name}" in str(caught.value), f.name
    assert Conversation.objects.count() == 1


def test_the_docs_table_is_generated_from_the_record() -> None:
    text = (Path(settings.BASE_DIR) / "docs" / "metadata.md").read_text(encoding="utf-8")
    assert record.docs_with_table(text) == text, "run `manage.py metadata_docs`"
    for f in record.FIELDS:
        assert f"| `{f.name}` |" in text


def test_tokens_per_second_is_one_definition_in_python_and_sql(alice: User) -> None:
    conversation = make_conversation(alice)
    cases = list(itertools.product((None, 0, 1, 250), (None, 0.0, 0.4, 2.0), (None, 0.0, 0.5, 3.0)))
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            role="assistant",
            content=str(index),
            completion_tokens=completion,
            elapsed_time=elapsed,
            time_to_first_token=first,
        )
        for index, (completion, elapsed, first) in enumerate(cases)
    )
    rows = conversation.messages.annotate(sql=TOKENS_PER_SECOND).order_by("id")
    for row, case in zip(rows, cases, strict=True):
        python = tokens_per_second(*case)
        assert row.tokens_per_second == python
        assert row.sql == pytest.approx(python), case
