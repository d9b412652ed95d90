"""History pages: the list (date headings, search, filters, pages), detail, rename, delete."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from llm_metadata import selectors
from llm_metadata.models import Conversation, Message
from llm_metadata.views import chat
from tests.factories import make_conversation, make_turn

LIST = reverse("llm_metadata:conversation-list")


def _detail(conversation: Conversation) -> str:
    return reverse("llm_metadata:conversation-detail", args=[conversation.pk])


def _titles(response) -> list[str]:
    return re.findall(
        r'class="fw-semibold me-auto conversation-title"[^>]*>([^<]*)<', response.text
    )


def _headings(response) -> list[str]:
    return re.findall(r'<h2 class="h6[^"]*" id="day-[^"]*">([^<]*)</h2>', response.text)


def _at(conversation: Conversation, when: dt.datetime) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(updated=when)


def test_it_lists_own_conversations_newest_first_with_counts_and_models(
    alice: User, bob: User, alice_client: Client
) -> None:
    older = make_conversation(alice, title="Older")
    make_turn(older, model_name="llama3")
    make_turn(older, model_name="mistral")
    newer = make_conversation(alice, title="Newer")
    make_turn(newer, model_name="qwen")
    make_conversation(bob, title="Bob's secret")
    _at(older, timezone.now() - dt.timedelta(minutes=5))

    response = alice_client.get(LIST)

    assert response.status_code == 200
    assert _titles(response) == ["Newer", "Older"]
    row = response.text.split(f'id="conversation-{older.pk}"')[1].split("</li>")[0]
    assert "4 messages" in row
    assert "llama3" in row and "mistral" in row
    assert "Bob&#x27;s secret" not in response.text and "Bob's secret" not in response.text


def test_it_groups_under_today_yesterday_and_dates_in_the_users_zone(
    alice: User, alice_client: Client
) -> None:
    zone = zoneinfo.ZoneInfo("Pacific/Auckland")
    now_local = timezone.now().astimezone(zone)
    today = make_conversation(alice, title="Fresh")
    yesterday = make_conversation(alice, title="Day before")
    old = make_conversation(alice, title="Ancient")
    _at(today, now_local.replace(hour=0, minute=30))
    _at(yesterday, (now_local - dt.timedelta(days=1)).replace(hour=23, minute=50))
    _at(old, dt.datetime(2024, 3, 5, 1, tzinfo=dt.UTC))  # 14:00 in Auckland

    alice_client.cookies["tz"] = "Pacific/Auckland"
    response = alice_client.get(LIST)

    assert _headings(response) == ["Today", "Yesterday", "Tuesday 5 March 2024"]
    assert _titles(response) == ["Fresh", "Day before", "Ancient"]


def test_it_names_days_relative_to_today() -> None:
    today = dt.date(2026, 11, 26)
    assert selectors.day_heading(today, today) == "Today"
    assert selectors.day_heading(dt.date(2026, 11, 25), today) == "Yesterday"
    assert selectors.day_heading(dt.date(2026, 11, 20), today) == "Friday 20 November"
    assert selectors.day_heading(dt.date(2025, 12, 31), today) == "Wednesday 31 December 2025"


def test_it_searches_titles_and_message_text_of_own_conversations_only(
    alice: User, bob: User, alice_client: Client
) -> None:
    by_title = make_conversation(alice, title="Tidal energy")
    by_text = make_conversation(alice, title="Other")
    make_turn(by_text, question="How do TIDES work?", answer="The moon.")
    make_turn(by_text, question="More tides please")
    make_conversation(alice, title="Unrelated")
    bobs = make_conversation(bob, title="Tides of bob")

    response = alice_client.get(LIST, {"q": "tid"})

    assert sorted(_titles(response)) == ["Other", "Tidal energy"]
    assert str(bobs.pk) not in response.text
    assert by_title.pk and "2 conversations match the filters" in response.text


def test_it_filters_by_model_and_date_range(alice: User, alice_client: Client) -> None:
    llama = make_conversation(alice, title="With llama")
    make_turn(llama, model_name="llama3")
    mistral = make_conversation(alice, title="With mistral")
    make_turn(mistral, model_name="mistral")
    _at(llama, dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC))
    _at(mistral, dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC))

    by_model = alice_client.get(LIST, {"model": "mistral"})
    by_dates = alice_client.get(LIST, {"start": "2026-01-01", "end": "2026-01-10"})
    after = alice_client.get(LIST, {"start": "2026-01-11"})

    assert _titles(by_model) == ["With mistral"]
    assert '<option value="llama3">llama3</option>' in by_model.text
    assert _titles(by_dates) == ["With llama"]
    assert _titles(after) == ["With mistral"]


def test_it_reports_a_reversed_date_range(alice: User, alice_client: Client) -> None:
    make_conversation(alice, title="Kept")
    response = alice_client.get(LIST, {"start": "2026-02-01", "end": "2026-01-01"})
    assert "The start date is after the end date." in response.text
    assert _titles(response) == ["Kept"]


def test_it_refuses_the_last_date_instead_of_failing(alice: User, alice_client: Client) -> None:
    make_conversation(alice, title="Kept")
    response = alice_client.get(LIST, {"end": "9999-12-31"})
    assert "Pick dates after 0001-01-01 and before 9999-12-31." in response.text
    assert _titles(response) == ["Kept"]


def test_it_paginates_by_fifty_keeping_the_filters(alice: User, alice_client: Client) -> None:
    base = timezone.now()
    for index in range(55):
        conversation = make_conversation(alice, title=f"Chat {index:02d}")
        _at(conversation, base - dt.timedelta(minutes=index))

    first = alice_client.get(LIST, {"q": "Chat"})
    second = alice_client.get(LIST, {"q": "Chat", "page": 2})

    assert len(_titles(first)) == 50
    assert _titles(second) == [f"Chat {i}" for i in range(50, 55)]
    assert "?q=Chat&amp;page=2" in first.text


def test_it_keeps_the_list_query_count_flat(
    alice: User, alice_client: Client, django_assert_max_num_queries
) -> None:
    for index in range(120):
        conversation = make_conversation(alice, title=f"Chat {index}")
        make_turn(conversation, model_name=f"model-{index % 7}")
        make_turn(conversation, model_name="llama3")
    # Constant parts: session, user, count, page, models per row, the rows' comparisons, the
    # filter's model and key names.
    with django_assert_max_num_queries(8):
        response = alice_client.get(LIST, {"q": "chat", "model": "llama3"})
    assert len(_titles(response)) == 50


def test_it_shows_every_message_with_its_metadata_and_links(
    alice: User, alice_client: Client
) -> None:
    conversation = make_conversation(alice, title="Tides", system_prompt="Be brief.")
    question, answer = make_turn(
        conversation,
        question="Why <b>tides</b>?",
        answer="Because of the moon.",
        status=Message.Status.CANCELLED,
        finish_reason="stop",
        cost=Decimal("0.000123"),
        history_truncated=True,
    )
    question.attachment_name = "notes.csv"
    question.save()

    response = alice_client.get(_detail(conversation))

    text = response.text
    assert response.status_code == 200
    assert text.index("Why &lt;b&gt;tides&lt;/b&gt;?") < text.index("Because of the moon.")
    assert "<b>tides</b>" not in text
    for expected in ("Be brief.", "notes.csv", "cancelled", "$0.000123", "0.500 s", "0.100 s"):
        assert expected in text
    assert "temperature 0.7 · top_k 40 · top_p 0.9 · max_tokens 600" in text
    for label, value in (("Prompt tokens", "12"), ("Total tokens", "17"), ("History cut", "yes")):
        assert f'<dt class="col-sm-3">{label}</dt><dd class="col-sm-9">{value}</dd>' in text
    assert f'id="message-{answer.pk}"' in text
    assert f'href="/ask/?c={conversation.pk}"' in text
    assert f'href="/json-viewer/?conversation={conversation.pk}"' in text


def test_it_keeps_the_detail_query_count_flat(
    alice: User, alice_client: Client, django_assert_max_num_queries
) -> None:
    conversation = make_conversation(alice)
    for index in range(150):
        make_turn(conversation, question=f"q{index}", answer=f"a{index}")
    # Session, user, the conversation (with its share link and the comparison a column belongs
    # to), the count, the page, the feedback; no versions query: the conversation has none.
    with django_assert_max_num_queries(6):
        response = alice_client.get(_detail(conversation))
    assert response.text.count('class="mb-3 message-item"') == 50
    assert "300 messages · showing 1 to 50" in response.text
    with django_assert_max_num_queries(6):
        last = alice_client.get(_detail(conversation), {"page": 6})
    assert last.text.count('class="mb-3 message-item"') == 50
    assert "showing 251 to 300" in last.text


def test_it_pages_a_long_conversation_in_order(alice: User, alice_client: Client) -> None:
    conversation = make_conversation(alice)
    for index in range(30):
        make_turn(conversation, question=f"q{index}?", answer=f"a{index}.")

    first = alice_client.get(_detail(conversation)).text
    second = alice_client.get(_detail(conversation), {"page": 2}).text
    beyond = alice_client.get(_detail(conversation), {"page": 99}).text

    assert first.index("q0?") < first.index("a0.") < first.index("a24.")
    assert "q25?" not in first and "Page 1 of 2" in first
    assert 'href="?page=2"' in first and "Latest" in first
    assert "a24." not in second and second.index("q25?") < second.index("a29.")
    assert 'href="?page=1"' in second and "Page 2 of 2" in second
    assert "q25?" in beyond  # a page past the end shows the last one


def test_it_renames_a_conversation(alice: User, alice_client: Client) -> None:
    conversation = make_conversation(alice, title="Old")
    url = reverse("llm_metadata:conversation-rename", args=[conversation.pk])

    response = alice_client.post(url, {"title": "  New name  ", "next": LIST + "?q=x"})
    rejected = alice_client.post(url, {"title": "   "})
    offsite = alice_client.post(url, {"title": "Again", "next": "https://evil.example/"})

    assert response["Location"] == LIST + "?q=x"
    assert rejected["Location"] == _detail(conversation)
    assert offsite["Location"] == _detail(conversation)
    conversation.refresh_from_db()
    assert conversation.title == "Again"


def test_it_refuses_renaming_anothers_conversation_or_by_get(
    alice: User, bob_client: Client, alice_client: Client
) -> None:
    conversation = make_conversation(alice, title="Mine")
    url = reverse("llm_metadata:conversation-rename", args=[conversation.pk])
    assert bob_client.post(url, {"title": "Hacked"}).status_code == 404
    assert alice_client.get(url).status_code == 405
    conversation.refresh_from_db()
    assert conversation.title == "Mine"


def test_it_offers_a_confirmed_delete_and_forgets_the_current_conversation(
    alice: User, alice_client: Client
) -> None:
    conversation = make_conversation(alice, title="Doomed")
    page = alice_client.get(LIST)
    delete = reverse("llm_metadata:conversation-delete", args=[conversation.pk])
    assert f'action="{delete}"' in page.text and "Delete permanently" in page.text

    session = alice_client.session
    session["conversation_id"] = str(conversation.pk)
    session.save()
    response = alice_client.post(delete)

    assert response["Location"] == LIST
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert "conversation_id" not in alice_client.session
    assert "Conversation deleted." in alice_client.get(LIST).text


def test_it_forgets_the_conversation_under_the_chat_pages_own_session_key(
    alice: User, alice_client: Client, monkeypatch
) -> None:
    monkeypatch.setattr(chat, "SESSION_KEY", "chat_conversation")  # one key, wherever it is read
    conversation = make_conversation(alice)
    session = alice_client.session
    session["chat_conversation"] = str(conversation.pk)
    session.save()
    alice_client.post(reverse("llm_metadata:conversation-delete", args=[conversation.pk]))
    assert "chat_conversation" not in alice_client.session


@pytest.mark.parametrize("path", [LIST, "/conversation/00000000-0000-0000-0000-000000000000/"])
def test_it_asks_visitors_to_log_in(client: Client, path: str, db) -> None:
    assert client.get(path)["Location"].startswith(reverse("account_login"))
