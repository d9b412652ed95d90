"""The shared `next` check of POST forms: local targets only, else the view's fallback."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from llm_metadata.views.redirects import next_or


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ask/?c=1#message-2", "/ask/?c=1#message-2"),
        ("http://testserver/conversation/", "http://testserver/conversation/"),
        ("", "/fallback/"),
        ("https://evil.example/", "/fallback/"),
        ("//evil.example/", "/fallback/"),
        ("javascript:alert(1)", "/fallback/"),
    ],
)
def test_it_follows_local_targets_only(target: str, expected: str) -> None:
    request = RequestFactory().post("/x/", {"next": target})
    assert next_or(request, "/fallback/") == expected


def test_it_keeps_a_secure_request_on_https() -> None:
    request = RequestFactory().post("/x/", {"next": "http://testserver/ask/"}, secure=True)
    assert next_or(request, "/fallback/") == "/fallback/"


def test_it_falls_back_without_a_next() -> None:
    assert next_or(RequestFactory().post("/x/"), "/fallback/") == "/fallback/"
