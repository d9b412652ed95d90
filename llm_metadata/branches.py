"""The message tree: versions of a message, the conversation's active path, switching versions.

A message's `parent` is the message it answers or follows (None for a conversation's first
question and that question's versions); a message's versions are its siblings, the children of
the same parent. `Message.active` marks the active path (what the pages show and what a turn
replays), so reading the path is one indexed filter, `path_messages`, with no walk at all; the
tree itself is walked in Python only when the path changes (`activate`: one query for the
conversation's (id, parent) skeleton, then two UPDATEs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from .models import Conversation, Message


def path_messages(conversation_id: Any) -> QuerySet[Message]:
    """The active path's messages oldest first, as a queryset (to slice, page or count)."""
    return Message.objects.filter(conversation_id=conversation_id, active=True).order_by(
        "created", "id"
    )


def active_path(conversation: Conversation) -> list[Message]:
    """A conversation's active path: the messages a reader sees and a turn replays, oldest
    first, without the versions that were switched away from (one query)."""
    return list(path_messages(conversation.pk))


def _skeleton(conversation_id: Any) -> list[tuple[int, int | None, str, str]]:
    """(id, parent_id, role, status) of every message of the conversation, oldest first."""
    rows = Message.objects.filter(conversation_id=conversation_id).order_by("created", "id")
    return list(rows.values_list("id", "parent_id", "role", "status"))


def lineage(message: Message) -> list[int]:
    """The ids from the conversation's first message down to `message` (itself last)."""
    parents = {pk: parent for pk, parent, _, _ in _skeleton(message.conversation_id)}
    ids = [message.pk]
    while (parent := parents.get(ids[-1])) is not None:
        ids.append(parent)
    return ids[::-1]


def _path_through(message_id: int, skeleton: list[tuple[int, int | None, str, str]]) -> list[int]:
    """Root → message, then on below it by the newest child at each step (an answer that failed
    only when no child answered)."""
    parents = {pk: parent for pk, parent, _, _ in skeleton}
    children: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    for pk, parent, role, status in skeleton:
        if parent is not None:
            failed = role == Message.Role.ASSISTANT and status != Message.Status.OK
            children[parent].append((pk, failed))
    path = [message_id]
    while (parent := parents.get(path[-1])) is not None:
        path.append(parent)
    path.reverse()
    while below := children.get(path[-1]):
        answered = [pk for pk, failed in below if not failed]
        path.append((answered or [pk for pk, _ in below])[-1])
    return path


def activate(message: Message) -> list[int]:
    """Make `message` a version on the active path (with its ancestors, and below it its newest
    continuation); every other message of the conversation leaves the path. The path's ids."""
    path = _path_through(message.pk, _skeleton(message.conversation_id))
    in_conversation = Message.objects.filter(conversation_id=message.conversation_id)
    with transaction.atomic():
        in_conversation.filter(active=True).exclude(pk__in=path).update(active=False)
        in_conversation.filter(pk__in=path, active=False).update(active=True)
    message.active = True
    return path


def attach_versions(messages: Iterable[Message], *, any_versions: bool = True) -> list[Message]:
    """The (active) messages, each with `versions`: its siblings and itself, oldest first, or
    [] when it has none; `version_number` is its place among them. One query for all the
    messages, none when the caller knows that the conversation has no versions
    (`any_versions=False`, from `Conversation.has_versions`); the other versions are full rows
    (the version table shows their metadata)."""
    rows = list(messages)
    if not any_versions:
        for message in rows:
            message.versions, message.version_number = [], 1
        return rows
    if not rows:
        return rows
    parents = {m.parent_id for m in rows if m.parent_id is not None}
    near = Q(parent_id__in=parents)
    if any(m.parent_id is None for m in rows):
        near |= Q(parent__isnull=True)
    others: dict[int | None, list[Message]] = defaultdict(list)
    for other in (
        Message.objects.filter(near, conversation_id=rows[0].conversation_id, active=False)
        .exclude(pk__in=[m.pk for m in rows])
        .order_by()  # sorted below: an ORDER BY would take the (conversation, created) index
    ):
        others[other.parent_id].append(other)
    for message in rows:
        siblings = others.get(message.parent_id)
        versions = sorted([message, *siblings], key=_order) if siblings else []
        message.versions = versions
        message.version_number = versions.index(message) + 1 if versions else 1
    return rows


def _order(message: Message) -> tuple:
    return (message.created, message.pk)


def version_rows(messages: Iterable[Message]) -> list[Message]:
    """Every version the messages carry (after `attach_versions`) that is not one of them."""
    shown = list(messages)
    pks = {m.pk for m in shown}
    return [v for m in shown for v in getattr(m, "versions", []) if v.pk not in pks]
