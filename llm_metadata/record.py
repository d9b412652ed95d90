"""The message record: one definition of every field a message carries outside the database.

`FIELDS` drives the JSON, JSON Lines, CSV and Markdown exports, the import's validation, the
chat stream's final event, the detail page's metadata list and the field table of
docs/metadata.md. A field's type, length and choices come from the `Message` model itself;
here it gets its meaning, its origin (where its value comes from) and the outputs it is left
out of, each with the reason. `tests/test_record.py` walks this definition through every
output and an export → import round trip, and fails for a `Message` column that is in neither
`FIELDS` nor `INTERNAL`: adding a field is one edit here.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import orjson
from django.db import models
from django.utils import timezone

from .metrics import tokens_per_second
from .models import Message


class Kind(enum.StrEnum):
    """A field's value type, outside the database."""

    TEXT = "text"
    CHOICE = "choice"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DECIMAL = "decimal"
    JSON = "json"
    FEEDBACK = "feedback"


class Origin(enum.StrEnum):
    """Where a field's value comes from."""

    USER = "user"
    ENDPOINT = "endpoint report"
    MEASURED = "our measurement"
    APP = "app"
    USER_OR_ENDPOINT = "user (question) / endpoint (answer)"


# The outputs a field appears in unless it says otherwise.
OUTPUTS = ("json", "jsonl", "csv", "markdown", "stream", "page", "share")

# The owner's choices that a field of a share snapshot (output "share") can be shown under:
# "always" (every snapshot has it), "model" (model and parameters), "usage" (tokens, timings
# and cost), "attachments" (the files' names) and "feedback" (the owner's ratings).
SHARE_PARTS = ("always", "model", "usage", "attachments", "feedback")


@dataclass(frozen=True)
class Field:
    """One field of the record: its name (the `Message` attribute), meaning and origin.

    `derived` fields are computed from `inputs` (other fields) on the way out and never
    imported; `importable=False` fields are exported but not taken back (the row id);
    `import_default` is what an import gives a field a file leaves out (else the model's).
    `left_out` maps an output of OUTPUTS to why the field is not in it. `share` is the choice
    of SHARE_PARTS under which a share snapshot carries the field; a field without one must be
    left out of "share" (a snapshot copies only the fields that name their choice).
    """

    name: str
    label: str
    meaning: str
    origin: Origin
    unit: str = ""
    required: bool = False
    importable: bool = True
    import_default: Any = None
    derived: Callable[..., Any] | None = None
    inputs: tuple[str, ...] = ()
    left_out: dict[str, str] = field(default_factory=dict)
    share: str = ""

    @cached_property
    def model_field(self) -> models.Field | None:
        if self.derived is not None or self.kind is Kind.FEEDBACK:
            return None
        return Message._meta.get_field(self.name)

    @cached_property
    def kind(self) -> Kind:
        if self.name == "feedback":
            return Kind.FEEDBACK
        if self.derived is not None:
            return Kind.NUMBER
        return _kind_of(Message._meta.get_field(self.name))

    @cached_property
    def nullable(self) -> bool:
        model_field = self.model_field
        return self.derived is not None or self.kind is Kind.FEEDBACK or bool(model_field.null)

    @cached_property
    def max_length(self) -> int | None:
        return getattr(self.model_field, "max_length", None) if self.kind is Kind.TEXT else None

    @cached_property
    def choices(self) -> tuple[str, ...]:
        model_field = self.model_field
        return (
            tuple(value for value, _ in model_field.choices)
            if model_field and model_field.choices
            else ()
        )

    def default(self) -> Any:
        """The value an import gives the field when a document leaves it out."""
        if self.import_default is not None:
            return self.import_default
        model_field = self.model_field
        return None if model_field is None else model_field.get_default()

    def is_in(self, output: str) -> bool:
        return output not in self.left_out

    def value(self, message: Message) -> Any:
        """The field's Python value for one message (derived fields computed)."""
        if self.derived is not None:
            return self.derived(*(getattr(message, name) for name in self.inputs))
        model_field = self.model_field
        return getattr(message, model_field.attname if model_field else self.name)


def _kind_of(model_field: models.Field) -> Kind:
    if isinstance(model_field, models.ForeignKey):  # `parent`: the row id it points at
        return Kind.INTEGER
    if model_field.choices:
        return Kind.CHOICE
    if isinstance(model_field, models.BooleanField):
        return Kind.BOOLEAN
    if isinstance(model_field, models.IntegerField | models.AutoField):
        return Kind.INTEGER
    if isinstance(model_field, models.FloatField):
        return Kind.NUMBER
    if isinstance(model_field, models.DecimalField):
        return Kind.DECIMAL
    if isinstance(model_field, models.DateTimeField):
        return Kind.DATETIME
    if isinstance(model_field, models.JSONField):
        return Kind.JSON
    if isinstance(model_field, models.CharField | models.TextField):
        return Kind.TEXT
    raise TypeError(f"Message.{model_field.name}: no record kind for {type(model_field).__name__}")


ATTACHMENT_TEXT_OUT = "often longer than a spreadsheet cell holds; it is in the JSON exports"

FIELDS: tuple[Field, ...] = (
    Field(
        "id",
        "Id",
        "row id in this database (not kept by an import)",
        Origin.APP,
        importable=False,
        left_out={
            "markdown": "the transcript needs no row ids",
            "page": "in the page's anchor",
            "share": "a row id of the owner's data; a snapshot numbers nothing",
        },
    ),
    Field(
        "role",
        "Role",
        "who wrote the message: `user`, `assistant`, `system` or `tool` (a tool's result, sent "
        "in an API call)",
        Origin.APP,
        required=True,
        left_out={"stream": "the final event is always the answer's"},
        share="always",
    ),
    Field(
        "source",
        "Source",
        "which way the message came in: `chat` (the chat page), `api` (the recording gateway), "
        "`compare` (a side-by-side comparison) or `import` (a file); an import keeps the "
        "file's value, and files without one import as `import`",
        Origin.APP,
        import_default="import",
        left_out={"share": "how the owner uses the app is not the reader's business"},
    ),
    Field(
        "content",
        "Content",
        "the question as typed, or the answer text as streamed by the endpoint (what arrived "
        "before a failure or a stop, for `error`/`cancelled`)",
        Origin.USER_OR_ENDPOINT,
        required=True,
        left_out={
            "stream": "sent as the stream's deltas and rendered in its html",
            "page": "shown as the message itself",
        },
        share="always",
    ),
    Field(
        "model_name",
        "Model",
        "model the question was sent to (the id at the endpoint)",
        Origin.USER,
        share="model",
    ),
    Field(
        "temperature",
        "Temperature",
        "sampling temperature sent with the call (also stored on the question)",
        Origin.USER,
        share="model",
    ),
    Field(
        "top_k", "Top K", "top-k sampling parameter sent with the call", Origin.USER, share="model"
    ),
    Field(
        "top_p",
        "Top P",
        "nucleus sampling parameter sent with the call",
        Origin.USER,
        share="model",
    ),
    Field(
        "max_tokens",
        "Max tokens",
        "the most tokens the answer may have",
        Origin.USER,
        share="model",
    ),
    Field(
        "prompt_tokens",
        "Prompt tokens",
        "tokens of the input the model read: OpenAI `usage.prompt_tokens`, Ollama "
        "`prompt_eval_count`; null when the endpoint reported none (never estimated)",
        Origin.ENDPOINT,
        share="usage",
    ),
    Field(
        "completion_tokens",
        "Completion tokens",
        "tokens generated: OpenAI `usage.completion_tokens`, Ollama `eval_count`",
        Origin.ENDPOINT,
        share="usage",
    ),
    Field(
        "total_tokens",
        "Total tokens",
        "OpenAI `usage.total_tokens`; for Ollama the sum of the two above",
        Origin.ENDPOINT,
        share="usage",
    ),
    Field(
        "elapsed_time",
        "Elapsed",
        "wall time from sending the request to the last byte of the answer (monotonic clock, "
        "includes network and queueing)",
        Origin.MEASURED,
        unit="s",
        share="usage",
    ),
    Field(
        "time_to_first_token",
        "First token",
        "wall time from sending the request to the first non-empty text delta; null when no "
        "text arrived",
        Origin.MEASURED,
        unit="s",
        share="usage",
    ),
    Field(
        "tokens_per_second",
        "Tokens per second",
        "`completion_tokens / (elapsed_time - time_to_first_token)`: generation speed after the "
        "first token (`elapsed_time` alone when the difference is not positive); null when "
        "either is unknown. Computed on the way out, never imported",
        Origin.APP,
        unit="tokens/s",
        derived=tokens_per_second,
        inputs=("completion_tokens", "elapsed_time", "time_to_first_token"),
        share="usage",
    ),
    Field(
        "status",
        "Status",
        "how the call ended: `ok`; `error` = refused, timed out, HTTP error, malformed or "
        "cut-off answer; `cancelled` = the user pressed Stop or went away",
        Origin.MEASURED,
        share="always",
    ),
    Field(
        "error",
        "Error",
        "the user-facing error message of an `error`",
        Origin.APP,
        left_out={"share": "it can name the app's endpoint; the status says the call failed"},
    ),
    Field(
        "finish_reason",
        "Finish reason",
        "why generation stopped: OpenAI `finish_reason` (`stop`, `length`, …), Ollama "
        "`done_reason`",
        Origin.ENDPOINT,
        share="model",
    ),
    Field(
        "raw_usage",
        "Raw usage",
        "the endpoint's usage object verbatim (OpenAI `usage`; Ollama's counters and "
        "`*_duration` fields in nanoseconds)",
        Origin.ENDPOINT,
        left_out={"share": "the endpoint's own object, with ids; the token counts are shared"},
    ),
    Field(
        "history_truncated",
        "History cut",
        "earlier messages or a file's text were left out so the prompt fitted the model's "
        "context length",
        Origin.APP,
        share="model",
    ),
    Field(
        "cost",
        "Cost",
        "`(prompt_tokens * input price + completion_tokens * output price) / 1,000,000`, with "
        "the prices per million tokens of the model's profile (admin → Model profiles) **at the "
        "time the answer was saved**; a later price change does not rewrite it. Null (not zero) "
        "when a price or a token count is unknown",
        Origin.APP,
        unit="$",
        share="usage",
    ),
    Field(
        "request_params",
        "Request parameters",
        "API calls: the call's whole JSON body except `messages`, as the client sent it "
        "(`stop`, `seed`, `response_format`, `tools`, `n`, `stream_options`, …); null for chat",
        Origin.USER,
        left_out={
            "share": "a script's whole request (tools, formats, ids) stays the owner's; the "
            "model and sampling parameters are shared under `model`"
        },
    ),
    Field(
        "api_key_name",
        "API key",
        "API calls: the name of the personal key the call was made with (never the key)",
        Origin.APP,
        left_out={"share": "how the owner's scripts reach the app is not the reader's business"},
    ),
    Field(
        "message_extra",
        "Message extras",
        "API calls: the OpenAI message's keys beyond `role` and `content` (`tool_calls`, "
        "`tool_call_id`, `name`; content parts that are not text), and an answer's `tool_calls`",
        Origin.USER_OR_ENDPOINT,
        left_out={"share": "tool calls and their ids and arguments stay the owner's"},
    ),
    Field(
        "attachment_name",
        "Attachment",
        "file name the user attached to the question",
        Origin.USER,
        left_out={"page": "shown with its download link above"},
        share="attachments",
    ),
    Field(
        "attachment_text",
        "Attachment text",
        "text extracted by the app from the attachment (PDF, DOCX, text), as sent to the model; "
        "at most `MAX_FILE_TEXT_CHARS` characters, a longer file cut with a closing "
        "`[Cut here: …]` note",
        Origin.APP,
        left_out={
            "csv": ATTACHMENT_TEXT_OUT,
            "markdown": "the transcript names the file; its text is in the JSON export",
            "stream": "the final event is the answer's, and files belong to questions",
            "page": "too long to list; in the JSON export and the JSON viewer",
            "share": "the file's contents stay the owner's; its name can be shown",
        },
    ),
    Field(
        "parent",
        "Parent",
        "the `id` of the message this one follows in the conversation's tree (null for the "
        "first question and its versions); the versions of a message share its parent. An "
        "import links the file's messages by these ids and gives them new ones",
        Origin.APP,
        left_out={
            "markdown": "the transcript is the active path, read in order",
            "page": "shown as the version switcher",
            "share": "a shared snapshot is the active path alone, in order",
        },
    ),
    Field(
        "active",
        "Active",
        "on the conversation's active path: the version shown and replayed to the model (a "
        "version switched away from, or a failed or stopped regeneration, is not)",
        Origin.APP,
        left_out={
            "markdown": "the transcript is the active path, read in order",
            "page": "the page shows the active path; other versions in its switcher",
            "share": "a shared snapshot is the active path alone",
        },
    ),
    Field(
        "created",
        "Time",
        "when the row was saved (server clock), ISO 8601 UTC",
        Origin.APP,
        share="usage",
    ),
    Field(
        "feedback",
        "Feedback",
        'the conversation owner\'s rating `{"rating": "up"|"down", "comment": "…"}`; flat '
        "outputs carry it as `feedback_rating` and `feedback_comment`",
        Origin.USER,
        left_out={
            "stream": "a new answer has none yet",
            "page": "shown as the thumbs and comment under the answer",
        },
        share="feedback",
    ),
)

# Message columns that are not part of the record, and why.
INTERNAL: dict[str, str] = {
    "conversation": "the document or row carries its conversation",
    "attachment": "the stored file's path; files are not exported (name and text are)",
    "content_html": "the answer's markdown rendered and sanitised once, derived from content",
    "content_html_version": "the renderer version content_html was made with",
}

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}


def fields_in(output: str) -> tuple[Field, ...]:
    """The fields an output carries, in record order."""
    return tuple(f for f in FIELDS if f.is_in(output))


def plain(value: Any) -> Any:
    """A JSON-ready value: datetimes as ISO 8601 UTC, amounts as exact decimal strings."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def values(message: Message, output: str) -> dict[str, Any]:
    """The JSON-ready fields of one message that `output` carries, feedback aside."""
    return {
        f.name: plain(f.value(message)) for f in fields_in(output) if f.kind is not Kind.FEEDBACK
    }


def display(f: Field, value: Any) -> str:
    """A value as a reader sees it (page, Markdown transcript): "—" for none, dates local."""
    if value is None or value == "":
        return "not reported" if f.origin is Origin.ENDPOINT else "—"
    if f.kind is Kind.BOOLEAN:
        return "yes" if value else "no"
    if f.kind is Kind.DATETIME:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
    if f.kind is Kind.DECIMAL:
        return f"${value}" if f.unit == "$" else str(value)
    if f.unit == "s":
        return f"{value:.3f} s"
    if f.unit == "tokens/s":
        return f"{value:.1f}"
    if f.kind is Kind.JSON:
        return orjson.dumps(value).decode()
    return str(value)


# --- The field table of docs/metadata.md ----------------------------------------------------

DOCS_START = "<!-- record-fields:start (generated by `manage.py metadata_docs`) -->"
DOCS_END = "<!-- record-fields:end -->"
_TYPE_WORDS = {
    Kind.TEXT: "text",
    Kind.INTEGER: "integer",
    Kind.NUMBER: "number",
    Kind.BOOLEAN: "boolean",
    Kind.DATETIME: "ISO 8601, UTC",
    Kind.DECIMAL: "decimal string",
    Kind.JSON: "object",
    Kind.FEEDBACK: "object",
}


def type_words(f: Field) -> str:
    """The field's type as the docs state it, e.g. `integer / null`."""
    if f.kind is Kind.CHOICE:
        words = " / ".join(f"`{choice}`" for choice in f.choices)
    elif f.unit == "s":
        words = "seconds"
    else:
        words = _TYPE_WORDS[f.kind]
    return f"{words} / null" if f.nullable else words


def docs_table() -> str:
    """The Markdown table of every field: name, type, meaning, origin, the share choice that
    shows it, outputs left out of."""
    lines = [
        "| field | type | meaning | origin | shared under | not in |",
        "|---|---|---|---|---|---|",
    ]
    for f in FIELDS:
        left_out = " · ".join(f"{output}: {why}" for output, why in f.left_out.items())
        shared = f.share or "—"
        cells = (f"`{f.name}`", type_words(f), f.meaning, str(f.origin), shared, left_out or "—")
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def docs_with_table(text: str) -> str:
    """`text` (docs/metadata.md) with the generated table between its markers."""
    start, end = text.index(DOCS_START) + len(DOCS_START), text.index(DOCS_END)
    return text[:start] + "\n" + docs_table() + "\n" + text[end:]
