"""Signup control (ACCOUNT_SIGNUP, SIGNUP_EMAIL_DOMAINS) and the admin's login through allauth."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialLogin
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from llm_metadata.accounts import SocialAccountAdapter
from tests.conftest import PASSWORD

SIGNUP = reverse("account_signup")
LOGIN = reverse("account_login")


def signup(client: Client, email: str, username: str = "carol"):
    return client.post(
        SIGNUP,
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


@pytest.mark.django_db
def test_it_closes_signup_to_everyone_but_admins(client: Client, settings) -> None:
    settings.ACCOUNT_SIGNUP = "closed"
    page = client.get(SIGNUP)
    assert page.status_code == 200
    assert "Sign-up closed" in page.text and "created by its administrators" in page.text
    signup(client, "carol@example.com")
    assert not User.objects.filter(username="carol").exists()
    for url in (reverse("llm_metadata:home"), LOGIN):
        html = client.get(url).text
        assert f'href="{SIGNUP}"' not in html, url
    assert "Accounts are created by the administrators" in client.get(LOGIN).text


def test_it_lets_an_admin_create_accounts_while_signup_is_closed(
    admin_client: Client, settings
) -> None:
    settings.ACCOUNT_SIGNUP = "closed"
    response = admin_client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "dave",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    assert User.objects.filter(username="dave").exists()


@pytest.mark.django_db
def test_it_shows_signup_links_while_signup_is_open(client: Client) -> None:
    assert f'href="{SIGNUP}"' in client.get(reverse("llm_metadata:home")).text
    assert f'href="{SIGNUP}"' in client.get(LOGIN).text


@pytest.mark.django_db
def test_it_takes_only_addresses_at_the_listed_domains(client: Client, settings) -> None:
    settings.SIGNUP_EMAIL_DOMAINS = ["example.com", "lab.example.org"]
    refused = signup(client, "carol@gmail.com")
    assert refused.status_code == 200
    assert "Sign-up is limited to addresses at example.com, lab.example.org." in refused.text
    assert "Sign-up is limited" in signup(client, "carol@sub.example.com").text  # exact domains
    assert not User.objects.filter(username="carol").exists()
    assert signup(client, "carol@Example.COM").status_code == 302
    assert User.objects.filter(username="carol").exists()


def _social_login(email: str) -> SocialLogin:
    user = User(username="erin", email=email)
    login = SocialLogin(user=user, account=SocialAccount(provider="github", uid="42"))
    login.email_addresses = [EmailAddress(email=email)] if email else []
    return login


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("signup_mode", "domains", "email", "allowed"),
    [
        ("open", [], "erin@gmail.com", True),
        ("open", ["example.com"], "erin@example.com", True),
        ("open", ["example.com"], "erin@gmail.com", False),
        ("open", ["example.com"], "", False),  # a provider that sends no address
        ("closed", [], "erin@example.com", False),
    ],
)
def test_it_applies_the_same_rules_to_social_signups(
    settings, signup_mode: str, domains: list[str], email: str, allowed: bool
) -> None:
    settings.ACCOUNT_SIGNUP = signup_mode
    settings.SIGNUP_EMAIL_DOMAINS = domains
    request = RequestFactory().get("/accounts/github/login/callback/")
    assert (
        SocialAccountAdapter(request).is_open_for_signup(request, _social_login(email)) is allowed
    )


# --- The admin's login -----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_the_admin_login_to_the_site_login_with_next(client: Client) -> None:
    response = client.get(reverse("admin:login") + "?next=/admin/auth/user/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?{urlencode({'next': '/admin/auth/user/'})}"
    assert client.get(reverse("admin:login") + "?next=https://evil.example/")["Location"] == (
        f"{LOGIN}?{urlencode({'next': '/admin/'})}"
    )
    followed = client.get(reverse("admin:index"), follow=True)
    assert followed.redirect_chain[-1][0].startswith(LOGIN)


def test_it_logs_staff_into_the_admin_through_the_site_login(client: Client, admin) -> None:
    response = client.post(
        f"{LOGIN}?next=/admin/", {"login": "admin", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_it_keeps_non_staff_out_of_the_admin_without_a_redirect_loop(alice_client: Client) -> None:
    first = alice_client.get(reverse("admin:index"))
    assert first.status_code == 302
    denied = alice_client.get(first["Location"])
    assert denied.status_code == 403
    assert "an account without access to the admin" in denied.text


def test_it_rate_limits_failed_logins_wherever_they_come_from(client: Client, alice) -> None:
    """allauth counts failures in Django's cache: shared by every worker once the cache is."""
    cache.clear()
    for _ in range(5):
        page = client.post(f"{LOGIN}?next=/admin/", {"login": "alice", "password": "wrong"})
        assert "Too many failed login attempts" not in page.text
    page = client.post(f"{LOGIN}?next=/admin/", {"login": "alice", "password": PASSWORD})
    assert "Too many failed login attempts" in page.text
    assert "_auth_user_id" not in client.session
    cache.clear()
