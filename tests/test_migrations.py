"""Data migrations: what they do to rows already stored."""

from __future__ import annotations

import importlib

from django.apps import apps
from django.contrib.auth.models import User

from llm_metadata import branches
from llm_metadata.models import Message
from tests.factories import make_conversation, make_turn

status_without_pending = importlib.import_module(
    "llm_metadata.migrations.0003_message_status_without_pending"
)


def test_it_turns_an_answer_left_pending_into_an_error(alice: User) -> None:
    _, bare = make_turn(make_conversation(alice))
    _, explained = make_turn(make_conversation(alice), error="cut off")
    _, done = make_turn(make_conversation(alice))
    Message.objects.filter(pk__in=[bare.pk, explained.pk]).update(status="pending")
    status_without_pending.settle_pending(apps, None)
    rows = Message.objects.in_bulk([bare.pk, explained.pk, done.pk])
    assert (rows[bare.pk].status, rows[bare.pk].error) == (
        "error",
        status_without_pending.NEVER_FINISHED,
    )
    assert (rows[explained.pk].status, rows[explained.pk].error) == ("error", "cut off")
    assert (rows[done.pk].status, rows[done.pk].error) == ("ok", "")
    assert Message.Status.values == ["ok", "error", "cancelled"]


def test_the_migration_links_each_stored_message_to_the_one_before(alice: User) -> None:
    tree = importlib.import_module("llm_metadata.migrations.0011_message_tree")
    one, other = make_conversation(alice), make_conversation(alice)
    rows = [*make_turn(one, "a", "b"), *make_turn(other, "c", "d"), *make_turn(one, "e", "f")]
    Message.objects.update(parent=None)
    tree.link_to_previous(apps, None)
    parents = dict(Message.objects.values_list("content", "parent__content"))
    assert parents == {"a": None, "b": "a", "e": "b", "f": "e", "c": None, "d": "c"}
    assert all(m.active for m in Message.objects.filter(pk__in=[r.pk for r in rows]))
    assert [m.content for m in branches.active_path(one)] == [
        "a",
        "b",
        "e",
        "f",
    ]
