"""The one exception every LLM failure becomes, with a message fit to show the user."""

from __future__ import annotations

from .types import ChatResult


class LLMError(Exception):
    """A failed call: `.message` for the user, `.retryable`, and `.partial` (text before it)."""

    def __init__(
        self, message: str, *, retryable: bool = False, partial: ChatResult | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.partial = partial

    def __str__(self) -> str:
        return self.message
