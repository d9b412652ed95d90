"""Shared fixtures: the personas alice (owner), bob (outsider) and admin, and their clients."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import settings as hypothesis_settings

pytest_plugins = ["tests.fakes.fixtures", "tests.live_asgi"]

PASSWORD = "correct-horse-battery-staple"

# Property tests without their own @settings (the fuzz tests) run this many examples: few while
# working, a fixed set in CI (derandomize: the same examples every run, so CI never fails on a
# case it happened to draw once), and many on demand: HYPOTHESIS_PROFILE=thorough.
hypothesis_settings.register_profile("dev", max_examples=20, deadline=None)
hypothesis_settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True)
hypothesis_settings.register_profile("thorough", max_examples=1000, deadline=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


def on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgresql` show what only PostgreSQL can (terminating a connection, real
    row locks under concurrency): on SQLite they are deselected, and the run's header says so;
    CI runs them in its PostgreSQL pass."""
    if on_postgresql():
        return
    mine = [item for item in items if item.get_closest_marker("postgresql")]
    if mine:
        items[:] = [item for item in items if item not in mine]
        config.hook.pytest_deselected(items=mine)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"postgresql: {len(mine)} tests deselected: they run only when DATABASE_URL "
                "is PostgreSQL (CI's second pass)"
            )


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
