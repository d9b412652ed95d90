"""Book-keeping shared by the backends: timings, collected text, the final record, one log line."""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import Any

import httpx

from .endpoint import Endpoint
from .errors import LLMError
from .transport import map_exception
from .types import ChatRequest, ChatResult

logger = logging.getLogger(__name__)

# What a malformed body raises while being picked apart (orjson's error is a ValueError).
PROTOCOL_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


class Call:
    """One call in flight; backends append text to `parts` and stamp `first` themselves."""

    __slots__ = ("endpoint", "finished", "first", "kind", "parts", "request", "started")

    def __init__(self, kind: str, endpoint: Endpoint, request: ChatRequest) -> None:
        self.kind = kind
        self.endpoint = endpoint
        self.request = request
        self.parts: list[str] = []
        self.started = perf_counter()
        self.first: float | None = None
        self.finished = False
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "llm %s request model=%s messages=%r", kind, request.model, request.messages
            )

    def result(
        self,
        *,
        model: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        total_tokens: int | None = None,
        finish_reason: str | None = None,
        raw_usage: dict[str, Any] | None = None,
    ) -> ChatResult:
        """The final record; logs the call as ok."""
        result = self._record(model or self.request.model)
        result.prompt_tokens = prompt_tokens
        result.completion_tokens = completion_tokens
        result.total_tokens = total_tokens
        result.finish_reason = finish_reason
        result.raw_usage = raw_usage
        self.finished = True
        self._log("ok", result)
        return result

    def failed(self, exc: BaseException) -> BaseException:
        """What to raise for `exc`: an LLMError carrying the partial text, or a cancellation."""
        if isinstance(exc, (GeneratorExit, asyncio.CancelledError)):
            if not self.finished:  # closed after its result is no cancellation
                self._log("cancelled", self._record(self.request.model))
            return exc
        if isinstance(exc, LLMError):
            error = exc
        elif isinstance(exc, httpx.HTTPError):
            error = map_exception(self.endpoint, exc, during_answer=self.first is not None)
        elif isinstance(exc, PROTOCOL_ERRORS):
            error = protocol_error(self.kind, "a malformed record")
        else:
            self._log("error", self._record(self.request.model), repr(exc))
            return exc
        error.partial = self._record(self.request.model)
        self._log("error", error.partial, error.message)
        if error is not exc and error.__cause__ is None:
            error.__cause__ = exc
        return error

    def _record(self, model: str) -> ChatResult:
        return ChatResult(
            text="".join(self.parts),
            model=model,
            elapsed=perf_counter() - self.started,
            time_to_first_token=None if self.first is None else self.first - self.started,
        )

    def _log(self, outcome: str, result: ChatResult, error: str = "") -> None:
        ttft = "-" if result.time_to_first_token is None else f"{result.time_to_first_token:.3f}s"
        logger.info(
            "llm call kind=%s model=%s outcome=%s prompt_tokens=%s completion_tokens=%s "
            "total_tokens=%s ttft=%s latency=%.3fs%s",
            self.kind,
            self.request.model,
            outcome,
            result.prompt_tokens,
            result.completion_tokens,
            result.total_tokens,
            ttft,
            result.elapsed,
            f" error={error!r}" if error else "",
        )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("llm %s reply model=%s text=%r", self.kind, result.model, result.text)


def protocol_error(kind: str, what: str) -> LLMError:
    """The endpoint answered, but not in the protocol API_KIND says it speaks."""
    protocol = "OpenAI chat completions" if kind == "openai" else "Ollama /api/chat"
    return LLMError(
        f"The endpoint sent {what}, not the {protocol} protocol; check API_URL and API_KIND."
    )


def ended_early() -> LLMError:
    """The stream closed cleanly but without its final record."""
    return LLMError(
        "The endpoint's stream ended before its final record; the answer may be incomplete.",
        retryable=True,
    )
