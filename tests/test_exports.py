"""Exports: one conversation as JSON/Markdown/CSV, all messages streamed as CSV/JSON Lines."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client
from django.urls import reverse

from llm_metadata import exports, record
from llm_metadata.models import Conversation, Feedback, Message
from tests.factories import make_conversation, make_turn


@pytest.fixture
def conversation(alice: User) -> Conversation:
    conv = make_conversation(alice, title="Tides", system_prompt="Be brief.")
    make_turn(conv, "Why tides?", "The **moon**.", model_name="alpha", cost=Decimal("0.00012"))
    _, answer = make_turn(
        conv, "=1+1", "-2", model_name="beta", raw_usage={"prompt_eval_count": 12}
    )
    Feedback.objects.create(message=answer, user=alice, rating=-1, comment="wrong")
    return conv


def _export(client: Client, conv: Conversation, fmt: str):
    return client.get(reverse("llm_metadata:conversation-export", args=[conv.pk, fmt]))


def _body(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_it_exports_versioned_json_with_every_field(
    alice_client: Client, conversation: Conversation
) -> None:
    response = _export(alice_client, conversation, "json")
    assert response["Content-Disposition"] == (
        f'attachment; filename="conversation-{conversation.pk}.json"'
    )
    doc = response.json()
    assert (doc["schema"], doc["version"]) == ("llm-metadata/conversation", 1)
    conv = doc["conversation"]
    assert (conv["title"], conv["system_prompt"]) == ("Tides", "Be brief.")
    assert len(conv["messages"]) == 4
    first_answer = conv["messages"][1]
    assert {f.name for f in record.FIELDS} == set(first_answer)
    assert first_answer["tokens_per_second"] == pytest.approx(5 / 0.4)
    assert first_answer["cost"] == "0.00012000"
    assert first_answer["elapsed_time"] == 0.5
    assert conv["messages"][3]["feedback"] == {"rating": "down", "comment": "wrong"}
    assert conv["messages"][3]["raw_usage"] == {"prompt_eval_count": 12}
    assert dt.datetime.fromisoformat(first_answer["created"]).tzinfo is not None


def test_it_exports_a_markdown_transcript(alice_client: Client, conversation: Conversation) -> None:
    text = _export(alice_client, conversation, "md").content.decode()
    assert text.startswith("# Tides\n")
    assert "The **moon**." in text
    assert "model alpha · temperature 0.7" in text
    assert "prompt tokens 12 · completion tokens 5 · total tokens 17 · elapsed 0.500 s" in text
    assert "tokens per second 12.5 · status ok · finish reason not reported" in text
    assert "Feedback: thumbs down: wrong" in text
    assert "cost $0.00012000" in text


def test_it_exports_a_conversation_as_csv(alice_client: Client, conversation: Conversation) -> None:
    rows = list(csv.DictReader(io.StringIO(_body(_export(alice_client, conversation, "csv")))))
    assert len(rows) == 4
    assert rows[0]["conversation_title"] == "Tides"
    assert rows[0]["owner"] == "alice"
    assert rows[2]["content"] == "'=1+1"  # never run as a spreadsheet formula
    assert rows[3]["feedback_rating"] == "down"
    assert json.loads(rows[3]["raw_usage"]) == {"prompt_eval_count": 12}


def test_it_refuses_an_unknown_format(alice_client: Client, conversation: Conversation) -> None:
    assert _export(alice_client, conversation, "xml").status_code == 404


@pytest.mark.parametrize("fmt", ["json", "md", "csv"])
def test_it_hides_other_users_conversations(
    bob_client: Client, conversation: Conversation, fmt: str
) -> None:
    assert _export(bob_client, conversation, fmt).status_code == 404


def _all(client: Client, fmt: str, **params: str):
    return client.get(reverse("llm_metadata:messages-export", args=[fmt]), params)


def test_it_streams_the_users_messages_as_jsonl(
    alice_client: Client, conversation: Conversation, bob: User
) -> None:
    make_turn(make_conversation(bob), "bob's secret")
    response = _all(alice_client, "jsonl")
    assert response.streaming
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in _body(response).splitlines()]
    assert [line["content"] for line in lines] == ["Why tides?", "The **moon**.", "=1+1", "-2"]
    assert {line["owner"] for line in lines} == {"alice"}
    assert lines[1]["cost"] == "0.00012000"
    assert lines[3]["feedback_rating"] == "down"


def test_it_streams_csv_that_a_spreadsheet_reads(
    alice_client: Client, conversation: Conversation
) -> None:
    raw = b"".join(_all(alice_client, "csv").streaming_content)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(rows[0]) == exports.CSV_HEADER
    assert len(rows) == 5


def test_it_ignores_the_user_filter_for_non_staff(
    bob_client: Client, conversation: Conversation
) -> None:
    assert _body(_all(bob_client, "jsonl", user="alice")) == ""


def test_it_lets_staff_filter_by_user_model_and_dates(
    admin_client: Client, conversation: Conversation, bob: User
) -> None:
    make_turn(make_conversation(bob), model_name="alpha")
    lines = _body(_all(admin_client, "jsonl", user="*", model="alpha")).splitlines()
    assert len(lines) == 4
    only_alice = _body(_all(admin_client, "jsonl", user="alice", model="alpha")).splitlines()
    assert len(only_alice) == 2
    today = dt.datetime.now(dt.UTC).date()
    assert _body(_all(admin_client, "jsonl", user="*", until=str(today - dt.timedelta(1)))) == ""
    assert len(_body(_all(admin_client, "jsonl", user="*", since=str(today))).splitlines()) == 6
    assert _all(admin_client, "jsonl", user="nobody").status_code == 404
    assert _all(admin_client, "jsonl", since="yesterday").status_code == 400


def test_it_uses_one_query_per_batch(
    alice: User, django_assert_num_queries, django_assert_max_num_queries
) -> None:
    conv = make_conversation(alice)
    Message.objects.bulk_create(
        Message(conversation=conv, role="user", content=str(i)) for i in range(23)
    )
    with django_assert_num_queries(5):  # 5 + 5 + 5 + 5 + 3 rows
        batches = list(exports.iter_batches(Message.objects.all(), batch_size=5))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    Message.objects.bulk_create(
        Message(conversation=conv, role="user", content=str(i)) for i in range(27)
    )
    with django_assert_num_queries(11):  # 50 rows: ten full batches, then an empty look
        list(exports.iter_batches(Message.objects.all(), batch_size=5))


def test_it_streams_through_the_view_with_queries_per_batch(
    alice: User, alice_client: Client, monkeypatch, django_assert_max_num_queries
) -> None:
    monkeypatch.setattr(exports, "BATCH_SIZE", 10)
    conv = make_conversation(alice)
    Message.objects.bulk_create(
        Message(conversation=conv, role="user", content=str(i)) for i in range(95)
    )
    with django_assert_max_num_queries(10 + 3):  # ten batches, plus session and user
        lines = _body(_all(alice_client, "jsonl")).splitlines()
    assert len(lines) == 95


@pytest.mark.django_db(transaction=True)
async def test_it_streams_under_asgi(async_client, django_user_model) -> None:
    from asgiref.sync import sync_to_async

    @sync_to_async
    def setup() -> None:
        user = django_user_model.objects.create_user("dora", password="x")
        make_turn(make_conversation(user), "async?", "yes")
        return user

    user = await setup()
    await async_client.aforce_login(user)
    response = await async_client.get(reverse("llm_metadata:messages-export", args=["jsonl"]))
    body = b"".join([chunk async for chunk in response.streaming_content])
    await sync_to_async(connections.close_all)()  # the worker thread's connection
    assert [json.loads(line)["content"] for line in body.splitlines()] == ["async?", "yes"]


def test_it_offers_an_admin_action(admin_client: Client, conversation: Conversation) -> None:
    ids = list(conversation.messages.values_list("id", flat=True)[:2])
    response = admin_client.post(
        reverse("admin:llm_metadata_message_changelist"),
        {"action": "export_selected_as_csv", "_selected_action": ids},
    )
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert sorted(int(row["id"]) for row in rows) == sorted(ids)


def test_it_takes_the_last_date_as_no_upper_bound(
    alice_client: Client, conversation: Conversation
) -> None:
    response = _all(alice_client, "jsonl", until="9999-12-31")
    assert len(_body(response).splitlines()) == 4
