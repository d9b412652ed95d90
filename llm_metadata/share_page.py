"""The public page's view of a snapshot: each copied message as the page shows it.

Reads the snapshot's stored values only. Which metadata a message lists follows what the
snapshot holds (the owner's choices when it was made), labelled and shown as the record says.
The messages print through a Jinja2 partial, as the app's own message lists do (jinja_env):
in Django's template language a page of 200 messages took about 100 ms.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.template import engines
from django.utils.safestring import SafeString, mark_safe

from . import record
from .record import Kind
from .share_models import ShareLink
from .templatetags.markdown import RENDERER_VERSION, render_markdown

SHOWN_WITH_THE_MESSAGE = {"role", "content", "status", "attachment_name", "feedback"}
_META_FIELDS = tuple(f for f in record.fields_in("share") if f.name not in SHOWN_WITH_THE_MESSAGE)


@dataclass(frozen=True)
class SharedMessage:
    role: str
    status: str
    content: str
    html: SafeString | None  # answers: the sanitised markdown rendering
    model: str  # "" unless the owner shows model and parameters
    attachment_name: str
    feedback: dict[str, str] | None
    meta: list[tuple[str, str]]  # (label, value as shown) of the fields that have a value


def _revive(f: record.Field, value: Any) -> Any:
    """A stored JSON value back to the type `record.display` shows."""
    if value is None:
        return None
    if f.kind is Kind.DATETIME:
        return dt.datetime.fromisoformat(value)
    if f.kind is Kind.DECIMAL:
        return Decimal(value)
    return value


def _html(copied: dict[str, Any]) -> SafeString | None:
    if "html" not in copied:
        return None
    if copied.get("html_version") != RENDERER_VERSION:  # stored by an older renderer
        return render_markdown(copied.get("content", ""))
    return mark_safe(copied["html"])  # noqa: S308 (nh3's output, copied from Message.answer_html)


def shown(copied: dict[str, Any]) -> SharedMessage:
    meta = [
        (f.label, record.display(f, _revive(f, copied[f.name])))
        for f in _META_FIELDS
        if copied.get(f.name) not in (None, "")
    ]
    return SharedMessage(
        role=copied.get("role", ""),
        status=copied.get("status", ""),
        content=copied.get("content", ""),
        html=_html(copied),
        model=copied.get("model_name") or "",
        attachment_name=copied.get("attachment_name") or "",
        feedback=copied.get("feedback"),
        meta=meta,
    )


def messages_of(link: ShareLink) -> list[SharedMessage]:
    return [shown(copied) for copied in link.messages]


def render_messages(link: ShareLink) -> SafeString:
    """The snapshot's messages as the public page shows them."""
    template = engines["jinja2"].env.get_template("llm_metadata/_shared_messages.html")
    html = template.render({"messages": messages_of(link)})
    return mark_safe(html)  # noqa: S308 (Jinja2 escaped every value; answers are nh3's output)
