"""Share a conversation: the snapshot a link shows, the scan for secrets, publish and revoke.

A snapshot copies, message by message, only the record fields (`record.FIELDS`, output
"share") whose share choice the owner turned on, plus the answer's sanitised HTML; nothing
else about the owner or the app goes in. The public page reads the snapshot alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from . import record, secret_scan, selectors
from .models import Conversation, Feedback, Message
from .record import Kind
from .share_models import ShareLink
from .templatetags.markdown import RENDERER_VERSION

TOKEN_BYTES = 24  # 192 random bits, 32 URL-safe characters


@dataclass(frozen=True)
class Choices:
    """What the owner shows besides the messages' text: the share choices of record.SHARE_PARTS
    (model and parameters on by default, the rest off), the system prompt and their user name."""

    model: bool = True
    usage: bool = False
    attachments: bool = False
    feedback: bool = False
    system_prompt: bool = False
    owner_name: bool = False

    def parts(self) -> set[str]:
        """The record's share choices these turn on ("always" among them)."""
        chosen = {part for part in record.SHARE_PARTS if getattr(self, part, False)}
        return chosen | {"always"}

    def fields(self) -> tuple[record.Field, ...]:
        """The record fields a snapshot made with these choices carries, in record order."""
        parts = self.parts()
        return tuple(f for f in record.fields_in("share") if f.share in parts)


@dataclass(frozen=True)
class Snapshot:
    """What a link shows: copied values only, ready to be stored on a ShareLink."""

    title: str
    system_prompt: str
    owner_name: str
    messages: list[dict[str, Any]]
    left_out: int = 0


@dataclass(frozen=True)
class Finding:
    """Something that looks like a secret: where (`message` is its index in the snapshot's
    messages, None for the title, system prompt or user name), what kind, shown masked."""

    where: str
    message: int | None
    kind: str
    masked: str
    fingerprint: str = field(repr=False)


def messages_to_share(conversation: Conversation) -> QuerySet[Message]:
    """The messages a snapshot of the conversation shows, in order.

    The conversation's active path, oldest first: the versions switched away from (and failed
    or stopped regenerations) are never shared. This is the one place that decides which
    messages are shared; it returns a queryset (`build_snapshot` adds the owner's feedback to
    it with one prefetch).
    """
    return selectors.conversation_messages(conversation)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def build_snapshot(conversation: Conversation, choices: Choices) -> Snapshot:
    """A copy of the conversation as it is now, with the fields the choices allow."""
    fields = choices.fields()
    messages = messages_to_share(conversation)
    if choices.feedback:
        owners = Feedback.objects.filter(user_id=conversation.owner_id)
        messages = messages.prefetch_related(
            Prefetch("feedback", queryset=owners, to_attr="owner_feedback")
        )
    return Snapshot(
        title=conversation.title,
        system_prompt=conversation.system_prompt if choices.system_prompt else "",
        owner_name=conversation.owner.get_username() if choices.owner_name else "",
        messages=[
            _copy(message, fields)
            for message in messages
            # System messages (an import can hold them) are the system prompt's to show.
            if choices.system_prompt or message.role != Message.Role.SYSTEM
        ],
    )


def _copy(message: Message, fields: Iterable[record.Field]) -> dict[str, Any]:
    copied: dict[str, Any] = {}
    for f in fields:
        if f.kind is Kind.FEEDBACK:
            mine = next(iter(message.owner_feedback), None)
            copied[f.name] = mine and {
                "rating": Feedback.Rating.word_of(mine.rating),
                "comment": mine.comment,
            }
        else:
            copied[f.name] = record.plain(f.value(message))
    if message.role == Message.Role.ASSISTANT:
        copied["html"] = str(message.answer_html)
        copied["html_version"] = RENDERER_VERSION
    return copied


def _texts(message: dict[str, Any]) -> Iterable[str]:
    """The text a copied message publishes (its HTML is made from its content)."""
    for name, value in message.items():
        if name in ("html", "html_version"):
            continue
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict) and isinstance(value.get("comment"), str):
            yield value["comment"]


def scan(snapshot: Snapshot) -> list[Finding]:
    """Everything in the snapshot that looks like a secret."""
    places: list[tuple[str, int | None, str]] = [
        ("title", None, snapshot.title),
        ("system prompt", None, snapshot.system_prompt),
        ("user name", None, snapshot.owner_name),
    ]
    for index, message in enumerate(snapshot.messages):
        where = f"message {index + 1} ({message['role']})"
        places += [(where, index, text) for text in _texts(message)]
    findings = []
    for where, index, text in places:
        for hit in secret_scan.find(text):
            secret = text[hit.start : hit.end].encode()
            fingerprint = hashlib.sha256(secret).hexdigest()[:16]
            findings.append(Finding(where, index, hit.kind, hit.masked, fingerprint))
    return findings


def findings_digest(findings: Iterable[Finding]) -> str:
    """Names exactly these findings: a confirmation given for them holds for them alone."""
    parts = (f"{f.where}|{f.kind}|{f.fingerprint}" for f in findings)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def without(snapshot: Snapshot, findings: Iterable[Finding]) -> Snapshot:
    """The snapshot with every message that has a finding left out, and the title, system
    prompt or user name emptied where they have one."""
    findings = list(findings)
    flagged = {f.message for f in findings if f.message is not None}
    places = {f.where for f in findings}
    kept = [m for index, m in enumerate(snapshot.messages) if index not in flagged]
    return replace(
        snapshot,
        title="" if "title" in places else snapshot.title,
        system_prompt="" if "system prompt" in places else snapshot.system_prompt,
        owner_name="" if "user name" in places else snapshot.owner_name,
        messages=kept,
        left_out=snapshot.left_out + len(flagged),
    )


def publish(
    *,
    conversation: Conversation,
    snapshot: Snapshot,
    choices: Choices,
    expires: dt.datetime | None,
) -> ShareLink:
    """Store the snapshot under the conversation's link: a new token the first time, the same
    one (and its view count) when shared again."""
    now = timezone.now()
    values = {
        "title": snapshot.title,
        "system_prompt": snapshot.system_prompt,
        "owner_name": snapshot.owner_name,
        "messages": snapshot.messages,
        "left_out": snapshot.left_out,
        "choices": {name: getattr(choices, name) for name in Choices.__dataclass_fields__},
        "expires": expires,
        "updated": now,
    }
    link, _ = ShareLink.objects.update_or_create(
        conversation=conversation,
        defaults=values,
        create_defaults={**values, "token": new_token(), "created": now},
    )
    return link


def revoke(conversation: Conversation) -> bool:
    """End the conversation's link at once (its snapshot deleted); whether there was one."""
    deleted, _ = ShareLink.objects.filter(conversation=conversation).delete()
    return deleted > 0


def open_link(token: str) -> ShareLink | None:
    """The live link with this token, its view counted; None when unknown, revoked or expired."""
    link = ShareLink.objects.live().filter(token=token).first()
    if link is not None:
        ShareLink.objects.filter(pk=link.pk).update(views=F("views") + 1)
        link.views += 1
    return link
