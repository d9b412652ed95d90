"""The two wire protocols as the fake servers speak them, with every failure on request."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson

from .state import FakeState

SSE = b"text/event-stream"
NDJSON = b"application/x-ndjson"
JSON = b"application/json"
HTML_PAGE = b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>"
FOREVER = 3600.0
KEEPALIVE = {"openai": b": keep-alive\n\n", "ollama": b"\n"}


class Cut(Exception):
    """Raised mid-body: uvicorn then drops the connection without finishing the response."""


class ClientGone(Exception):
    """The client disconnected: the handler stops there."""


class Reply:
    """Sends one HTTP response through ASGI; knows whether the client went away."""

    def __init__(self, send: Any, gone: asyncio.Event) -> None:
        self.send = send
        self.gone = gone
        self.finished = False

    async def start(self, status: int, ctype: bytes, extra: list | None = None) -> None:
        headers = [(b"content-type", ctype), *(extra or [])]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def chunk(self, data: bytes, delay: float = 0.0) -> None:
        if delay:
            await self.wait(delay)
        if self.gone.is_set():
            raise ClientGone
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})
        self.finished = True

    async def whole(
        self, status: int, ctype: bytes, body: bytes, extra: list | None = None
    ) -> None:
        await self.start(status, ctype, extra)
        await self.send({"type": "http.response.body", "body": body})
        self.finished = True

    async def wait(self, seconds: float) -> None:
        """Sleep, but stop with ClientGone as soon as the client disconnects."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.gone.wait(), seconds)
        if self.gone.is_set():
            raise ClientGone


async def handle(
    state: FakeState, method: str, path: str, headers: dict[str, str], body: Any, reply: Reply
) -> None:
    """Route one request."""
    if path.startswith("/_fake/"):
        return await _control(state, path, body, reply)
    openai = state.kind == "openai"
    if state.api_key and headers.get("authorization") != f"Bearer {state.api_key}":
        return await _error(state, 401, "Incorrect API key provided.", reply)
    if method == "GET" and path == ("/v1/models" if openai else "/api/tags"):
        if state.list_delay:
            await reply.wait(state.list_delay)
        if openai:
            data = {"object": "list", "data": [{"id": m, "object": "model"} for m in state.models]}
        else:
            data = {"models": [{"name": m, "model": m, "size": 1} for m in state.models]}
        return await reply.whole(200, JSON, orjson.dumps(data))
    if method != "POST" or path != ("/v1/chat/completions" if openai else "/api/chat"):
        return await reply.whole(404, b"text/plain", b"404 page not found")
    if state.mode == "hang":
        return await reply.wait(FOREVER)
    if state.mode == "html":
        return await reply.whole(200, b"text/html; charset=utf-8", HTML_PAGE)
    if state.mode == "status":
        return await _error(state, state.status, "The server had an error.", reply)
    if state.mode == "rate_limit" and state.rate_limits > 0:
        state.rate_limits -= 1
        extra = [(b"retry-after", b"0")]
        return await _error(state, 429, "Rate limit reached for requests.", reply, extra)
    model = body.get("model", "")
    if model not in state.models:
        if openai:
            message = f"The model `{model}` does not exist or you do not have access to it."
        else:
            message = f'model "{model}" not found, try pulling it first'
        return await _error(state, 404, message, reply, code="model_not_found")
    if state.mode == "raw":
        await reply.start(200, state.raw_type.encode())
        for chunk in state.raw_chunks:
            await reply.chunk(chunk, state.delay)
        return await reply.end()
    if openai:
        await _openai(state, body, reply)
    else:
        await _ollama(state, body, reply)


async def _control(state: FakeState, path: str, body: Any, reply: Reply) -> None:
    if path == "/_fake/requests":
        return await reply.whole(200, JSON, orjson.dumps(state.requests))
    if path == "/_fake/reset":
        state.reset()
    elif path == "/_fake/config" and isinstance(body, dict):
        for name, value in body.items():
            setattr(state, name, value)
    await reply.whole(200, JSON, b'{"ok": true}')


async def _error(
    state: FakeState, status: int, message: str, reply: Reply, extra: list | None = None, code=None
) -> None:
    if state.kind == "openai":
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
        data = {"error": error}
    else:
        data = {"error": message}
    await reply.whole(status, JSON, orjson.dumps(data), extra)


def _prompt_tokens(body: dict[str, Any]) -> int:
    return sum(len(m.get("content", "")) // 4 + 4 for m in body.get("messages", []))


async def _failure_after_two(state: FakeState, reply: Reply, error_record: bytes) -> bool:
    """For the mid-stream failures: act once two tokens went out; True when the reply is done."""
    if state.mode == "cut":
        raise Cut("connection dropped on purpose")
    if state.mode == "stall":
        await reply.wait(FOREVER)
        return True
    if state.mode == "keepalive":
        while True:  # until the client goes away (ClientGone)
            await reply.chunk(KEEPALIVE[state.kind], state.delay or 0.1)
    if state.mode == "bad_json":
        await reply.chunk(b"data: {not json\n\n" if state.kind == "openai" else b"{not json\n")
        await reply.end()
        return True
    if state.mode == "stream_error":
        await reply.chunk(error_record)
        await reply.end()
        return True
    if state.mode == "end_early":
        await reply.end()
        return True
    return False


async def _openai(state: FakeState, body: dict[str, Any], reply: Reply) -> None:
    model = body["model"]
    pieces = state.pieces(model)
    limit = body.get("max_tokens") or len(pieces)
    sent, finish = pieces[:limit], "length" if limit < len(pieces) else "stop"
    usage = {
        "prompt_tokens": _prompt_tokens(body),
        "completion_tokens": len(sent),
        "total_tokens": _prompt_tokens(body) + len(sent),
    }
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
    }
    if state.mode == "json" or not body.get("stream"):
        message = {"role": "assistant", "content": "".join(sent)}
        whole = {**base, "object": "chat.completion", "usage": usage}
        whole["choices"] = [{"index": 0, "message": message, "finish_reason": finish}]
        return await reply.whole(200, JSON, orjson.dumps(whole))

    def record(delta: dict[str, Any], reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        return b"data: " + orjson.dumps({**base, "choices": [choice]}) + b"\n\n"

    await reply.start(200, SSE, [(b"cache-control", b"no-cache")])
    await reply.chunk(record({"role": "assistant", "content": ""}))
    error = b'event: error\ndata: {"error": {"message": "upstream model crashed"}}\n\n'
    for index, piece in enumerate(sent):
        if index == 2 and await _failure_after_two(state, reply, error):
            return
        await reply.chunk(record({"content": piece}), state.delay)
    if state.mode != "ok" and await _failure_after_two(state, reply, error):
        return
    await reply.chunk(record({}, finish))
    if state.usage and (body.get("stream_options") or {}).get("include_usage"):
        last = {**base, "choices": [], "usage": usage}
        await reply.chunk(b"data: " + orjson.dumps(last) + b"\n\n")
    await reply.chunk(b"data: [DONE]\n\n")
    await reply.end()


async def _ollama(state: FakeState, body: dict[str, Any], reply: Reply) -> None:
    model = body["model"]
    pieces = state.pieces(model)
    options = body.get("options") or {}
    limit = options.get("num_predict") or len(pieces)
    sent, finish = pieces[:limit], "length" if limit < len(pieces) else "stop"
    stamp = "2026-01-01T00:00:00Z"
    final = {
        "model": model,
        "created_at": stamp,
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": finish,
        "total_duration": 5_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": _prompt_tokens(body),
        "prompt_eval_duration": 1_000_000,
        "eval_count": len(sent),
        "eval_duration": 3_000_000,
    }
    if body.get("stream") is False:
        final["message"]["content"] = "".join(sent)
        return await reply.whole(200, JSON, orjson.dumps(final))
    await reply.start(200, NDJSON)
    error = b'{"error": "upstream model crashed"}\n'
    for index, piece in enumerate(sent):
        if index == 2 and await _failure_after_two(state, reply, error):
            return
        message = {"role": "assistant", "content": piece}
        line = {"model": model, "created_at": stamp, "message": message, "done": False}
        await reply.chunk(orjson.dumps(line) + b"\n", state.delay)
    if state.mode != "ok" and await _failure_after_two(state, reply, error):
        return
    await reply.chunk(orjson.dumps(final) + b"\n")
    await reply.end()
