"""Whose data the analytics page and the messages export show: `?user=` needs staff status
and the view_message permission."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from tests.factories import make_conversation, make_turn


@pytest.fixture
def data(alice: User, bob: User) -> None:
    """Alice: two messages; bob: four."""
    make_turn(make_conversation(alice), "alice's question", "alice's answer")
    for _ in range(2):
        make_turn(make_conversation(bob), "bob's question", "bob's answer")


def _staff(username: str, *, can_view_messages: bool, is_staff: bool = True) -> Client:
    user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=is_staff)
    if can_view_messages:
        user.user_permissions.add(Permission.objects.get(codename="view_message"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def plain_staff(data: None) -> Client:
    return _staff("carol", can_view_messages=False)


@pytest.fixture
def reader_staff(data: None) -> Client:
    return _staff("dora", can_view_messages=True)


def _analytics_owners(client: Client, user: str) -> tuple[int, str]:
    response = client.get(reverse("llm_metadata:analytics"), {"user": user})
    if response.status_code != 200:
        return response.status_code, ""
    return response.context["report"].totals["messages"], response.context["owner_label"]


def _export_owners(client: Client, user: str) -> tuple[int, str]:
    response = client.get(reverse("llm_metadata:messages-export", args=["jsonl"]), {"user": user})
    if response.status_code != 200:
        return response.status_code, ""
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = [json.loads(line) for line in body.splitlines()]
    return len(lines), ",".join(sorted({line["owner"] for line in lines}))


PAGES = pytest.mark.parametrize("owners", [_analytics_owners, _export_owners])


@PAGES
def test_it_keeps_staff_without_the_permission_to_their_own_data(plain_staff, owners) -> None:
    assert owners(plain_staff, "alice")[0] == 0
    assert owners(plain_staff, "*")[0] == 0


@PAGES
def test_it_keeps_a_non_staff_user_with_the_permission_to_their_own_data(data, owners) -> None:
    reader = _staff("erin", can_view_messages=True, is_staff=False)
    assert owners(reader, "alice")[0] == 0
    assert owners(reader, "*")[0] == 0


@PAGES
def test_it_hides_unknown_users_from_staff_without_the_permission(plain_staff, owners) -> None:
    """No 404 here: it would tell which usernames exist."""
    assert owners(plain_staff, "nobody")[0] == 0


@PAGES
def test_it_lets_a_user_with_the_permission_read_another_user(reader_staff, owners) -> None:
    assert owners(reader_staff, "alice") == (2, "alice")
    assert owners(reader_staff, "*")[0] == 6


@PAGES
def test_it_lets_a_superuser_read_another_user(data, admin_client, owners) -> None:
    assert owners(admin_client, "bob") == (4, "bob")


@PAGES
def test_it_answers_404_for_an_unknown_user(reader_staff, admin_client, owners) -> None:
    assert owners(reader_staff, "nobody") == (404, "")
    assert owners(admin_client, "nobody") == (404, "")


def test_it_offers_the_user_field_only_with_the_permission(plain_staff, reader_staff) -> None:
    url = reverse("llm_metadata:analytics")
    assert 'name="user"' not in plain_staff.get(url).content.decode()
    assert 'name="user"' in reader_staff.get(url).content.decode()


def test_it_offers_the_user_field_only_to_those_who_may_use_it(data, reader_staff) -> None:
    page = reverse("llm_metadata:analytics")
    assert 'name="user"' in reader_staff.get(page).text
    assert 'name="user"' not in _staff("fay", can_view_messages=True, is_staff=False).get(page).text
