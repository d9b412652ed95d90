"""Serialising the record: one conversation (JSON, Markdown) and flat rows (CSV, JSON Lines).

The fields and their order come from `record.FIELDS`. Nothing here knows about HTTP: the views
and the admin action wrap these in responses (`downloads.py`). The JSON schema is documented
in docs/metadata.md; bump SCHEMA_VERSION on any change an importer of the previous version
could not read (a new field is not such a change: the importer takes its default).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from operator import itemgetter
from typing import Any

import orjson
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from . import record
from .db_routing import reporting_db
from .models import Conversation, Feedback, Message
from .record import Kind

SCHEMA = "llm-metadata/conversation"
SCHEMA_VERSION = 1
BATCH_SIZE = 2000
FEEDBACK_COLUMNS = ("feedback_rating", "feedback_comment")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- One conversation ------------------------------------------------------------------------


def _feedback_of(message: Message, owner_id: int) -> dict[str, str] | None:
    for item in message.feedback.all():
        if item.user_id == owner_id:
            return {"rating": Feedback.Rating.word_of(item.rating), "comment": item.comment}
    return None


def message_values(message: Message, owner_id: int) -> dict[str, Any]:
    """One message of the JSON document: every field, with the owner's feedback."""
    data = record.values(message, "json")
    data["feedback"] = _feedback_of(message, owner_id)
    return data


def _messages_of(conversation: Conversation, active_only: bool) -> QuerySet[Message]:
    messages = conversation.messages.prefetch_related("feedback").order_by("created", "id")
    return messages.filter(active=True) if active_only else messages


def conversation_dict(conversation: Conversation, active_only: bool = False) -> dict[str, Any]:
    """The versioned JSON document of one conversation with every message and measurement:
    the whole tree (each message's `parent` and `active`), or the active path only."""
    messages = _messages_of(conversation, active_only)
    owner_id = conversation.owner_id
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "exported_at": record.plain(timezone.now()),
        "conversation": {
            "id": str(conversation.pk),
            "title": conversation.title,
            "system_prompt": conversation.system_prompt,
            "created": record.plain(conversation.created),
            "updated": record.plain(conversation.updated),
            "messages": [message_values(m, owner_id) for m in messages],
        },
    }


def conversation_json(conversation: Conversation, active_only: bool = False) -> str:
    document = conversation_dict(conversation, active_only)
    return json.dumps(document, ensure_ascii=False, indent=2)


# The transcript shows these as the heading and body of each message, not in its metadata line.
_MARKDOWN_FRAME = frozenset({"role", "content", "created", "error"})


def _meta_line(message: Message) -> str:
    """Every other field of the record with a value, on one line (endpoint reports always)."""
    answer = message.role == Message.Role.ASSISTANT
    parts = []
    for f in record.fields_in("markdown"):
        if f.name in _MARKDOWN_FRAME or f.kind is Kind.FEEDBACK:
            continue
        value = f.value(message)
        if value in (None, "", False) and not (answer and f.origin is record.Origin.ENDPOINT):
            continue
        parts.append(f"{f.label.lower()} {record.display(f, value)}")
    return " · ".join(parts)


def conversation_markdown(conversation: Conversation, active_only: bool = True) -> str:
    """A readable transcript of the active path: each message under its role and time, then
    its metadata line (the other versions are in the JSON and flat exports)."""
    messages = _messages_of(conversation, active_only)
    out = [f"# {conversation.title or 'Untitled conversation'}", ""]
    out += [
        f"- Conversation: `{conversation.pk}`",
        f"- Created: {record.plain(conversation.created)}",
        f"- Updated: {record.plain(conversation.updated)}",
        "",
    ]
    if conversation.system_prompt:
        lines = conversation.system_prompt.split("\n")
        out += ["> System prompt:", *(f"> {line}" for line in lines), ""]
    for m in messages:
        out += [f"## {m.role.capitalize()} · {record.plain(m.created)}", "", m.content, ""]
        if m.error:
            out += [f"**Error:** {m.error}", ""]
        out += [f"*{_meta_line(m)}*", ""]
        feedback = _feedback_of(m, conversation.owner_id)
        if feedback:
            comment = f": {feedback['comment']}" if feedback["comment"] else ""
            out += [f"Feedback: thumbs {feedback['rating']}{comment}", ""]
    return "\n".join(out)


# --- Flat rows: CSV and JSON Lines -----------------------------------------------------------

# Each row starts with the message id and where it belongs; then the record's fields.
CONTEXT_COLUMNS = ("conversation_id", "conversation__title", "conversation__owner__username")
CONTEXT_HEADER = ("conversation_id", "conversation_title", "owner")
_STORED = tuple(f.name for f in record.FIELDS if f.derived is None and f.kind is not Kind.FEEDBACK)
# What one query reads per row (values_list), in this order.
QUERY_COLUMNS = ("id", *CONTEXT_COLUMNS, *(n for n in _STORED if n != "id"), *FEEDBACK_COLUMNS)


class RowPlan:
    """How a queried row becomes the cells of one flat output (`csv` or `jsonl`)."""

    def __init__(self, output: str) -> None:
        header: list[str] = []
        picks: list[int] = []
        self.derived: list[tuple[int, Any, tuple[int, ...]]] = []
        for name, column in (("id", "id"), *zip(CONTEXT_HEADER, CONTEXT_COLUMNS, strict=True)):
            header.append(name)
            picks.append(QUERY_COLUMNS.index(column))
        for f in record.fields_in(output):
            if f.name == "id":
                continue
            if f.kind is Kind.FEEDBACK:
                for column in FEEDBACK_COLUMNS:
                    header.append(column)
                    picks.append(QUERY_COLUMNS.index(column))
            elif f.derived is not None:
                inputs = tuple(QUERY_COLUMNS.index(name) for name in f.inputs)
                self.derived.append((len(header), f.derived, inputs))
                header.append(f.name)
            else:
                header.append(f.name)
                picks.append(QUERY_COLUMNS.index(f.name))
        self.header = tuple(header)
        self.pick = itemgetter(*picks)
        self.rating_at = self.header.index("feedback_rating")

    def cells(self, row: tuple) -> list[Any]:
        """The row's cells in header order: derived fields computed, the rating as a word."""
        cells = list(self.pick(row))
        for position, derive, inputs in self.derived:
            cells.insert(position, derive(*(row[i] for i in inputs)))
        cells[self.rating_at] = Feedback.Rating.word_of(cells[self.rating_at])
        return cells


CSV_PLAN = RowPlan("csv")
JSONL_PLAN = RowPlan("jsonl")
CSV_HEADER = CSV_PLAN.header
JSONL_KEYS = JSONL_PLAN.header


def export_rows(messages: QuerySet[Message]) -> QuerySet[Message]:
    """The messages with the owner's feedback joined in (FEEDBACK_COLUMNS)."""
    owner_vote = Feedback.objects.filter(
        message=OuterRef("pk"), user=OuterRef("conversation__owner")
    )
    return messages.annotate(
        feedback_rating=Subquery(owner_vote.values("rating")[:1]),
        feedback_comment=Subquery(owner_vote.values("comment")[:1]),
    )


def messages_for_export(
    *,
    owner: AbstractBaseUser | None,
    model: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    active_only: bool = False,
    source: str = "",
    api_key: str = "",
) -> QuerySet[Message]:
    """Messages of one owner (None: everyone), optionally by model, creation time, source
    (chat, api, …) and API key name, and only those on their conversation's active path; read
    from the reporting database (the replica, when one is set)."""
    messages = Message.objects.using(reporting_db())
    if active_only:
        messages = messages.filter(active=True)
    if owner is not None:
        messages = messages.filter(conversation__owner=owner)
    if model:
        messages = messages.filter(model_name=model)
    if source:
        messages = messages.filter(source=source)
    if api_key:
        messages = messages.filter(api_key_name=api_key)
    if since:
        messages = messages.filter(created__gte=since)
    if until:
        messages = messages.filter(created__lt=until)
    return messages


def iter_batches(messages: QuerySet[Message], batch_size: int = 0) -> Iterator[list[tuple]]:
    """Rows (QUERY_COLUMNS) in id order, one keyset query per batch: memory stays flat."""
    batch_size = batch_size or BATCH_SIZE
    rows = export_rows(messages).order_by("id").values_list(*QUERY_COLUMNS)
    last_id = 0
    while True:
        batch = list(rows.filter(id__gt=last_id)[:batch_size])
        if not batch:
            return
        yield batch
        if len(batch) < batch_size:
            return
        last_id = batch[-1][0]


def _cell(value: Any) -> Any:
    """CSV cell: JSON for usage, ISO dates, and text that a spreadsheet won't run as a formula."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.datetime):
        return record.plain(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_chunks(batches: Iterable[list[tuple]]) -> Iterator[str]:
    """CSV text, one chunk per batch, with a BOM so spreadsheets read it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    cells = CSV_PLAN.cells
    for batch in batches:
        writer.writerows([_cell(v) for v in cells(row)] for row in batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def row_dict(row: tuple) -> dict[str, Any]:
    """One JSON Lines object: id, conversation id, title and owner first, then the fields."""
    data = dict(zip(JSONL_KEYS, JSONL_PLAN.cells(row), strict=True))
    data["conversation_id"] = str(data["conversation_id"])
    data["feedback_rating"] = data["feedback_rating"] or None
    return data


def _orjson_default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def jsonl_chunks(batches: Iterable[list[tuple]]) -> Iterator[bytes]:
    """JSON Lines, one object per message, one chunk per batch."""
    option = orjson.OPT_NAIVE_UTC
    for batch in batches:
        yield b"".join(
            orjson.dumps(row_dict(row), default=_orjson_default, option=option) + b"\n"
            for row in batch
        )
