"""The gateway relay's plain results: what a relayed call produced (for the record), its errors.

`Relayed` collects, while the answer passes through, what the app stores about it: the text of
choice 0, its tool calls, finish reason, model, the endpoint's usage exactly as reported (None
when it reported none: never estimated), and the timings. `RelayError` is a failure with the
HTTP status and OpenAI error `code`/`type` the client gets.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

import orjson

from .errors import LLMError
from .types import CANCELLED, ERROR, OK


class RelayError(LLMError):
    """A failure the client sees as an OpenAI error: `status`, `type`, `code`, `retry_after`."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        type_: str = "upstream_error",
        code: str = "upstream_error",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retryable=status in (429, 502, 504))
        self.status = status
        self.type = type_
        self.code = code
        self.retry_after = retry_after

    def body(self) -> bytes:
        """OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""
        error = {"message": self.message, "type": self.type, "param": None, "code": self.code}
        return orjson.dumps({"error": error})


class Relayed:
    """What one relayed call produced so far, and (once `end` ran) how it ended."""

    __slots__ = (
        "completion_tokens",
        "elapsed",
        "error",
        "finish_reason",
        "first",
        "model",
        "parts",
        "prompt_tokens",
        "raw_usage",
        "started",
        "status",
        "time_to_first_token",
        "tool_calls",
        "total_tokens",
    )

    def __init__(self, model: str) -> None:
        self.model = model
        self.parts: list[str] = []
        self.tool_calls: list[dict[str, Any]] | None = None
        self.finish_reason: str | None = None
        self.raw_usage: dict[str, Any] | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.total_tokens: int | None = None
        self.started = perf_counter()
        self.first: float | None = None
        self.elapsed = 0.0
        self.time_to_first_token: float | None = None
        self.status = ""
        self.error = ""

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def ended(self) -> bool:
        return bool(self.status)

    def got(self, text: str) -> None:
        if self.first is None:
            self.first = perf_counter()
        self.parts.append(text)

    def tool_delta(self, deltas: list[dict[str, Any]]) -> None:
        """Merge streamed tool-call deltas (by index) into whole calls."""
        calls = self.tool_calls if self.tool_calls is not None else []
        self.tool_calls = calls
        for delta in deltas:
            index = delta.get("index", len(calls))
            while len(calls) <= index:
                calls.append(
                    {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                )
            call, function = calls[index], delta.get("function") or {}
            call["id"] = delta.get("id") or call["id"]
            call["type"] = delta.get("type") or call["type"]
            call["function"]["name"] += function.get("name") or ""
            call["function"]["arguments"] += function.get("arguments") or ""

    def end(self, status: str, error: str = "") -> Relayed:
        """Decide how the call ended, once."""
        if not self.status:
            now = perf_counter()
            self.status, self.error = status, error
            self.elapsed = now - self.started
            if self.first is not None:
                self.time_to_first_token = self.first - self.started
        return self

    def usage(self, raw: dict[str, Any], prompt: Any, completion: Any, total: Any) -> None:
        """The endpoint's usage record (kept verbatim) and its counts (None when absent)."""
        self.raw_usage = raw
        self.prompt_tokens = _count(prompt)
        self.completion_tokens = _count(completion)
        self.total_tokens = _count(total)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


__all__ = ["CANCELLED", "ERROR", "OK", "RelayError", "Relayed"]
