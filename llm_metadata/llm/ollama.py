"""Ollama's native chat: `POST {API_URL}/api/chat`, streamed as NDJSON (one JSON object a line)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from time import perf_counter
from typing import Any

import orjson

from .calls import Call, ended_early, protocol_error
from .endpoint import Endpoint
from .errors import LLMError
from .transport import open_stream, scrub
from .types import ChatRequest, ChatResult

KIND = "ollama"
# Ollama's timings and counts, kept as the raw usage record.
RAW_FIELDS = (
    "done_reason",
    "prompt_eval_count",
    "eval_count",
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
)


def request_body(request: ChatRequest) -> bytes:
    """`num_ctx` is set explicitly: Ollama's small default silently drops early messages."""
    return orjson.dumps(
        {
            "model": request.model,
            "messages": request.messages,
            "stream": True,
            "options": {
                "temperature": request.temperature,
                "top_k": request.top_k,
                "top_p": request.top_p,
                "num_predict": request.max_tokens,
                "num_ctx": request.context_length,
            },
        }
    )


async def stream(endpoint: Endpoint, request: ChatRequest) -> AsyncIterator[str | ChatResult]:
    """Text deltas as they arrive, then one ChatResult; every failure raised as LLMError."""
    call = Call(KIND, endpoint, request)
    parts = call.parts
    loads = orjson.loads
    final: dict[str, Any] | None = None
    try:
        body = request_body(request)
        async with open_stream(endpoint, "/api/chat", body, model=request.model) as response:
            ctype = response.headers.get("content-type", "")
            if not ctype.startswith(("application/x-ndjson", "application/json")):
                raise protocol_error(KIND, f"a {ctype.split(';')[0] or 'untyped'} body")
            tail = b""
            async for chunk in response.aiter_bytes():
                if tail:
                    chunk = tail + chunk
                lines = chunk.split(b"\n")
                tail = lines.pop()
                for line in lines:
                    if not line or line.isspace():
                        continue
                    obj = loads(line)
                    if "error" in obj:
                        raise stream_error(endpoint, obj["error"])
                    message = obj.get("message")
                    if message:
                        content = message.get("content")
                        if content:
                            if call.first is None:
                                call.first = perf_counter()
                            parts.append(content)
                            yield content
                    if obj.get("done"):
                        final = obj
            if tail.strip():
                final = _last_line(endpoint, loads(tail), final)
        if final is None:
            raise ended_early()
        prompt, completion = final.get("prompt_eval_count"), final.get("eval_count")
        yield call.result(
            model=final.get("model"),
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=None if prompt is None or completion is None else prompt + completion,
            finish_reason=final.get("done_reason"),
            raw_usage={name: final[name] for name in RAW_FIELDS if name in final},
        )
    except BaseException as exc:
        raise call.failed(exc)  # noqa: B904 (exc itself, or an LLMError chained to it)


def _last_line(
    endpoint: Endpoint, obj: dict[str, Any], final: dict[str, Any] | None
) -> dict[str, Any] | None:
    """A last line without its newline: an error, or the final record."""
    if "error" in obj:
        raise stream_error(endpoint, obj["error"])
    return obj if obj.get("done") else final


def stream_error(endpoint: Endpoint, error: Any) -> LLMError:
    """An `{"error": "..."}` line inside a 200 answer."""
    return LLMError(
        f"The endpoint reported an error: {scrub(endpoint, str(error))[:300] or 'no details'}.",
        retryable=True,
    )
