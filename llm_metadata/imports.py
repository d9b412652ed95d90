"""Import of conversation JSON exported by this app (one document or a list of them).

Everything is validated before anything is written, and all of it is written in one
transaction: a bad file saves nothing and the error names the first problems found.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import record, rollups
from .exports import SCHEMA, SCHEMA_VERSION
from .models import Conversation, Feedback, Message
from .record import Kind
from .text import without_nul

MAX_PROBLEMS = 10
# PositiveIntegerField's range on PostgreSQL (SQLite would take more): a file that imports here
# imports on either database.
MAX_INT = 2**31 - 1
# An endpoint's usage object nests two or three levels; far deeper is not usage data, and
# would make the checks and the save recurse too deep.
MAX_USAGE_DEPTH = 32
# The record's fields an import takes back (derived ones and the row id are recomputed).
IMPORTED = tuple(f for f in record.FIELDS if f.importable and f.derived is None)


class ImportFileError(ValueError):
    """The file cannot be imported; `problems` say where and why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        more = len(problems) - len(self.problems)
        super().__init__("; ".join(self.problems) + (f"; and {more} more" if more else ""))


class _Checker:
    """Collects problems with their JSON path instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, text: str) -> None:
        self.problems.append(f"{path}: {text}")

    def text(self, data: dict, key: str, path: str, limit: int | None = None) -> str:
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", f"expected text, got {type(value).__name__}")
            return ""
        value = without_nul(value)
        if limit and len(value) > limit:
            self.fail(f"{path}.{key}", f"longer than {limit} characters")
        return value

    def number(self, data: dict, key: str, path: str, integer: bool) -> float | int | None:
        value = data.get(key)
        if value is None:
            return None
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or (integer and not 0 <= value <= MAX_INT):
            kind = f"a whole number from 0 to {MAX_INT}" if integer else "a number"
            self.fail(f"{path}.{key}", f"expected {kind} or null, got {_short(value)}")
            return None
        if not integer and (abs(value) > sys.float_info.max or not math.isfinite(value)):
            self.fail(f"{path}.{key}", "expected a finite number")
            return None
        return value

    def moment(self, data: dict, key: str, path: str) -> Any:
        value = data.get(key)
        try:
            # parse_datetime raises ValueError for a well-formed impossible date (month 13);
            # an offset can push the first or last day out of datetime's range in UTC.
            parsed = parse_datetime(value) if isinstance(value, str) else None
            if parsed is not None:
                parsed = parsed.replace(tzinfo=parsed.tzinfo or dt.UTC).astimezone(dt.UTC)
        except (ValueError, OverflowError):
            parsed = None
        if parsed is None:
            self.fail(f"{path}.{key}", f"expected an ISO 8601 date-time, got {_short(value)}")
            return timezone.now()
        return parsed

    def choice(self, data: dict, key: str, path: str, choices: list[str], default: str) -> str:
        value = data.get(key, default)
        if value not in choices:
            self.fail(f"{path}.{key}", f"{value!r} is not one of {', '.join(choices)}")
            return default
        return value


def _short(value: Any) -> str:
    """repr() cut to a readable length (a 400-digit number is not worth quoting whole)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _depth(value: Any) -> int:
    """How many levels of lists and objects `value` nests (without recursion: any depth)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _message(check: _Checker, data: Any, path: str) -> tuple[dict, dict | None]:
    """A message's fields, each checked as its kind in the record says; and its feedback."""
    if not isinstance(data, dict):
        check.fail(path, "expected an object")
        return {}, None
    missing = [f.name for f in IMPORTED if f.required and f.name not in data]
    if missing:
        check.fail(path, f"a message needs {' and '.join(repr(name) for name in missing)}")
    fields: dict[str, Any] = {}
    feedback = None
    for f in IMPORTED:
        if f.kind is Kind.FEEDBACK:
            feedback = _feedback(check, data.get(f.name), f"{path}.{f.name}")
        elif f.name not in data and f.kind is not Kind.DATETIME:
            fields[f.name] = f.default()
        else:
            fields[f.name] = _CHECKS[f.kind](check, f, data, path)
    return fields, feedback


def _text(check: _Checker, f: record.Field, data: dict, path: str) -> str:
    return check.text(data, f.name, path, f.max_length)


def _choice(check: _Checker, f: record.Field, data: dict, path: str) -> str:
    return check.choice(data, f.name, path, list(f.choices), f.default())


def _integer(check: _Checker, f: record.Field, data: dict, path: str) -> int | None:
    return check.number(data, f.name, path, integer=True)


def _number(check: _Checker, f: record.Field, data: dict, path: str) -> float | None:
    return check.number(data, f.name, path, integer=False)


def _boolean(check: _Checker, f: record.Field, data: dict, path: str) -> bool:
    value = data.get(f.name)
    if value is None:
        return f.default()
    if not isinstance(value, bool):
        check.fail(f"{path}.{f.name}", f"expected true or false, got {_short(value)}")
        return f.default()
    return value


def _datetime(check: _Checker, f: record.Field, data: dict, path: str) -> Any:
    return check.moment(data, f.name, path)


def _decimal(check: _Checker, f: record.Field, data: dict, path: str) -> Decimal | None:
    value = data.get(f.name)
    if value is None:
        return None
    model_field = f.model_field
    places = model_field.decimal_places
    try:
        amount = Decimal(str(value)).quantize(Decimal(1).scaleb(-places))
        if not amount.is_finite() or abs(amount) >= 10 ** (model_field.max_digits - places):
            raise InvalidOperation
    except InvalidOperation:
        check.fail(f"{path}.{f.name}", f"expected a decimal amount or null, got {_short(value)}")
        return None
    return amount


def _json(check: _Checker, f: record.Field, data: dict, path: str) -> Any:
    value = data.get(f.name)
    if value is None:
        return None
    if not isinstance(value, dict | list):
        check.fail(f"{path}.{f.name}", "expected an object or null")
        return None
    if _depth(value) > MAX_USAGE_DEPTH:
        check.fail(f"{path}.{f.name}", f"nested more than {MAX_USAGE_DEPTH} levels deep")
        return None
    return without_nul(value)


_CHECKS = {
    Kind.TEXT: _text,
    Kind.CHOICE: _choice,
    Kind.INTEGER: _integer,
    Kind.NUMBER: _number,
    Kind.BOOLEAN: _boolean,
    Kind.DATETIME: _datetime,
    Kind.DECIMAL: _decimal,
    Kind.JSON: _json,
}


def _feedback(check: _Checker, feedback: Any, path: str) -> dict | None:
    if feedback is None:
        return None
    given = feedback.get("rating") if isinstance(feedback, dict) else None
    rating = Feedback.Rating.from_word(given)
    if rating is None:
        check.fail(path, "expected null or {'rating': 'up'|'down', 'comment'}")
        return None
    return {"rating": rating, "comment": check.text(feedback, "comment", path)}


def _document(check: _Checker, doc: Any, path: str) -> dict | None:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        check.fail(path, f'not an LLM Metadata conversation export (needs "schema": "{SCHEMA}")')
        return None
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        check.fail(f"{path}.version", f"expected a version number, got {version!r}")
        return None
    if version > SCHEMA_VERSION:
        check.fail(f"{path}.version", f"{version} is newer than this app reads ({SCHEMA_VERSION})")
        return None
    conv = doc.get("conversation")
    if not isinstance(conv, dict) or not isinstance(conv.get("messages"), list):
        check.fail(f"{path}.conversation", "expected an object with a 'messages' list")
        return None
    where = f"{path}.conversation"
    messages = [
        _message(check, m, f"{where}.messages[{i}]") for i, m in enumerate(conv["messages"])
    ]
    return {
        "title": check.text(conv, "title", where, 200),
        "system_prompt": check.text(conv, "system_prompt", where),
        "created": check.moment(conv, "created", where),
        "updated": check.moment(conv, "updated", where),
        "messages": messages,
        "parents": _parents(check, conv["messages"], messages, where),
    }


def _parents(check: _Checker, raw: list, messages: list[tuple[dict, Any]], where: str) -> list:
    """Each message's parent as an index into the document's messages (None: a first message).

    A file from before the tree (no message has `parent`) is one line: each message follows
    the one before. Otherwise `parent` must be the `id` of an earlier message of the file.
    """
    ids = [m.get("id") if isinstance(m, dict) else None for m in raw]
    if not any(isinstance(m, dict) and "parent" in m for m in raw):
        return [i - 1 if i else None for i in range(len(raw))]
    position: dict[Any, int] = {}
    parents: list[int | None] = []
    for i, (fields, _) in enumerate(messages):
        parent = fields.pop("parent", None)
        if parent is not None and parent not in position:
            check.fail(f"{where}.messages[{i}].parent", f"{parent} is not an earlier message's id")
        parents.append(position.get(parent) if parent is not None else None)
        if isinstance(ids[i], int) and not isinstance(ids[i], bool):
            position[ids[i]] = i
    return parents


def parse(raw: bytes) -> list[dict]:
    """Validated conversations of an export file; ImportFileError says what is wrong."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportFileError(["the file is not UTF-8 text"]) from None
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            [f"the file is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"]
        ) from None
    except RecursionError:
        raise ImportFileError(["the file's JSON is nested too many levels deep to read"]) from None
    documents = data if isinstance(data, list) else [data]
    if not documents:
        raise ImportFileError(["the file holds an empty list: no conversation to import"])
    check = _Checker()
    multiple = isinstance(data, list)
    parsed = [
        _document(check, d, f"[{i}]" if multiple else "file") for i, d in enumerate(documents)
    ]
    if check.problems:
        raise ImportFileError(check.problems)
    return [p for p in parsed if p is not None]


@transaction.atomic
def import_conversations(*, owner: AbstractBaseUser, raw: bytes) -> list[Conversation]:
    """Create the file's conversations (new ids) in owner's account, all or nothing."""
    created = []
    for doc in parse(raw):
        conversation = Conversation.objects.create(
            owner=owner,
            title=doc["title"],
            system_prompt=doc["system_prompt"],
            updated=doc["updated"],
        )
        Conversation.objects.filter(pk=conversation.pk).update(created=doc["created"])
        messages = [Message(conversation=conversation, **fields) for fields, _ in doc["messages"]]
        moments = [fields["created"] for fields, _ in doc["messages"]]
        Message.objects.bulk_create(messages)
        for message, moment, parent in zip(messages, moments, doc["parents"], strict=True):
            message.created = moment  # auto_now_add overwrote it on insert
            message.parent_id = None if parent is None else messages[parent].pk
        Message.objects.bulk_update(messages, ["created", "parent"], batch_size=500)
        rollups.mark_changed(moments)  # bulk writes send no signals
        Feedback.objects.bulk_create(
            Feedback(message=message, user=owner, **feedback)
            for message, (_, feedback) in zip(messages, doc["messages"], strict=True)
            if feedback
        )
        created.append(conversation)
    return created
