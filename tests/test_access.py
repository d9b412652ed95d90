"""Every page but the landing page, /healthz, the account pages and a share link's page asks a
visitor to log in; the gateway (/v1/) answers 401 in OpenAI's shape instead, since scripts
sign in with a bearer key, never a session."""

from __future__ import annotations

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PUBLIC = {"home", "healthz", "shared-conversation"}  # a share link: 404 unless it is live
BEARER = {"gateway-models", "gateway-chat-completions"}  # personal API keys, never a login page
SAMPLE_ARGS = {"uuid": uuid.uuid4(), "int": 1, "str": "csv", "slug": "csv", "path": "x"}


def app_url_patterns() -> list[tuple[str, str]]:
    """(url name, a concrete path) for every named route of the app."""
    resolver = get_resolver()
    found: list[tuple[str, str]] = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "llm_metadata":
            for pattern in entry.url_patterns:
                if isinstance(pattern, URLPattern) and pattern.name:
                    found.append((pattern.name, _sample_path(pattern)))
    return found


def _sample_path(pattern: URLPattern) -> str:
    converters = pattern.pattern.converters
    kwargs = {}
    for key, converter in converters.items():
        kind = type(converter).__name__.replace("Converter", "").lower()
        kwargs[key] = SAMPLE_ARGS.get(kind, "x")
    return reverse(f"llm_metadata:{pattern.name}", kwargs=kwargs)


def test_it_knows_the_app_routes():
    names = {name for name, _ in app_url_patterns()}
    assert {"ask", "ask-new", "conversation-list", "conversation-detail", "json-viewer"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_sends_anonymous_visitors_to_login(client, method):
    login_url = reverse("account_login")
    for name, path in app_url_patterns():
        if name in PUBLIC:
            continue
        response = getattr(client, method)(path)
        if name in BEARER:
            assert response.status_code in (401, 405), (name, path, response.status_code)
            continue
        assert response.status_code == 302, (name, path, response.status_code)
        assert response["Location"].startswith(login_url), (name, path)


@pytest.mark.django_db
def test_it_lets_anonymous_visitors_see_public_pages(client):
    assert client.get(reverse("llm_metadata:home")).status_code == 200
    assert client.get(reverse("llm_metadata:healthz")).status_code == 200
    assert client.get(reverse("account_login")).status_code == 200
    assert client.get(reverse("account_signup")).status_code == 200


def test_it_sends_signed_in_users_from_landing_to_ask(alice_client):
    response = alice_client.get(reverse("llm_metadata:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("llm_metadata:ask")
