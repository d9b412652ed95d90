"""Read queries of the history pages: a user's conversations (filtered, grouped) and one thread.

Every function takes the owner and reaches rows only through `Conversation.objects.for_user`,
and runs a fixed number of queries whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from . import branches
from .models import Conversation, Feedback, Message

User = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True)
class HistoryFilters:
    """What the history page is narrowed to; dates are days in the current time zone."""

    query: str = ""
    model: str = ""
    source: str = ""  # chat, api, …: conversations with a message that came in this way
    api_key: str = ""  # conversations with a message sent with the API key of this name
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass
class DayGroup:
    """The conversations of one local day, under a heading such as "Today"."""

    day: dt.date
    heading: str
    conversations: list[Conversation] = field(default_factory=list)


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def conversations_for(user: User, filters: HistoryFilters) -> QuerySet[Conversation]:
    """The user's conversations matching `filters`, newest activity first.

    No per-row aggregate here: counting every conversation's messages before the page is cut
    made the first page of a 10,000-conversation history take 0.3 s; `attach_model_names`
    counts the page's rows only.
    """
    conversations = Conversation.objects.for_user(user)
    if filters.query:
        # One pass over the messages (IN), not a correlated EXISTS per conversation, which
        # PostgreSQL ran as a subplan per row under the OR (0.6 s at 200,000 messages).
        in_messages = Message.objects.filter(content__icontains=filters.query).values(
            "conversation_id"
        )
        conversations = conversations.filter(
            Q(title__icontains=filters.query) | Q(pk__in=in_messages)
        )
    if filters.model:
        used = Message.objects.filter(conversation=OuterRef("pk"), model_name=filters.model)
        conversations = conversations.filter(Exists(used))
    if filters.source:
        came = Message.objects.filter(conversation=OuterRef("pk"), source=filters.source)
        conversations = conversations.filter(Exists(came))
    if filters.api_key:
        keyed = Message.objects.filter(conversation=OuterRef("pk"), api_key_name=filters.api_key)
        conversations = conversations.filter(Exists(keyed))
    if filters.start:
        conversations = conversations.filter(updated__gte=_local_midnight(filters.start))
    if filters.end:
        end = _local_midnight(filters.end + dt.timedelta(days=1))
        conversations = conversations.filter(updated__lt=end)
    return conversations.order_by("-updated", "-pk")


def attach_model_names(conversations: Iterable[Conversation]) -> None:
    """Set `model_names` (sorted) and `message_count` on each, in one query for all of them."""
    rows = list(conversations)
    used: dict[Any, set[str]] = defaultdict(set)
    counts: dict[Any, int] = defaultdict(int)
    groups = (
        Message.objects.filter(conversation_id__in=[c.pk for c in rows])
        .values_list("conversation_id", "model_name")
        .annotate(n=Count("id"))
        .order_by()
    )
    for conversation_id, name, n in groups:
        counts[conversation_id] += n
        if name:
            used[conversation_id].add(name)
    for conversation in rows:
        conversation.model_names = sorted(used[conversation.pk])
        conversation.message_count = counts[conversation.pk]


# The few distinct model names are walked through the (model_name, created) index one jump
# at a time (a "loose index scan"), then each is kept if one of the user's messages used it:
# a plain DISTINCT over the user's messages read all of them (0.1 s at 200,000 messages).
# The check is a LIMIT 1 subquery, not EXISTS, which PostgreSQL would turn into one hash join
# over every message (0.15 s).
_MODELS_USED_SQL = """
WITH RECURSIVE names(name) AS (
    SELECT MIN(model_name) FROM {message} WHERE model_name > ''
    UNION ALL
    SELECT (SELECT MIN(model_name) FROM {message} WHERE model_name > names.name)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names
WHERE name IS NOT NULL AND (
    SELECT 1 FROM {message} m INNER JOIN {conversation} c ON c.id = m.conversation_id
    WHERE m.model_name = names.name AND c.owner_id = %s LIMIT 1
) IS NOT NULL
ORDER BY name
"""


def models_used_by(user: User) -> list[str]:
    """Every model name found in the user's messages, for the history filter."""
    if not getattr(user, "is_authenticated", False):
        return []
    sql = _MODELS_USED_SQL.format(
        message=connection.ops.quote_name(Message._meta.db_table),
        conversation=connection.ops.quote_name(Conversation._meta.db_table),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk])
        return [name for (name,) in cursor.fetchall()]


def day_heading(day: dt.date, today: dt.date) -> str:
    if day == today:
        return "Today"
    if day == today - dt.timedelta(days=1):
        return "Yesterday"
    if day.year == today.year:
        return date_format(day, "l j F")
    return date_format(day, "l j F Y")


def group_by_day(conversations: Iterable[Conversation]) -> list[DayGroup]:
    """Consecutive conversations grouped by the local day of their last activity."""
    today = timezone.localdate()
    groups: list[DayGroup] = []
    for conversation in conversations:
        day = timezone.localdate(conversation.updated)
        if not groups or groups[-1].day != day:
            groups.append(DayGroup(day=day, heading=day_heading(day, today)))
        groups[-1].conversations.append(conversation)
    return groups


def conversation_to_show(user: User) -> QuerySet[Conversation]:
    """The user's conversations as the conversation page reads one, in one query: with
    `has_versions`, its comparison column (the page's note) and its share link (the share box;
    not the snapshot's messages)."""
    return (
        Conversation.objects.for_user(user)
        .with_versions_flag()
        .select_related("comparison_column", "share_link")
        .defer("share_link__messages")
    )


def conversation_messages(conversation: Conversation) -> QuerySet[Message]:
    """A conversation's active path in order (`branches`); `thread` completes a page of it.

    Not `conversation.messages`, which sets the conversation on each row it reads (0.2 ms a
    page of 50); nothing that shows a message reads its conversation.
    """
    return branches.path_messages(conversation.pk)


def with_viewer_feedback(messages: Iterable[Message], user: User) -> list[Message]:
    """The messages, each with `viewer_feedback`: the user's own Feedback on it, or None.

    One query; cheaper than prefetch_related, which builds a queryset for every message.
    """
    rows = list(messages)
    found = {
        feedback.message_id: feedback
        for feedback in Feedback.objects.filter(
            user_id=getattr(user, "pk", None),
            message_id__in=[m.pk for m in rows if m.role == Message.Role.ASSISTANT],
        )
    }
    for message in rows:
        message.viewer_feedback = found.get(message.pk)
    return rows


def thread(messages: Iterable[Message], user: User, conversation: Conversation) -> list[Message]:
    """Active-path messages ready to show: each with its versions and the user's feedback on
    them and on every version (two queries, whatever the number of messages; one when the
    conversation was read with `has_versions` and has none)."""
    any_versions = getattr(conversation, "has_versions", True)
    rows = branches.attach_versions(messages, any_versions=any_versions)
    with_viewer_feedback([*rows, *branches.version_rows(rows)], user)
    return rows


def latest_messages(
    conversation: Conversation, user: User, limit: int
) -> tuple[list[Message], bool]:
    """The newest `limit` messages of the active path in order, with their versions and the
    user's feedback, and whether older ones exist."""
    rows = list(conversation_messages(conversation).reverse()[: limit + 1])
    return thread(rows[:limit][::-1], user, conversation), len(rows) > limit
