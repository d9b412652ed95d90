"""One call in flight, and the one place that decides how it ended (ok, error or cancelled).

A backend streams through a Call: it hands each text delta to `got`, reports the endpoint's
final record to `finish`, and passes whatever stopped it to `end`, which turns it into the
call's ChatResult (with the user's message for a failure), logs the call once, and tells the
backend whether to re-raise (a cancellation must propagate; failures end the stream quietly).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from time import perf_counter
from typing import Any

import httpx

from .endpoint import Endpoint
from .errors import LLMError, PastDeadline
from .transport import map_exception
from .types import CANCELLED, ERROR, OK, ChatRequest, ChatResult

logger = logging.getLogger(__name__)

# What a malformed body raises while being picked apart (orjson's error is a ValueError).
PROTOCOL_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)
BUG_MESSAGE = "Something went wrong while answering; try again."


class Call:
    """The state of one call: collected text, timings, the deadline, and once ended its result."""

    __slots__ = ("deadline", "endpoint", "first", "kind", "parts", "request", "result", "started")

    def __init__(self, kind: str, endpoint: Endpoint, request: ChatRequest) -> None:
        self.kind = kind
        self.endpoint = endpoint
        self.request = request
        self.parts: list[str] = []
        self.started = perf_counter()
        self.deadline = self.started + endpoint.max_duration
        self.first: float | None = None
        self.result: ChatResult | None = None
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "llm %s request model=%s messages=%r", kind, request.model, request.messages
            )

    def got(self, text: str) -> str:
        """Record a text delta (and the time of the first); returns it for the backend to yield."""
        if self.first is None:
            self.first = perf_counter()
        self.parts.append(text)
        return text

    def finish(
        self,
        *,
        model: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        total_tokens: int | None = None,
        finish_reason: str | None = None,
        raw_usage: dict[str, Any] | None = None,
    ) -> None:
        """The endpoint's final record arrived: the call ended ok."""
        result = self._record(OK, model)
        result.prompt_tokens = prompt_tokens
        result.completion_tokens = completion_tokens
        result.total_tokens = total_tokens
        result.finish_reason = finish_reason
        result.raw_usage = raw_usage
        self._end(result)

    def end(self, exc: BaseException | None = None) -> ChatResult:
        """How the call ended, decided once; later calls return the same result.

        A call already finished stays ok; None (closed by its caller), GeneratorExit or a
        cancellation make it cancelled; any other exception an error with its message.
        """
        if self.result is not None:
            return self.result
        if exc is None or isinstance(exc, (GeneratorExit, asyncio.CancelledError)):
            return self._end(self._record(CANCELLED))
        error = self._error_for(exc)
        result = self._record(ERROR)
        result.error = self.endpoint.redact(error.message)  # what leaves the package: no secret
        result.retryable = error.retryable
        return self._end(result)

    def _error_for(self, exc: BaseException) -> LLMError:
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, PastDeadline):
            return LLMError(
                f"The answer took longer than {self.endpoint.max_duration:g} s "
                "(API_MAX_DURATION); it is cut off.",
                retryable=True,
            )
        if isinstance(exc, httpx.HTTPError):
            return map_exception(self.endpoint, exc, during_answer=self.first is not None)
        if isinstance(exc, PROTOCOL_ERRORS):
            return protocol_error(self.kind, "a malformed record")
        logger.error("llm call failed: %s", type(exc).__name__, exc_info=exc)
        return LLMError(BUG_MESSAGE, retryable=True)

    def _record(self, status: str, model: str | None = None) -> ChatResult:
        return ChatResult(
            text="".join(self.parts),
            model=model or self.request.model,
            elapsed=perf_counter() - self.started,
            time_to_first_token=None if self.first is None else self.first - self.started,
            status=status,
        )

    def _end(self, result: ChatResult) -> ChatResult:
        self.result = result
        ttft = "-" if result.time_to_first_token is None else f"{result.time_to_first_token:.3f}s"
        logger.info(
            "llm call kind=%s model=%s outcome=%s prompt_tokens=%s completion_tokens=%s "
            "total_tokens=%s ttft=%s latency=%.3fs%s",
            self.kind,
            self.request.model,
            result.status,
            result.prompt_tokens,
            result.completion_tokens,
            result.total_tokens,
            ttft,
            result.elapsed,
            f" error={result.error!r}" if result.error else "",
        )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("llm %s reply model=%s text=%r", self.kind, result.model, result.text)
        return result


class ChatStream:
    """The text deltas of one call (`async for text in stream`), then its ChatResult.

    `await stream.aclose()` gives the result however the call ended; closing before the end
    closes the upstream request and ends the call as cancelled.
    """

    __slots__ = ("_call", "_deltas")

    def __init__(self, call: Call, deltas: AsyncGenerator[str, None]) -> None:
        self._call = call
        self._deltas = deltas

    def __aiter__(self) -> AsyncIterator[str]:
        return self._deltas  # iterated directly: no wrapper step per delta

    async def aclose(self) -> ChatResult:
        """Close the call (a no-op once it ended) and return how it ended."""
        await self._deltas.aclose()
        return self._call.end()


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


def media_type(response: httpx.Response) -> str:
    """The response's media type, lower case, without parameters ("" when absent)."""
    return response.headers.get("content-type", "").split(";")[0].strip().lower()
