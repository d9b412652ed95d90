"""Who may sign up: ACCOUNT_SIGNUP (open or closed) and SIGNUP_EMAIL_DOMAINS, for allauth.

Closed: only administrators create accounts (in the admin); the signup page says so and the
links to it are not shown. With domains set, an e-mail address must be at one of them, for a
signup by form and by a social provider alike; existing accounts still log in either way.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest


def signup_open() -> bool:
    return settings.ACCOUNT_SIGNUP == "open"


def email_allowed(email: str) -> bool:
    """Whether an address may sign up: any when no domains are set, else an exact domain match."""
    domains = settings.SIGNUP_EMAIL_DOMAINS
    if not domains:
        return True
    _, at, domain = (email or "").strip().rpartition("@")
    return bool(at) and domain.lower() in domains


def domains_text() -> str:
    return ", ".join(settings.SIGNUP_EMAIL_DOMAINS)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return signup_open()

    def clean_email(self, email: str) -> str:
        email = super().clean_email(email)
        if not email_allowed(email):
            raise forms.ValidationError(
                f"Sign-up is limited to addresses at {domains_text()}.", code="email_domain"
            )
        return email


class ProviderNotConfigured(SocialApp.DoesNotExist, Http404):
    """A provider's login URL (always routed) when the provider has no app: a 404, not a 500,
    and still the exception type allauth's own code catches."""


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_app(self, request: HttpRequest | None, provider: str, client_id: str | None = None):
        try:
            return super().get_app(request, provider, client_id)
        except SocialApp.DoesNotExist:
            raise ProviderNotConfigured(f"Sign-in with {provider} is not set up here.") from None

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        """A new account from a provider: signup open, and its address at an allowed domain
        (a provider that sends no address is refused when domains are set)."""
        if not signup_open():
            return False
        addresses = [address.email for address in sociallogin.email_addresses]
        if sociallogin.user is not None and sociallogin.user.email:
            addresses.append(sociallogin.user.email)
        if not settings.SIGNUP_EMAIL_DOMAINS:
            return True
        return bool(addresses) and all(email_allowed(email) for email in addresses)
