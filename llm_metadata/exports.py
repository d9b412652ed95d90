"""Exports of the record: one conversation (JSON, Markdown, CSV) and streams of many messages.

The JSON schema is documented in docs/metadata.md; bump SCHEMA_VERSION on any change that an
importer of the previous version could not read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from decimal import Decimal
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.contrib import admin
from django.contrib.auth.models import AbstractBaseUser
from django.core.handlers.asgi import ASGIRequest
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from .db_routing import reporting_db
from .models import Conversation, Feedback, Message

SCHEMA = "llm-metadata/conversation"
SCHEMA_VERSION = 1
BATCH_SIZE = 2000

# Every stored measurement of a message, in export order (JSON, JSON Lines and CSV alike).
MESSAGE_FIELDS = (
    "role",
    "content",
    "model_name",
    "temperature",
    "top_k",
    "top_p",
    "max_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "elapsed_time",
    "time_to_first_token",
    "status",
    "error",
    "finish_reason",
    "raw_usage",
    "history_truncated",
    "cost",
    "attachment_name",
    "attachment_text",
    "created",
)
SAMPLING = ("temperature", "top_k", "top_p", "max_tokens")
ROW_PREFIX = ("id", "conversation_id", "conversation__title", "conversation__owner__username")
ROW_COLUMNS = (*ROW_PREFIX, *MESSAGE_FIELDS, "feedback_rating", "feedback_comment")
CSV_HEADER = tuple(
    {"conversation__title": "conversation_title", "conversation__owner__username": "owner"}.get(
        name, name
    )
    for name in ROW_COLUMNS
    if name != "attachment_text"  # kept out of spreadsheets: often longer than a cell holds
)
JSONL_KEYS = ("id", "conversation_id", "conversation_title", "owner", *ROW_COLUMNS[4:])
_CSV_DROP = ROW_COLUMNS.index("attachment_text")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def _plain(value: Any) -> Any:
    """A JSON-ready value: datetimes as ISO 8601 UTC, prices as exact decimal strings."""
    if isinstance(value, dt.datetime):
        return _iso(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _feedback_of(message: Message, owner_id: int) -> dict[str, str] | None:
    for item in message.feedback.all():
        if item.user_id == owner_id:
            return {"rating": Feedback.Rating.word_of(item.rating), "comment": item.comment}
    return None


def message_dict(message: Message, owner_id: int) -> dict[str, Any]:
    data: dict[str, Any] = {"id": message.pk}
    data.update((name, _plain(getattr(message, name))) for name in MESSAGE_FIELDS)
    data["feedback"] = _feedback_of(message, owner_id)
    return data


def conversation_dict(conversation: Conversation) -> dict[str, Any]:
    """The versioned JSON document of one conversation with every message and measurement."""
    messages = conversation.messages.prefetch_related("feedback").order_by("created", "id")
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "exported_at": _iso(timezone.now()),
        "conversation": {
            "id": str(conversation.pk),
            "title": conversation.title,
            "system_prompt": conversation.system_prompt,
            "created": _iso(conversation.created),
            "updated": _iso(conversation.updated),
            "messages": [message_dict(m, conversation.owner_id) for m in messages],
        },
    }


def conversation_json(conversation: Conversation) -> str:
    return json.dumps(conversation_dict(conversation), ensure_ascii=False, indent=2)


def _meta_line(m: dict[str, Any]) -> str:
    """Model, parameters and measurements of one message, on one line."""
    parts = []
    if m["role"] == Message.Role.ASSISTANT:
        parts.append(f"model {m['model_name'] or '?'}")
        parts += [f"{key} {m[key]}" for key in SAMPLING if m[key] is not None]
        if m["total_tokens"] is not None or m["prompt_tokens"] is not None:
            parts.append(
                f"tokens {m['prompt_tokens']} prompt + {m['completion_tokens']} completion"
                f" = {m['total_tokens']}"
            )
        if m["elapsed_time"] is not None:
            parts.append(f"elapsed {m['elapsed_time']:.3f} s")
        if m["time_to_first_token"] is not None:
            parts.append(f"first token {m['time_to_first_token']:.3f} s")
        if m["cost"] is not None:
            parts.append(f"cost ${m['cost']}")
    if m["attachment_name"]:
        parts.append(f"attachment {m['attachment_name']}")
    if m["history_truncated"]:
        parts.append("history truncated")
    parts.append(f"status {m['status']}")
    return " · ".join(parts)


def conversation_markdown(conversation: Conversation) -> str:
    """A readable transcript with a metadata line under each message."""
    doc = conversation_dict(conversation)["conversation"]
    out = [f"# {doc['title'] or 'Untitled conversation'}", ""]
    out += [
        f"- Conversation: `{doc['id']}`",
        f"- Created: {doc['created']}",
        f"- Updated: {doc['updated']}",
        "",
    ]
    if doc["system_prompt"]:
        out += ["> System prompt:", *(f"> {line}" for line in doc["system_prompt"].split("\n")), ""]
    for m in doc["messages"]:
        out += [f"## {m['role'].capitalize()} · {m['created']}", "", m["content"], ""]
        if m["error"]:
            out += [f"**Error:** {m['error']}", ""]
        out += [f"*{_meta_line(m)}*", ""]
    return "\n".join(out)


def export_rows(messages: QuerySet[Message]) -> QuerySet[Message]:
    """The flat row of each message (ROW_COLUMNS), with the owner's feedback joined in."""
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
) -> QuerySet[Message]:
    """Messages of one owner (None: everyone), optionally by model and creation time, read
    from the reporting database (the replica, when one is set)."""
    messages = Message.objects.using(reporting_db())
    if owner is not None:
        messages = messages.filter(conversation__owner=owner)
    if model:
        messages = messages.filter(model_name=model)
    if since:
        messages = messages.filter(created__gte=since)
    if until:
        messages = messages.filter(created__lt=until)
    return messages


def iter_batches(messages: QuerySet[Message], batch_size: int = 0) -> Iterator[list[tuple]]:
    """Rows in id order, one keyset query per batch: memory stays flat however many rows."""
    batch_size = batch_size or BATCH_SIZE
    rows = export_rows(messages).order_by("id").values_list(*ROW_COLUMNS)
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
        return _iso(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_chunks(batches: Iterable[list[tuple]]) -> Iterator[str]:
    """CSV text, one chunk per batch, with a BOM so spreadsheets read it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    for batch in batches:
        for row in batch:
            cells = [_cell(v) for i, v in enumerate(row) if i != _CSV_DROP]
            cells[-2] = Feedback.Rating.word_of(row[-2])
            writer.writerow(cells)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def row_dict(row: tuple) -> dict[str, Any]:
    """One JSON Lines object: ids, conversation title and owner first, then the fields."""
    data = dict(zip(JSONL_KEYS, row, strict=True))
    data["conversation_id"] = str(data["conversation_id"])
    data["feedback_rating"] = Feedback.Rating.word_of(data["feedback_rating"]) or None
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


def attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def streaming_response(request: HttpRequest, chunks: Iterator, filename: str) -> HttpResponse:
    """A download streamed batch by batch; under ASGI each batch is pulled in a worker thread,
    since Django would otherwise collect a synchronous iterator whole before sending it."""
    content_type = CONTENT_TYPES[filename.rsplit(".", 1)[-1]]
    body = _pull(chunks) if isinstance(request, ASGIRequest) else chunks
    return attachment(StreamingHttpResponse(body, content_type=content_type), filename)


async def _pull(chunks: Iterator) -> AsyncIterator:
    done = object()
    while (chunk := await sync_to_async(next)(chunks, done)) is not done:
        yield chunk


@admin.action(description="Export selected as CSV")
def export_selected_as_csv(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Message]
) -> HttpResponse:
    return streaming_response(request, csv_chunks(iter_batches(queryset)), "messages.csv")
