"""Admin message search: every word must match the content or the owner's username or e-mail."""

from __future__ import annotations

from django.urls import reverse

from tests.factories import make_conversation, make_turn

URL = reverse("admin:llm_metadata_message_changelist")


def _found(admin_client, query: str) -> set[str]:
    response = admin_client.get(URL, {"q": query})
    assert response.status_code == 200
    return {m.content for m in response.context["cl"].result_list}


def test_it_finds_messages_by_content(admin_client, alice, bob):
    make_turn(make_conversation(alice), "Why is the sky blue?", "Rayleigh scattering.")
    make_turn(make_conversation(bob), "Bake bread?", "Knead it.")
    assert _found(admin_client, "SCATTERING") == {"Rayleigh scattering."}


def test_it_finds_messages_by_owner_username_and_email(admin_client, alice, bob):
    make_turn(make_conversation(alice), "Alice asks", "Alice hears")
    make_turn(make_conversation(bob), "Bob asks", "Bob hears")
    assert _found(admin_client, "alice") == {"Alice asks", "Alice hears"}
    assert _found(admin_client, "bob@example") == {"Bob asks", "Bob hears"}


def test_it_requires_every_word_and_reads_quoted_phrases(admin_client, alice, bob):
    make_turn(make_conversation(alice), "blue sky today", "grey sky tomorrow")
    make_turn(make_conversation(bob), "blue sea", "sky high")
    assert _found(admin_client, "blue sky") == {"blue sky today"}
    assert _found(admin_client, '"sky today"') == {"blue sky today"}
    assert _found(admin_client, "bob sky") == {"sky high"}


def test_it_offers_date_filters_instead_of_a_date_hierarchy(admin_client, alice):
    make_turn(make_conversation(alice))
    response = admin_client.get(URL)
    assert response.context["cl"].date_hierarchy is None
    assert "By created" in response.content.decode()
