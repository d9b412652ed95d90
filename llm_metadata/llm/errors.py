"""The one exception every LLM failure becomes, with a message fit to show the user."""

from __future__ import annotations


class LLMError(Exception):
    """A failed call: `.message` for the user, and `.retryable` (trying again may help)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def __str__(self) -> str:
        return self.message


class PastDeadline(Exception):
    """The answer's whole-duration deadline (`Endpoint.max_duration`) has passed."""
