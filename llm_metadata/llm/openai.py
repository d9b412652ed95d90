"""OpenAI-compatible chat completions: `POST {url}/chat/completions`, streamed as SSE.

The SSE lines are read by `lines.sse_events` (shared line buffering, no object per chunk beyond
the decoded JSON); bench/llm_relay.py measures the path against httpx-sse.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
import orjson

from .calls import Call, ended_early, media_type, protocol_error
from .endpoint import Endpoint
from .errors import LLMError
from .lines import sse_events
from .transport import open_stream
from .types import CANCELLED, ChatRequest

KIND = "openai"
PATH = "/chat/completions"


def request_body(request: ChatRequest) -> bytes:
    """The JSON body; `top_k` is not OpenAI's but vLLM, llama.cpp and LiteLLM accept it."""
    return orjson.dumps(
        {
            "model": request.model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": request.temperature,
            "top_p": request.top_p,
            "top_k": request.top_k,
            "max_tokens": request.max_tokens,
        }
    )


async def stream(call: Call) -> AsyncGenerator[str, None]:
    """Text deltas as they arrive; `call` decides and records how the call ended."""
    answer = _Answer(call.endpoint)
    try:
        body = request_body(call.request)
        async with open_stream(
            call.endpoint, PATH, body, model=call.request.model, deadline=call.deadline
        ) as response:
            async for event, data in _events(call, response):
                text = answer.read(event, data)
                if text:
                    yield call.got(text)
        call.finish(**answer.ending())
    except BaseException as exc:
        if call.end(exc).status == CANCELLED:
            raise


def _events(call: Call, response: httpx.Response) -> AsyncIterator[tuple[bytes, bytes]]:
    """(event, data) of each server-sent event; a whole JSON completion as one event."""
    ctype = media_type(response)
    if ctype == "text/event-stream":
        return sse_events(response.aiter_bytes(), call.deadline)
    if ctype == "application/json":  # a server that ignored `stream: true`
        return _whole(response)
    raise protocol_error(KIND, f"a {ctype or 'untyped'} body")


async def _whole(response: httpx.Response) -> AsyncIterator[tuple[bytes, bytes]]:
    yield b"", await response.aread()
    yield b"", b"[DONE]"


class _Answer:
    """What the events say besides the text: model, finish reason, usage, and the end."""

    __slots__ = ("done", "endpoint", "finish", "model", "usage")

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.done = False
        self.finish: str | None = None
        self.model: str | None = None
        self.usage: dict[str, Any] | None = None

    def read(self, event: bytes, data: bytes) -> str | None:
        """The event's text (a streamed delta, or a whole message); notes the rest."""
        if data == b"[DONE]":
            self.done = True
            return None
        record = orjson.loads(data)
        if event == b"error" or "error" in record:
            raise stream_error(self.endpoint, record)
        if self.model is None:
            self.model = record.get("model")
        if record.get("usage"):
            self.usage = record["usage"]
        choices = record.get("choices")
        if not choices:
            return None
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
        message = choice.get("delta") or choice.get("message")
        return message.get("content") if message else None

    def ending(self) -> dict[str, Any]:
        """The final record's fields; LLMError when the stream ended without one."""
        if not self.done and self.finish is None:
            raise ended_early()
        return {"model": self.model, "finish_reason": self.finish, **usage_fields(self.usage)}


def usage_fields(usage: dict[str, Any] | None) -> dict[str, Any]:
    """Token counts exactly as the endpoint reported them (None when it did not)."""
    if not usage:
        return {"raw_usage": None}
    return {
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "total_tokens": usage.get("total_tokens"),
        "raw_usage": usage,
    }


def stream_error(endpoint: Endpoint, obj: Any) -> LLMError:
    """An `{"error": ...}` record (or `event: error`) inside a 200 answer."""
    error = obj.get("error", obj) if isinstance(obj, dict) else obj
    message = error.get("message", "") if isinstance(error, dict) else str(error)
    return LLMError(
        f"The endpoint reported an error: {endpoint.redact(str(message))[:300] or 'no details'}.",
        retryable=True,
    )
