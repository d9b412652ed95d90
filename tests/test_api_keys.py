"""Personal API keys: the page, the command, and that a key is never stored, logged or echoed."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from llm_metadata import api_keys
from llm_metadata.keys_models import ApiKey

KEY_PATTERN = re.compile(r"lmd_[A-Za-z0-9_-]{32}")
URL = reverse("llm_metadata:api-keys")


def _all_stored_text() -> str:
    """Every column of every key row, as text."""
    return " ".join(str(v) for row in ApiKey.objects.values() for v in row.values())


def test_a_key_has_at_least_128_random_bits_and_only_its_hash_is_stored(alice) -> None:
    row, key = api_keys.create_key(owner=alice, name="laptop")
    assert KEY_PATTERN.fullmatch(key)  # 32 url-safe characters: 192 bits
    assert row.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(row.prefix) and len(row.prefix) == 10
    assert key not in _all_stored_text()


def test_the_page_shows_a_new_key_once(alice_client, alice) -> None:
    response = alice_client.post(URL, {"name": "notebook", "expires": ""})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = KEY_PATTERN.search(response.content.decode()).group()
    assert api_keys.authenticate(f"Bearer {key}").owner == alice
    again = alice_client.get(URL).content.decode()
    assert key not in again and "notebook" in again and key[:10] in again
    assert key not in _all_stored_text()


def test_the_page_refuses_a_past_expiry_and_a_missing_name(alice_client) -> None:
    yesterday = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    assert alice_client.post(URL, {"name": "x", "expires": yesterday}).status_code == 400
    assert alice_client.post(URL, {"name": ""}).status_code == 400
    assert not ApiKey.objects.exists()


def test_an_expiry_date_is_kept(alice_client) -> None:
    day = (timezone.now() + dt.timedelta(days=30)).date()
    alice_client.post(URL, {"name": "ci", "expires": day.isoformat()})
    assert ApiKey.objects.get().expires.date() == day


def test_the_owner_revokes_a_key_and_it_stops_working(alice_client, alice) -> None:
    row, key = api_keys.create_key(owner=alice, name="old")
    response = alice_client.post(reverse("llm_metadata:api-key-revoke", args=[row.pk]))
    assert response.status_code == 302
    refusal = api_keys.authenticate(f"Bearer {key}")
    assert isinstance(refusal, api_keys.KeyRefusal) and refusal.code == "revoked_api_key"


def test_no_one_else_sees_or_revokes_a_key(bob_client, alice) -> None:
    row, _ = api_keys.create_key(owner=alice, name="alice-laptop")
    assert "alice-laptop" not in bob_client.get(URL).content.decode()
    revoke = reverse("llm_metadata:api-key-revoke", args=[row.pk])
    assert bob_client.post(revoke).status_code == 404
    row.refresh_from_db()
    assert row.revoked is None


def test_the_page_lists_keys_in_a_fixed_number_of_queries(
    alice_client, alice, django_assert_max_num_queries
) -> None:
    for index in range(5):
        api_keys.create_key(owner=alice, name=f"key {index}")
    with django_assert_max_num_queries(6):
        assert alice_client.get(URL).status_code == 200


def test_the_command_prints_the_key_alone(alice) -> None:
    out = StringIO()
    call_command("create_api_key", "alice", "--name", "cron", "--expires", "2099-01-01", stdout=out)
    key = out.getvalue().strip()
    assert KEY_PATTERN.fullmatch(key) and out.getvalue() == key + "\n"
    row = api_keys.authenticate(f"Bearer {key}")
    assert row.name == "cron" and row.expires.year == 2099


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("", "missing_api_key"),
        ("Basic abc", "missing_api_key"),
        ("Bearer lmd_unknownunknownunknownunknown00", "invalid_api_key"),
    ],
)
def test_refusals_never_repeat_what_was_sent(db, header, code) -> None:
    refusal = api_keys.authenticate(header)
    assert refusal.code == code
    assert "unknown" not in refusal.message and "abc" not in refusal.message


def test_an_expired_key_is_refused_without_echoing_it(alice) -> None:
    row, key = api_keys.create_key(owner=alice, name="short-lived")
    row.expires = timezone.now() - dt.timedelta(seconds=1)
    row.save()
    refusal = api_keys.authenticate(f"Bearer {key}")
    assert refusal.code == "expired_api_key" and key not in refusal.message
    assert key[:10] not in refusal.message


def test_last_used_is_written_at_most_once_a_minute(alice, django_assert_num_queries) -> None:
    row, key = api_keys.create_key(owner=alice, name="busy")
    with django_assert_num_queries(2):  # the lookup, then last_used
        api_keys.authenticate(f"Bearer {key}")
    with django_assert_num_queries(1):
        api_keys.authenticate(f"Bearer {key}")
    row.refresh_from_db()
    assert row.last_used is not None


def test_no_log_line_carries_the_key(alice_client, alice, fake_openai, llm_log) -> None:
    llm_log.set_level(logging.DEBUG)
    django_request = logging.getLogger("django.request")
    django_request.addHandler(llm_log.handler)
    response = alice_client.post(URL, {"name": "logged?"})
    key = KEY_PATTERN.search(response.content.decode()).group()
    body = {"model": "fake-small", "messages": [{"role": "user", "content": "hi"}]}
    chat = reverse("llm_metadata:gateway-chat-completions")
    for bearer in (key, key[:-1] + "x"):
        alice_client.post(
            chat, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {bearer}"
        )
    call_command("create_api_key", "alice", "--name", "cli", stdout=StringIO())
    django_request.removeHandler(llm_log.handler)
    logged = [r.getMessage() for r in llm_log.records]
    assert any("gateway call" in line for line in logged)
    assert any("Unauthorized" in line for line in logged)
    assert not any(KEY_PATTERN.search(line) or key[4:20] in line for line in logged)
