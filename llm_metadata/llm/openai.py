"""OpenAI-compatible chat completions: `POST {API_URL}/chat/completions`, streamed as SSE.

The SSE parsing is inlined here because it runs once per token: it reads `data:` lines straight
from the byte stream (comments, multi-line data, `event: error`, CR/LF/CRLF line ends handled),
with no object per chunk beyond the decoded JSON; bench/llm_relay.py measures it.
"""

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

KIND = "openai"


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


async def stream(endpoint: Endpoint, request: ChatRequest) -> AsyncIterator[str | ChatResult]:
    """Text deltas as they arrive, then one ChatResult; every failure raised as LLMError."""
    call = Call(KIND, endpoint, request)
    parts = call.parts
    loads = orjson.loads
    usage: dict[str, Any] | None = None
    finish: str | None = None
    model: str | None = None
    done = False
    try:
        body = request_body(request)
        async with open_stream(
            endpoint, "/chat/completions", body, model=request.model
        ) as response:
            ctype = response.headers.get("content-type", "")
            if ctype.startswith("application/json"):
                # A server that ignored `stream: true` answers with one completion object.
                data = loads(await response.aread())
                if "error" in data:
                    raise stream_error(endpoint, data)
                choice = data["choices"][0]
                text = choice["message"].get("content") or ""
                if text:
                    call.first = perf_counter()
                    parts.append(text)
                    yield text
                yield call.result(
                    model=data.get("model"),
                    finish_reason=choice.get("finish_reason"),
                    **usage_fields(data.get("usage")),
                )
                return
            if not ctype.startswith("text/event-stream"):
                raise protocol_error(KIND, f"a {ctype.split(';')[0] or 'untyped'} body")
            event = b""
            data_bytes: bytes | None = None
            tail = b""
            skip_lf = False
            async for chunk in response.aiter_bytes():
                if skip_lf:
                    skip_lf = False
                    if chunk[:1] == b"\n":
                        chunk = chunk[1:]
                if tail:
                    chunk = tail + chunk
                if b"\r" in chunk:
                    skip_lf = chunk[-1:] == b"\r"
                    chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                lines = chunk.split(b"\n")
                tail = lines.pop()
                for line in lines:
                    if line:
                        if line[:5] == b"data:":
                            value = line[6:] if line[5:6] == b" " else line[5:]
                            data_bytes = value if data_bytes is None else data_bytes + b"\n" + value
                        elif line[:6] == b"event:":
                            event = line[6:].strip()
                        continue  # comments (":...") and id/retry fields are ignored
                    if data_bytes is None:
                        event = b""
                        continue
                    if data_bytes == b"[DONE]":
                        done = True
                    else:
                        obj = loads(data_bytes)
                        if event == b"error" or "error" in obj:
                            raise stream_error(endpoint, obj)
                        choices = obj.get("choices")
                        if choices:
                            choice = choices[0]
                            delta = choice.get("delta")
                            if delta:
                                content = delta.get("content")
                                if content:
                                    if call.first is None:
                                        call.first = perf_counter()
                                    parts.append(content)
                                    yield content
                            if choice.get("finish_reason"):
                                finish = choice["finish_reason"]
                        if obj.get("usage"):
                            usage = obj["usage"]
                        if model is None:
                            model = obj.get("model")
                    data_bytes = None
                    event = b""
            if tail.strip() == b"data: [DONE]" or data_bytes == b"[DONE]":
                done = True  # the last event lacked its blank line; accept it
        if not done and finish is None:
            raise ended_early()
        yield call.result(model=model, finish_reason=finish, **usage_fields(usage))
    except BaseException as exc:
        raise call.failed(exc)  # noqa: B904 (exc itself, or an LLMError chained to it)


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
        f"The endpoint reported an error: {scrub(endpoint, str(message))[:300] or 'no details'}.",
        retryable=True,
    )
