"""CSRF: every POST form the pages render carries the token, and /ask/ refuses a post without it.

The shared clients do not enforce CSRF, so a form missing `{% csrf_token %}` would pass every
other test; this module reads the forms out of the pages' HTML instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from llm_metadata.models import Conversation, Feedback, Message
from tests.conftest import PASSWORD
from tests.factories import make_conversation, make_turn

TOKEN = "csrfmiddlewaretoken"
SKIPPED_INPUTS = {"submit", "button", "image", "reset", "file"}

Fetch = Callable[[Client, Message], HttpResponse]  # how signed-in alice gets a page
Action = Callable[[Message], str]  # the action of a form the page must show


@dataclass
class Form:
    """A form as a browser would submit it untouched: its method, action and default values."""

    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class FormParser(HTMLParser):
    """Collects the forms of a page with the values of their inputs, textareas and selects."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = Form(attr.get("method", "get").lower(), attr.get("action", ""))
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag == "option" and self._select is not None:
            if self._select not in self._form.fields or "selected" in attr:
                self._form.fields[self._select] = attr.get("value", "")
            return
        name = attr.get("name")
        if not name:
            return
        kind = attr.get("type", "text").lower()
        if tag == "input" and kind not in SKIPPED_INPUTS:
            if kind not in ("checkbox", "radio"):
                self._form.fields[name] = attr.get("value", "")
            elif "checked" in attr:
                self._form.fields[name] = attr.get("value", "on")
        elif tag == "textarea":
            self._textarea = name
            self._form.fields[name] = ""
        elif tag == "select":
            self._select = name

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea is not None:
            self._form.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def forms_of(response: HttpResponse) -> list[Form]:
    assert response.status_code == 200
    parser = FormParser()
    parser.feed(response.content.decode())
    return parser.forms


@pytest.fixture
def answer(alice: User) -> Message:
    """Alice's conversation: a question and an answer she rated."""
    _, answered = make_turn(make_conversation(alice), "Why tides?", "The moon.")
    Feedback.objects.create(message=answered, user=alice, rating=1, comment="clear")
    return answered


def _viewed_upload(client: Client, answer: Message) -> HttpResponse:
    upload = SimpleUploadedFile("rows.json", b'[{"a": 1}, {"a": 2}]')
    return client.post(reverse("llm_metadata:json-viewer"), {"json_file": upload})


def _feedback(answer: Message) -> str:
    return reverse("llm_metadata:message-feedback", args=[answer.pk])


def _conversation(name: str) -> Action:
    return lambda answer: reverse(f"llm_metadata:{name}", args=[answer.conversation_id])


def _url(name: str) -> Action:
    return lambda answer: reverse(name)


# (page, how to get it, the POST forms' actions it must show besides log out)
SIGNED_IN_PAGES: list[tuple[str, Fetch, list[Action]]] = [
    (
        "ask",
        lambda c, a: c.get(reverse("llm_metadata:ask"), {"c": a.conversation_id}),
        [_url("llm_metadata:ask"), _url("llm_metadata:ask-new"), _feedback],
    ),
    (
        "conversation-list",
        lambda c, a: c.get(reverse("llm_metadata:conversation-list")),
        [
            _url("llm_metadata:ask-new"),
            _url("llm_metadata:conversation-import"),
            _conversation("conversation-rename"),
            _conversation("conversation-delete"),
        ],
    ),
    (
        "conversation-detail",
        lambda c, a: c.get(_conversation("conversation-detail")(a)),
        [_conversation("conversation-rename"), _conversation("conversation-delete"), _feedback],
    ),
    (
        "json-viewer",
        lambda c, a: c.get(reverse("llm_metadata:json-viewer")),
        [_url("llm_metadata:json-viewer")],
    ),
    (
        "json-viewer-document",
        _viewed_upload,
        [_url("llm_metadata:json-viewer"), _url("llm_metadata:json-viewer-download")],
    ),
    ("analytics", lambda c, a: c.get(reverse("llm_metadata:analytics")), []),
    ("account-logout", lambda c, a: c.get(reverse("account_logout")), []),
    (
        "account-password-change",
        lambda c, a: c.get(reverse("account_change_password")),
        [_url("account_change_password")],
    ),
    ("account-email", lambda c, a: c.get(reverse("account_email")), [_url("account_email")]),
]
ANONYMOUS_PAGES = ["account_login", "account_signup", "account_reset_password"]


def _assert_every_post_form_has_the_token(forms: list[Form], actions: list[str]) -> None:
    posts = [form for form in forms if form.method == "post"]
    assert posts, "the page shows no POST form"
    assert set(actions) <= {form.action for form in posts}
    missing = [form.action for form in posts if not form.fields.get(TOKEN)]
    assert missing == [], f"POST forms without {TOKEN}"


@pytest.mark.parametrize(
    ("page", "fetch", "actions"), SIGNED_IN_PAGES, ids=[page for page, *_ in SIGNED_IN_PAGES]
)
def test_it_puts_the_token_in_every_post_form_of_a_signed_in_page(
    alice_client: Client,
    answer: Message,
    page: str,
    fetch: Fetch,
    actions: list[Action],
) -> None:
    forms = forms_of(fetch(alice_client, answer))
    expected = [reverse("account_logout"), *(action(answer) for action in actions)]
    _assert_every_post_form_has_the_token(forms, expected)


@pytest.mark.parametrize("name", ANONYMOUS_PAGES)
def test_it_puts_the_token_in_every_post_form_of_a_signed_out_page(db, name: str) -> None:
    forms = forms_of(Client().get(reverse(name)))
    _assert_every_post_form_has_the_token(forms, [])


def test_it_notices_a_post_form_without_the_token() -> None:
    parser = FormParser()
    parser.feed('<form method="POST" action="/x/"><input name="title" value="Tides"></form>')
    with pytest.raises(AssertionError, match=TOKEN):
        _assert_every_post_form_has_the_token(parser.forms, ["/x/"])


def test_it_refuses_a_question_without_the_token_and_takes_it_with_the_token(
    alice: User, demo_endpoint: None
) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="alice", password=PASSWORD)
    ask = reverse("llm_metadata:ask")
    # The chat form (the page's "ask again" panel posts to /ask/ too, its buttons elsewhere).
    (chat_form,) = [
        form
        for form in forms_of(client.get(ask))
        if form.action == ask and "question" in form.fields
    ]
    data = {**chat_form.fields, "question": "Why is the sea salty?"}
    without_token = {name: value for name, value in data.items() if name != TOKEN}

    assert client.post(ask, without_token).status_code == 403
    assert not Conversation.objects.exists()

    response = client.post(ask, data)
    assert response.status_code == 302
    assert list(Message.objects.values_list("role", flat=True)) == ["user", "assistant"]
