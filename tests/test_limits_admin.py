"""The limits in the admin: overrides edited on a user's and a group's page, and each user's
tokens today and this month in the users list, read for the whole page at once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from llm_metadata import limits
from llm_metadata.limits_models import GroupLimit, UserLimit
from llm_metadata.models import Message
from tests.factories import make_conversation

pytestmark = pytest.mark.django_db


def charge(user: User, tokens: int) -> None:
    Message.objects.create(
        conversation=make_conversation(user), role=Message.Role.ASSISTANT, total_tokens=tokens
    )


def test_the_users_list_shows_each_users_tokens(
    admin_client: Client, alice: User, bob: User, django_assert_max_num_queries
) -> None:
    charge(alice, 1_234)
    charge(alice, 1_000)
    charge(bob, 7)
    for n in range(30):
        charge(User.objects.create_user(f"user{n}"), n + 1)
    with django_assert_max_num_queries(12):
        page = admin_client.get(reverse("admin:auth_user_changelist"))
    html = page.content.decode()
    assert "Tokens today" in html and "Tokens this month" in html
    assert '<td class="field-tokens_today">2,234</td>' in html
    assert '<td class="field-tokens_this_month">2,234</td>' in html
    assert '<td class="field-tokens_today">7</td>' in html


def test_an_operator_sets_a_users_override_on_their_page(
    admin_client: Client, alice: User, settings
) -> None:
    settings.TOKEN_BUDGET_PER_DAY = 1_000
    url = reverse("admin:auth_user_change", args=[alice.pk])
    page = admin_client.get(url)
    assert "limit-0-rate_limit_per_minute" in page.content.decode()
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("password", "groups", "user_permissions")
    }
    data.update(
        {
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "limit-TOTAL_FORMS": "1",
            "limit-INITIAL_FORMS": "0",
            "limit-0-rate_limit_per_minute": "2",
            "limit-0-token_budget_per_day": "",
            "limit-0-token_budget_per_month": "0",
        }
    )
    data.pop("last_login", None)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    stored = UserLimit.objects.get(user=alice)
    assert (stored.rate_limit_per_minute, stored.token_budget_per_day) == (2, None)
    assert limits.limits_for(alice) == limits.Limits(2, 1_000, 0)
    assert "2 calls a minute; tokens today 0 of 1,000" in admin_client.get(url).content.decode()


def test_an_operator_sets_a_groups_override_on_its_page(admin_client: Client, alice: User) -> None:
    team = Group.objects.create(name="team")
    alice.groups.add(team)
    url = reverse("admin:auth_group_change", args=[team.pk])
    response = admin_client.post(
        url,
        {
            "name": "team",
            "limit-TOTAL_FORMS": "1",
            "limit-INITIAL_FORMS": "0",
            "limit-0-token_budget_per_day": "50000",
        },
    )
    assert response.status_code == 302
    assert GroupLimit.objects.get(group=team).token_budget_per_day == 50_000
    assert limits.limits_for(alice).day == 50_000
