"""Shared fixtures: the personas alice (owner), bob (outsider) and admin, and their clients."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytest_plugins = ["tests.fakes.fixtures"]

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _plain_static_storage(settings) -> None:
    """Unit tests render templates without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def bob(db) -> User:
    return User.objects.create_user("bob", "bob@example.com", PASSWORD)


@pytest.fixture
def admin(db) -> User:
    return User.objects.create_superuser("admin", "admin@example.com", PASSWORD)


def _client_for(user: User) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice: User) -> Client:
    return _client_for(alice)


@pytest.fixture
def bob_client(bob: User) -> Client:
    return _client_for(bob)


@pytest.fixture
def admin_client(admin: User) -> Client:
    return _client_for(admin)
