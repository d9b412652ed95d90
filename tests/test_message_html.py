"""An answer's markdown is rendered once: stored with the message, read by every page, rendered
again only when stored without HTML (bulk_create, import) or by another renderer version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from llm_metadata import exports, models
from llm_metadata.models import Conversation, Message, store_stale_html
from llm_metadata.templatetags.markdown import RENDERER_VERSION, render_markdown
from tests.factories import make_conversation, make_turn
from tests.test_chat_stream import form as stream_form
from tests.test_chat_stream import post as stream_post

ASK = reverse("llm_metadata:ask")
ANSWER = "Use **this**:\n\n```python\nprint(1)\n```\n\n| a | b |\n|--|--|\n| 1 | 2 |"
HOSTILE = (
    '<script>alert("x")</script>\n\n<img src=x onerror="alert(1)">\n\n'
    '[click](javascript:alert(1)) and <a href="javascript:alert(2)">raw</a>'
)


@pytest.fixture
def renders() -> Iterator[mock.MagicMock]:
    """Counts calls of the markdown renderer at the model's boundary (it still renders)."""
    with mock.patch.object(models, "render_markdown", wraps=render_markdown) as spy:
        yield spy


def _detail(conversation: Conversation) -> str:
    return reverse("llm_metadata:conversation-detail", args=[conversation.pk])


def _bulk_turns(conversation: Conversation, count: int, answer: str = ANSWER) -> None:
    """`count` questions and answers stored without HTML, as bulk_create and imports store."""
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            role=Message.Role.ASSISTANT if n % 2 else Message.Role.USER,
            content=f"{n} {answer}" if n % 2 else f"Question {n}",
        )
        for n in range(2 * count)
    )


class _Tags(HTMLParser):
    """The elements and attributes of an HTML fragment (escaped text is not an element)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _updates(queries: CaptureQueriesContext) -> list[str]:
    """The page's writes to the message table (the session may be written too)."""
    table = f'UPDATE "{Message._meta.db_table}"'
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith(table)]


def test_it_stores_the_answer_html_when_saved(alice: User) -> None:
    asked, answered = make_turn(make_conversation(alice), "Why *not*?", ANSWER)
    answered.refresh_from_db()
    asked.refresh_from_db()
    assert answered.content_html == render_markdown(ANSWER)
    assert '<pre class="highlight"><code class="language-python">' in answered.content_html
    assert "<table>" in answered.content_html
    assert answered.content_html_version == RENDERER_VERSION
    assert asked.content_html == ""  # questions are shown as plain text


def test_it_renders_again_when_the_content_is_saved(alice: User) -> None:
    _, answered = make_turn(make_conversation(alice), answer="*one*")
    answered.content = "**two**"
    answered.save(update_fields=["content"])
    answered.refresh_from_db()
    assert answered.content_html == "<p><strong>two</strong></p>\n"


def test_the_plain_form_turn_stores_the_html_and_its_page_renders_nothing(
    alice: User, alice_client: Client, fake_openai, renders: mock.MagicMock
) -> None:
    fake_openai.state.reply = "The capital is **Paris**."
    form = {"question": "Capital?", "model": "fake-small", "temperature": "0.3"}
    form |= {"top_k": "20", "top_p": "0.8", "max_tokens": "256"}
    response = alice_client.post(ASK, form)
    answered = Message.objects.get(role=Message.Role.ASSISTANT)
    assert answered.content_html == "<p>The capital is <strong>Paris</strong>.</p>\n"
    assert renders.call_count == 1
    html = alice_client.get(response["Location"]).content.decode()
    assert renders.call_count == 1
    assert "<p>The capital is <strong>Paris</strong>.</p>" in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("llm_clients")
async def test_the_streamed_answer_is_rendered_once_and_its_event_carries_that_html(
    alice: User, fake_openai, renders: mock.MagicMock
) -> None:
    fake_openai.state.reply = "A **streamed** answer."
    exchange = await stream_post(alice, stream_form())
    name, done = exchange.events()[-1]
    answered = await sync_to_async(Message.objects.get)(role=Message.Role.ASSISTANT)
    assert name == "done" and renders.call_count == 1
    assert answered.content_html == "<p>A <strong>streamed</strong> answer.</p>\n"
    assert answered.content_html in done["html"]


def test_a_page_of_50_stored_messages_calls_no_renderer(
    alice: User, alice_client: Client, renders: mock.MagicMock
) -> None:
    conversation = make_conversation(alice)
    for i in range(25):
        make_turn(conversation, f"Question {i}", f"**{i}** {ANSWER}")
    renders.reset_mock()
    with CaptureQueriesContext(connection) as queries:
        chat = alice_client.get(ASK, {"c": str(conversation.pk)}).content.decode()
        detail = alice_client.get(_detail(conversation)).content.decode()
    assert renders.call_count == 0
    assert _updates(queries) == []
    for html in (chat, detail):
        assert html.count('class="mb-3 message-item"') == 50
        assert html.count('<code class="language-python">') == 25
        assert "<strong>24</strong>" in html


@pytest.mark.parametrize("page", ["chat", "detail"])
def test_stale_answers_render_once_and_are_stored_in_one_write(
    alice: User, alice_client: Client, renders: mock.MagicMock, page: str
) -> None:
    conversation = make_conversation(alice)
    _bulk_turns(conversation, 24)
    make_turn(conversation, "Old?", "**old**")  # 50 messages: all on either page
    Message.objects.filter(content="**old**").update(
        content_html="<p>made by an older renderer</p>", content_html_version=RENDERER_VERSION - 1
    )
    url = _detail(conversation) if page == "detail" else f"{ASK}?c={conversation.pk}"
    renders.reset_mock()
    with CaptureQueriesContext(connection) as queries:
        first = alice_client.get(url).content.decode()
    assert renders.call_count == 25  # the 24 bulk-created answers and the old one
    assert len(_updates(queries)) == 1
    assert "made by an older renderer" not in first and "<p><strong>old</strong></p>" in first
    stored = Message.objects.filter(role=Message.Role.ASSISTANT)
    assert {m.content_html_version for m in stored} == {RENDERER_VERSION}
    assert all(m.content_html == render_markdown(m.content) for m in stored)
    with CaptureQueriesContext(connection) as queries:
        second = alice_client.get(url).content.decode()
    assert renders.call_count == 25 and _updates(queries) == []
    assert second.count('<code class="language-python">') == first.count(
        '<code class="language-python">'
    )


def test_a_stale_message_shown_without_the_page_helper_is_rendered_not_trusted(
    alice: User,
) -> None:
    _, answered = make_turn(make_conversation(alice), answer="**new**")
    Message.objects.filter(pk=answered.pk).update(
        content_html="<p>stale</p>", content_html_version=0
    )
    answered = Message.objects.get(pk=answered.pk)
    assert answered.answer_html == "<p><strong>new</strong></p>\n"
    assert store_stale_html([answered]) == 0  # rendered in memory above; nothing left stale


@pytest.mark.parametrize("stored_by", ["save", "bulk_create"])
def test_hostile_markdown_is_sanitised_on_every_path(
    alice: User, alice_client: Client, stored_by: str
) -> None:
    conversation = make_conversation(alice)
    if stored_by == "save":
        make_turn(conversation, "Hi", HOSTILE)
    else:
        _bulk_turns(conversation, 1, HOSTILE)
    for url in (f"{ASK}?c={conversation.pk}", _detail(conversation)):
        html = alice_client.get(url).content.decode()
        body = html.split('<div class="message-content">', 1)[1].split("</div>", 1)[0]
        tags = _Tags(body).found
        assert tags and {tag for tag, _ in tags} <= {"p"}  # everything else stayed text
        assert not [a for _, attrs in tags for a in attrs]
        assert "&lt;script&gt;" in body and "&lt;img" in body


def test_an_import_cannot_bring_its_own_html(alice: User, alice_client: Client) -> None:
    original = make_conversation(alice, title="Exported")
    make_turn(original, "Hi", "**safe**")
    document = exports.conversation_dict(original)
    for message in document["conversation"]["messages"]:
        message["content_html"] = "<script>alert(1)</script>"
        message["content_html_version"] = RENDERER_VERSION
    upload = SimpleUploadedFile("c.json", json.dumps(document).encode(), "application/json")
    alice_client.post(reverse("llm_metadata:conversation-import"), {"json_file": upload})
    imported = Conversation.objects.exclude(pk=original.pk).get(title="Exported")
    html = alice_client.get(_detail(imported)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "<p><strong>safe</strong></p>" in html


def test_exports_and_the_admin_leave_the_html_out(
    alice: User, alice_client: Client, admin_client: Client
) -> None:
    conversation = make_conversation(alice)
    _, answered = make_turn(conversation, answer="**bold**")
    urls = [reverse("llm_metadata:messages-export", args=[fmt]) for fmt in ("csv", "jsonl")]
    urls += [
        reverse("llm_metadata:conversation-export", args=[conversation.pk, fmt])
        for fmt in ("json", "csv", "md")
    ]
    for url in urls:
        response = alice_client.get(url)
        body = b"".join(response.streaming_content if response.streaming else [response.content])
        assert response.status_code == 200 and b"**bold**" in body
        assert b"content_html" not in body and b"<strong>" not in body
    change = reverse("admin:llm_metadata_message_change", args=[answered.pk])
    assert 'name="content_html' not in admin_client.get(change).content.decode()
