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

from . import rollups
from .exports import SCHEMA, SCHEMA_VERSION
from .models import Conversation, Feedback, Message
from .text import without_nul

MAX_PROBLEMS = 10
_TEXT = {
    "content": None,
    "model_name": 200,
    "error": None,
    "finish_reason": 32,
    "attachment_name": 255,
    "attachment_text": None,
}
_FLOATS = ("temperature", "top_p", "elapsed_time", "time_to_first_token")
_INTS = ("top_k", "max_tokens", "prompt_tokens", "completion_tokens", "total_tokens")
# PositiveIntegerField's range on PostgreSQL (SQLite would take more): a file that imports here
# imports on either database.
MAX_INT = 2**31 - 1
# An endpoint's usage object nests two or three levels; far deeper is not usage data, and
# would make the checks and the save recurse too deep.
MAX_USAGE_DEPTH = 32


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
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            self.fail(f"{path}.{key}", f"expected an ISO 8601 date-time, got {value!r}")
            return timezone.now()
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, dt.UTC)

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
    if not isinstance(data, dict):
        check.fail(path, "expected an object")
        return {}, None
    if "content" not in data or "role" not in data:
        check.fail(path, "a message needs 'role' and 'content'")
    fields: dict[str, Any] = {
        "role": check.choice(data, "role", path, Message.Role.values, Message.Role.USER),
        "status": check.choice(data, "status", path, Message.Status.values, Message.Status.OK),
        "created": check.moment(data, "created", path),
        "history_truncated": data.get("history_truncated", False) is True,
        "raw_usage": data.get("raw_usage"),
    }
    fields.update((key, check.text(data, key, path, limit)) for key, limit in _TEXT.items())
    fields.update((key, check.number(data, key, path, integer=False)) for key in _FLOATS)
    fields.update((key, check.number(data, key, path, integer=True)) for key in _INTS)
    if fields["raw_usage"] is not None and not isinstance(fields["raw_usage"], dict | list):
        check.fail(f"{path}.raw_usage", "expected an object or null")
        fields["raw_usage"] = None
    elif _depth(fields["raw_usage"]) > MAX_USAGE_DEPTH:
        check.fail(f"{path}.raw_usage", f"nested more than {MAX_USAGE_DEPTH} levels deep")
        fields["raw_usage"] = None
    fields["raw_usage"] = without_nul(fields["raw_usage"])
    fields["cost"] = None
    if data.get("cost") is not None:
        try:
            fields["cost"] = Decimal(str(data["cost"])).quantize(Decimal("1e-8"))
            if not fields["cost"].is_finite() or abs(fields["cost"]) >= 10**6:
                raise InvalidOperation
        except InvalidOperation:
            check.fail(f"{path}.cost", f"expected a decimal amount or null, got {data['cost']!r}")
            fields["cost"] = None
    feedback = data.get("feedback")
    if feedback is not None:
        given = feedback.get("rating") if isinstance(feedback, dict) else None
        rating = Feedback.Rating.from_word(given)
        if rating is None:
            check.fail(f"{path}.feedback", "expected null or {'rating': 'up'|'down', 'comment'}")
            feedback = None
        else:
            feedback = {
                "rating": rating,
                "comment": check.text(feedback, "comment", path),
            }
    return fields, feedback


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
    return {
        "title": check.text(conv, "title", where, 200),
        "system_prompt": check.text(conv, "system_prompt", where),
        "created": check.moment(conv, "created", where),
        "updated": check.moment(conv, "updated", where),
        "messages": [
            _message(check, m, f"{where}.messages[{i}]") for i, m in enumerate(conv["messages"])
        ],
    }


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
        for message, moment in zip(messages, moments, strict=True):
            message.created = moment  # auto_now_add overwrote it on insert
        Message.objects.bulk_update(messages, ["created"], batch_size=500)
        rollups.mark_changed(moments)  # bulk writes send no signals
        Feedback.objects.bulk_create(
            Feedback(message=message, user=owner, **feedback)
            for message, (_, feedback) in zip(messages, doc["messages"], strict=True)
            if feedback
        )
        created.append(conversation)
    return created
