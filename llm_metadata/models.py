"""The record: conversations, their messages with every measurement, and the model registry."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from .metrics import tokens_per_second
from .templatetags.markdown import RENDERER_VERSION, render_markdown

# The stored rendering of an answer: written only by Message.render_html (the sanitiser's
# output), never by an import, an export, a form or the admin.
HTML_FIELDS = ("content_html", "content_html_version")


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def for_user(self, user: models.Model) -> ConversationQuerySet:
        """The only way views reach conversations: those the user owns."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(owner=user)

    def with_versions_flag(self) -> ConversationQuerySet:
        """Each with `has_versions`: whether any of its messages is off the active path. Without
        one, no message has a version, and a page skips the query for them (`branches`).

        Raw SQL (quoted names only; it names the conversations' table, so the query must read
        it unaliased, as a queryset of conversations does): Exists() over a queryset cost 1,100
        Python calls to build and compile, a third of the query it saves."""
        quote = connection.ops.quote_name
        message, conversation = (quote(m._meta.db_table) for m in (Message, Conversation))
        off_path = (
            f"EXISTS (SELECT 1 FROM {message} WHERE {message}.{quote('conversation_id')} = "  # noqa: S608
            f"{conversation}.{quote('id')} AND {message}.{quote('active')} = %s)"
        )
        flag = RawSQL(off_path, (False,), models.BooleanField())  # noqa: S611 (no user input)
        return self.annotate(has_versions=flag)


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    system_prompt = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(default=timezone.now)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated"]
        indexes = [models.Index(fields=["owner", "-updated"], name="conv_owner_updated")]

    def __str__(self) -> str:
        return self.title or str(self.id)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"
        SYSTEM = "system"
        TOOL = "tool"

    class Status(models.TextChoices):
        OK = "ok"
        ERROR = "error"
        CANCELLED = "cancelled"

    class Source(models.TextChoices):
        """Which way the message came in: the chat page, the API gateway, a comparison, a file."""

        CHAT = "chat", "chat"
        API = "api", "API"
        COMPARE = "compare", "comparison"
        IMPORT = "import", "import"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CHAT)
    content = models.TextField(blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    top_k = models.PositiveIntegerField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    elapsed_time = models.FloatField(null=True, blank=True, help_text="seconds")
    time_to_first_token = models.FloatField(null=True, blank=True, help_text="seconds")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OK)
    error = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    raw_usage = models.JSONField(null=True, blank=True)
    history_truncated = models.BooleanField(default=False)
    # API calls (source "api"): the call's parameters, the key's name, the OpenAI message's
    # other keys (tool_calls, tool_call_id, name, content parts).
    request_params = models.JSONField(null=True, blank=True)
    api_key_name = models.CharField(max_length=100, blank=True)
    message_extra = models.JSONField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    attachment = models.FileField(upload_to="attachments/%Y/%m/", blank=True, max_length=255)
    attachment_name = models.CharField(max_length=255, blank=True)
    attachment_text = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    content_html = models.TextField(blank=True, editable=False)
    content_html_version = models.PositiveSmallIntegerField(default=0, editable=False)
    # The message tree (branches.py): a version is a sibling (same parent); `active` marks the
    # conversation's active path, so that path is one indexed filter.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [
            models.Index(fields=["conversation", "created", "id"], name="msg_conv_order"),
            models.Index(fields=["conversation", "active", "parent"], name="msg_conv_versions"),
            models.Index(fields=["model_name", "created"], name="msg_model_created"),
            models.Index(fields=["role", "created"], name="msg_role_created"),
            models.Index(fields=["status", "created"], name="msg_status_created"),
            models.Index(fields=["created"], name="msg_created"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:50]}"

    def save(self, **kwargs: Any) -> None:
        """Saves with the answer's HTML rendered anew whenever `content` is written; a new active
        message given no parent continues the conversation's active path."""
        if self._state.adding and self.parent_id is None and self.active:
            self.parent_id = active_leaf_id(self.conversation_id)
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "content" in update_fields:
            self.render_html()
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, *HTML_FIELDS}
        super().save(**kwargs)

    def render_html(self) -> None:
        """Render an answer's markdown into `content_html`; other roles show plain text and keep
        none (version 0, as an imported row has)."""
        if self.role == self.Role.ASSISTANT:
            self.content_html = render_markdown(self.content)
            self.content_html_version = RENDERER_VERSION
        else:
            self.content_html, self.content_html_version = "", 0

    @property
    def html_is_stale(self) -> bool:
        """An answer whose stored HTML is missing (bulk_create, import) or from another renderer."""
        return self.role == self.Role.ASSISTANT and self.content_html_version != RENDERER_VERSION

    @property
    def answer_html(self) -> SafeString:
        """The answer as sanitised HTML: the stored one, rendered again here if it is stale."""
        if self.html_is_stale:
            self.render_html()
        return mark_safe(self.content_html)  # noqa: S308 (only ever nh3's output, see HTML_FIELDS)

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed; see `metrics.tokens_per_second`."""
        return tokens_per_second(
            self.completion_tokens, self.elapsed_time, self.time_to_first_token
        )


def active_leaf_id(conversation_id: Any) -> int | None:
    """The last message of a conversation's active path: where a new message is appended."""
    last = Message.objects.filter(conversation_id=conversation_id, active=True)
    return last.order_by("-created", "-id").values_list("id", flat=True).first()


def store_stale_html(messages: Iterable[Message]) -> int:
    """Render the stale answers among `messages` and store them in one bulk write; how many.

    Pages call it on the rows they show, so an answer renders once, when first shown after
    it was stored without HTML or with another renderer version's.
    """
    stale = [message for message in messages if message.html_is_stale]
    for message in stale:
        message.render_html()
    if stale:
        Message.objects.bulk_update(stale, HTML_FIELDS)
    return len(stale)


class ModelProfile(models.Model):
    """Per-model settings an operator edits in the admin: defaults, context, prices."""

    name = models.CharField(max_length=200, unique=True, help_text="model id at the endpoint")
    display_name = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    context_length = models.PositiveIntegerField(default=8192)
    default_temperature = models.FloatField(default=0.7)
    default_top_k = models.PositiveIntegerField(default=40)
    default_top_p = models.FloatField(default=0.9)
    default_max_tokens = models.PositiveIntegerField(default=600)
    input_price_per_million = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, help_text="per 1M prompt tokens"
    )
    output_price_per_million = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, help_text="per 1M completion tokens"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name

    def cost_for(self, prompt_tokens: int | None, completion_tokens: int | None) -> Decimal | None:
        """Cost of one call; None when a price or a token count is unknown (never a false zero)."""
        if self.input_price_per_million is None or self.output_price_per_million is None:
            return None
        if prompt_tokens is None or completion_tokens is None:
            return None
        million = Decimal(1_000_000)
        return (
            Decimal(prompt_tokens) * self.input_price_per_million
            + Decimal(completion_tokens) * self.output_price_per_million
        ) / million


class Feedback(models.Model):
    """A user's thumbs up or down, with an optional comment, on one answer."""

    class Rating(models.IntegerChoices):
        UP = 1, "thumbs up"
        DOWN = -1, "thumbs down"

        @property
        def word(self) -> str:
            """'up' or 'down': the rating's name in forms, JSON, exports and imports."""
            return self.name.lower()

        @classmethod
        def from_word(cls, word: object) -> Feedback.Rating | None:
            """The rating a word names; None for anything else (of any type)."""
            return next((rating for rating in cls if rating.word == word), None)

        @classmethod
        def word_of(cls, value: int | None) -> str:
            """The word of a stored rating; "" for none (or a value outside the choices)."""
            if value is None:  # most rows of an export: no lookup
                return ""
            return next((rating.word for rating in cls if rating == value), "")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback"
    )
    rating = models.SmallIntegerField(choices=Rating.choices)
    comment = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="feedback_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.get_rating_display()} on message {self.message_id}"


class Counter(models.Model):
    """A tally that expires (llm_metadata.counters' store when there is no Redis)."""

    key = models.CharField(max_length=200, primary_key=True)
    value = models.BigIntegerField(default=0)
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key} = {self.value}"


# The analytics roll-ups, the comparisons with their votes, share links, personal API keys and
# per-user and per-group limits live in modules of their own; importing them here registers them.
from . import (  # noqa: E402, F401
    compare_models,
    keys_models,
    limits_models,
    share_models,
    usage_models,
)
