"""Ollama's native chat: `POST {url}/api/chat`, streamed as NDJSON (one JSON object a line)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson

from .calls import Call, ended_early, media_type, protocol_error
from .endpoint import Endpoint
from .errors import LLMError
from .lines import read_lines
from .transport import open_stream
from .types import CANCELLED, ChatRequest

KIND = "ollama"
PATH = "/api/chat"
MEDIA_TYPES = ("application/x-ndjson", "application/json")
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


async def stream(call: Call) -> AsyncGenerator[str, None]:
    """Text deltas as they arrive; `call` decides and records how the call ended."""
    final: dict[str, Any] | None = None
    try:
        body = request_body(call.request)
        async with open_stream(
            call.endpoint, PATH, body, model=call.request.model, deadline=call.deadline
        ) as response:
            if media_type(response) not in MEDIA_TYPES:
                raise protocol_error(KIND, f"a {media_type(response) or 'untyped'} body")
            async for line in read_lines(response.aiter_bytes(), call.deadline):
                record = _record(call.endpoint, line)
                if record is None:
                    continue
                message = record.get("message")
                if message and message.get("content"):
                    yield call.got(message["content"])
                if record.get("done"):
                    final = record
        call.finish(**_ending(final))
    except BaseException as exc:
        if call.end(exc).status == CANCELLED:
            raise


def _record(endpoint: Endpoint, line: bytes) -> dict[str, Any] | None:
    """One line's JSON object (None for a blank line); LLMError for an error line."""
    if not line or line.isspace():
        return None
    record = orjson.loads(line)
    if "error" in record:
        raise stream_error(endpoint, record["error"])
    return record


def _ending(final: dict[str, Any] | None) -> dict[str, Any]:
    """The final record's counts and reason; LLMError when the stream ended without it."""
    if final is None:
        raise ended_early()
    prompt, completion = final.get("prompt_eval_count"), final.get("eval_count")
    return {
        "model": final.get("model"),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": None if prompt is None or completion is None else prompt + completion,
        "finish_reason": final.get("done_reason"),
        "raw_usage": {name: final[name] for name in RAW_FIELDS if name in final},
    }


def stream_error(endpoint: Endpoint, error: Any) -> LLMError:
    """An `{"error": "..."}` line inside a 200 answer."""
    return LLMError(
        f"The endpoint reported an error: {endpoint.redact(str(error))[:300] or 'no details'}.",
        retryable=True,
    )
