"""The two records the rest of the app sees: what to ask, and what came back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    """The final record of a call; token counts are the endpoint's own (None when not reported)."""

    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    elapsed: float = 0.0
    time_to_first_token: float | None = None
    finish_reason: str | None = None
    raw_usage: dict[str, Any] | None = None
