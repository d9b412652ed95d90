"""Accounts through django-allauth: sign up, log in by username or e-mail, social buttons."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.conftest import PASSWORD


@pytest.mark.parametrize("login", ["alice", "alice@example.com"])
def test_it_logs_in_with_username_or_email(client, alice, login):
    response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("llm_metadata:ask")
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_it_refuses_a_wrong_password(client, alice):
    response = client.post(reverse("account_login"), {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_it_signs_up_a_new_user_and_logs_them_in(client):
    response = client.post(
        reverse("account_signup"),
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="carol")
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_it_renders_account_pages_in_the_app_layout(client):
    html = client.get(reverse("account_login")).content.decode()
    assert "navbar" in html
    assert 'name="login"' in html
    assert 'name="password"' in html


@pytest.mark.django_db
def test_it_shows_social_buttons_only_when_configured(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    assert "GitHub" not in client.get(reverse("account_login")).content.decode()
    settings.SOCIALACCOUNT_PROVIDERS = {"github": {"APPS": [{"client_id": "abc", "secret": "xyz"}]}}
    assert "GitHub" in client.get(reverse("account_login")).content.decode()


def test_it_logs_out_by_post(alice_client):
    response = alice_client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in alice_client.session
