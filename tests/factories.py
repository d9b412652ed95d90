"""Small hand-written factories for the record's rows."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth.models import User

from llm_metadata.models import Conversation, Message

_counter = itertools.count(1)


def make_conversation(owner: User, **fields: Any) -> Conversation:
    fields.setdefault("title", f"Conversation {next(_counter)}")
    return Conversation.objects.create(owner=owner, **fields)


def make_turn(
    conversation: Conversation, question: str = "Hi?", answer: str = "Hello!", **meta: Any
) -> tuple[Message, Message]:
    """A question and its answer, with the usual metadata on both."""
    params = {
        "model_name": meta.pop("model_name", "llama3"),
        "temperature": 0.7,
        "top_k": 40,
        "top_p": 0.9,
        "max_tokens": 600,
    }
    asked = Message.objects.create(
        conversation=conversation, role=Message.Role.USER, content=question, **params
    )
    answered = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        content=answer,
        prompt_tokens=meta.pop("prompt_tokens", 12),
        completion_tokens=meta.pop("completion_tokens", 5),
        total_tokens=meta.pop("total_tokens", 17),
        elapsed_time=meta.pop("elapsed_time", 0.5),
        time_to_first_token=meta.pop("time_to_first_token", 0.1),
        **params,
        **meta,
    )
    return asked, answered
