"""Content-Security-Policy and the other security headers, and templates that need no
'unsafe-inline' (no style attribute, <style> block, inline script or event handler)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.test_settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
INLINE = {
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "<style> block": re.compile(r"<style\b", re.I),
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=\s*['\"]", re.I),
}


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/accounts/signup/"])
@pytest.mark.django_db
def test_it_sends_the_policy_and_headers_on_public_pages(client: Client, url: str) -> None:
    response = client.get(url)
    directives = policy(response)
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'self'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_it_sends_the_policy_on_signed_in_pages_and_the_stream(alice_client: Client) -> None:
    for name in ("ask", "conversation-list", "json-viewer", "analytics"):
        assert (
            "default-src 'self'"
            in alice_client.get(reverse(f"llm_metadata:{name}"))["Content-Security-Policy"]
        )


def test_it_lets_forms_reach_a_configured_social_provider_only(monkeypatch) -> None:
    plain = load_settings(monkeypatch)
    assert plain["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["form-action"] == ["'self'"]
    social = load_settings(monkeypatch, GITHUB_CLIENT_ID="id", GITHUB_CLIENT_SECRET="secret")
    assert social["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["form-action"] == [
        "'self'",
        "https://github.com",
    ]


def test_no_template_needs_unsafe_inline() -> None:
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for what, pattern in INLINE.items():
            found += [f"{path.relative_to(ROOT)}: {what}" for _ in pattern.finditer(text)]
    assert found == []


def test_no_script_writes_inline_styles_or_handlers() -> None:
    """Setting element.style through the CSSOM is allowed by CSP, but markup with style= or
    on…= attributes is not; the scripts use classes from static/css/app.css."""
    found = []
    for path in sorted((ROOT / "static" / "js").glob("*.js")):
        text = path.read_text()
        for pattern in (r"\.style\.", r"setAttribute\(\s*['\"](style|on\w+)['\"]", r"\son\w+="):
            found += [f"{path.name}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert found == []
