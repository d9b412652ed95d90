"""The records the rest of the app sees: what to ask, and how the call ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OK = "ok"
ERROR = "error"
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One call: model, the fitted messages ({"role", "content"} dicts), sampling parameters, and
    the model's context length in tokens (sent to Ollama as `num_ctx`)."""

    model: str
    messages: list[dict[str, str]]
    temperature: float
    top_k: int
    top_p: float
    max_tokens: int
    context_length: int


@dataclass(slots=True)
class ChatResult:
    """How a call ended and what it produced, decided in one place (`calls.Call.end`).

    `status` is "ok", "error" (then `error` is a message fit for the user, and `retryable`
    says whether trying again may help) or "cancelled" (stopped by its caller). `text` is the
    whole answer, or what arrived before the failure or the stop. Token counts are the
    endpoint's own (None when it reported none, and after a failure or a stop).
    """

    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    elapsed: float = 0.0
    time_to_first_token: float | None = None
    finish_reason: str | None = None
    raw_usage: dict[str, Any] | None = None
    status: str = OK
    error: str = ""
    retryable: bool = False
