"""The catalogue: models offered (API_MODELS, else the endpoint's list, else the seed's three)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from llm_metadata import catalog
from llm_metadata.catalog import (
    FALLBACK_MODELS,
    available_models,
    default_model,
    is_demo,
    join_refresh,
    offered_models,
    profile_for,
)
from llm_metadata.models import ModelProfile

pytestmark = pytest.mark.django_db


def model_choices() -> list[tuple[str, str]]:
    return [(model.name, model.label) for model in offered_models()]


def test_it_offers_only_the_demo_model_without_an_endpoint(demo_endpoint):
    assert is_demo() is True
    assert model_choices() == [("demo", "Demo model (offline, no endpoint configured)")]
    assert default_model() == "demo"


def test_it_offers_api_models_in_their_order(fake_openai, settings):
    settings.API_MODELS = ["b-model", "a-model"]
    assert is_demo() is False
    assert model_choices() == [("b-model", "b-model"), ("a-model", "a-model")]
    assert default_model() == "b-model"
    assert fake_openai.state.requests == []


@pytest.mark.parametrize("fixture", ["fake_openai", "fake_ollama"])
def test_it_lists_the_endpoints_models_once_then_caches_them(request, fixture):
    fake = request.getfixturevalue(fixture)
    assert model_choices() == [("fake-small", "fake-small"), ("fake-large", "fake-large")]
    assert model_choices() == [("fake-small", "fake-small"), ("fake-large", "fake-large")]
    listed = [r for r in fake.state.requests if r["method"] == "GET"]
    assert [r["path"] for r in listed] == [
        "/v1/models" if fake.state.kind == "openai" else "/api/tags"
    ]


def test_it_sends_the_key_when_listing(fake_openai, settings):
    settings.API_KEY = "sk-list"
    fake_openai.state.api_key = "sk-list"
    assert available_models() == (["fake-small", "fake-large"], "endpoint")
    assert fake_openai.state.requests[0]["headers"]["authorization"] == "Bearer sk-list"


def test_it_falls_back_to_the_seed_models_when_the_list_fails(fake_openai, settings):
    settings.API_URL = "http://127.0.0.1:9/v1"
    assert model_choices() == [(name, name) for name in FALLBACK_MODELS]
    assert FALLBACK_MODELS == [
        "llama3.3:70b-instruct-q8_0",
        "qwen3:32b-q8_0",
        "phi4-reasoning:14b-plus-fp16",
    ]


def test_it_labels_and_hides_models_from_their_profiles(fake_openai):
    ModelProfile.objects.create(name="fake-small", display_name="Small and fast")
    ModelProfile.objects.create(name="fake-large", enabled=False)
    assert model_choices() == [("fake-small", "Small and fast")]
    assert default_model() == "fake-small"


def test_it_gives_the_saved_profile_or_unsaved_defaults():
    saved = ModelProfile.objects.create(name="m", context_length=2048)
    assert profile_for("m") == saved
    fresh = profile_for("other")
    assert fresh.pk is None and fresh.name == "other" and fresh.context_length == 8192


def test_it_makes_no_query_per_model(fake_openai, settings, django_assert_num_queries):
    settings.API_MODELS = [f"model-{i}" for i in range(20)]
    with django_assert_num_queries(1):
        assert len(model_choices()) == 20


def test_it_offers_each_model_with_its_profile(fake_openai, django_assert_num_queries):
    saved = ModelProfile.objects.create(name="fake-large", display_name="Large")
    offered_models()  # the endpoint's list, now in the shared cache
    with django_assert_num_queries(2):  # the list from the cache (a table without Redis), profiles
        small, large = offered_models()
    assert (small.name, small.label, small.profile.pk) == ("fake-small", "fake-small", None)
    assert (large.name, large.label, large.profile) == ("fake-large", "Large", saved)


def test_it_gives_the_demo_model_its_saved_profile(demo_endpoint):
    saved = ModelProfile.objects.create(name="demo", default_top_k=5, enabled=False)
    (offered,) = offered_models()
    assert (offered.name, offered.profile) == ("demo", saved)


# The refresh thread writes the shared cache (a table without Redis) on a connection of its own,
# so the tests that let it run commit as they go instead of holding the test's transaction open.


def listings(fake) -> int:
    return sum(r["method"] == "GET" for r in fake.state.requests)


def age_the_list() -> None:
    """Make the cached list stale, as if LIST_FRESH_SECONDS had passed."""
    key = catalog._list_key(catalog.endpoint())
    cache.set(key, {**cache.get(key), "fresh_until": time.time() - 1})


@pytest.mark.django_db(transaction=True)
def test_it_serves_a_stale_list_at_once_and_refreshes_it_in_the_background(fake_openai):
    assert available_models() == (["fake-small", "fake-large"], "endpoint")
    age_the_list()
    fake_openai.state.models = ["fake-new"]
    fake_openai.state.list_delay = 0.5
    started = time.monotonic()
    assert available_models() == (["fake-small", "fake-large"], "endpoint")
    assert time.monotonic() - started < 0.4  # not held up by the slow listing
    join_refresh(5)
    assert available_models() == (["fake-new"], "endpoint")
    assert listings(fake_openai) == 2


@pytest.mark.django_db(transaction=True)
def test_it_runs_one_refresh_at_a_time(fake_openai):
    available_models()
    age_the_list()
    fake_openai.state.list_delay = 0.5
    for _ in range(5):
        assert available_models()[0] == ["fake-small", "fake-large"]
    join_refresh(5)
    assert listings(fake_openai) == 2  # the first fill, then one refresh for five stale reads


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_last_good_list_when_a_refresh_fails(fake_openai, llm_log):
    available_models()
    age_the_list()
    fake_openai.state.api_key = "sk-now-required"  # the listing gets 401 from here on
    assert available_models() == (["fake-small", "fake-large"], "endpoint")
    join_refresh(5)
    assert available_models() == (["fake-small", "fake-large"], "endpoint")
    assert listings(fake_openai) == 2  # the failed refresh is retried later, not on every read
    assert "llm model list unavailable, offering the endpoint list" in llm_log.text


@pytest.mark.django_db(transaction=True)
def test_it_waits_a_bounded_time_for_the_first_list(fake_openai, monkeypatch):
    monkeypatch.setattr(catalog, "FIRST_LIST_WAIT", 0.2)
    fake_openai.state.list_delay = 1.0
    started = time.monotonic()
    assert available_models() == (FALLBACK_MODELS, "fallback")
    assert time.monotonic() - started < 0.8
    join_refresh(5)  # a fetch went on in the background; its list is served from now on
    assert available_models() == (["fake-small", "fake-large"], "endpoint")
    assert listings(fake_openai) == 2  # the quick one that timed out, then the background one


@pytest.mark.django_db(transaction=True)
def test_a_page_does_not_wait_for_a_refresh(alice_client, fake_openai):
    assert alice_client.get("/ask/").status_code == 200
    age_the_list()
    fake_openai.state.list_delay = 1.0
    started = time.monotonic()
    assert b"fake-small" in alice_client.get("/ask/").content
    assert time.monotonic() - started < 0.8
    join_refresh(5)
