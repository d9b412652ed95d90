"""What a fake LLM server is told to do, and what it saw (bodies and headers, for asserts)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

LOREM = [" lorem", " ipsum", " dolor", " sit", " amet", ","]
MODES = (
    "ok",  # stream the reply (or answer in one JSON body when the request does not stream)
    "json",  # openai: answer with one non-streamed completion even when asked to stream
    "status",  # answer `status` with the protocol's error body
    "rate_limit",  # 429 (Retry-After: 0) for `rate_limits` requests, then ok
    "html",  # 200 with an HTML page
    "bad_json",  # a stream record that is not JSON
    "stream_error",  # two tokens, then the protocol's in-stream error record
    "cut",  # two tokens, then the connection is dropped mid-body
    "end_early",  # two tokens, then a clean end without the final record
    "stall",  # two tokens, then silence until the client goes away
    "keepalive",  # two tokens, then only keep-alives (SSE comments, blank NDJSON lines) forever
    "hang",  # never send the response headers
    "raw",  # send `raw_chunks` verbatim as a 200 of type `raw_type`
)


@dataclass
class FakeState:
    """Per-server behaviour, changed by tests between requests; `reset()` restores defaults."""

    kind: str = "openai"
    mode: str = "ok"
    reply: str = "The capital of France is Paris."
    replies: dict[str, str] = field(default_factory=dict)  # a model's own reply, if it has one
    tokens: int | None = None  # when set: a reply of that many lorem tokens
    delay: float = 0.0  # seconds between streamed records (and keep-alives)
    list_delay: float = 0.0  # seconds before the model list is answered
    status: int = 500
    rate_limits: int = 99
    usage: bool = True  # openai: send the usage chunk when stream_options asks for it
    api_key: str = ""  # when set, requests without `Authorization: Bearer <key>` get 401
    models: list[str] = field(default_factory=lambda: ["fake-small", "fake-large"])
    raw_chunks: list[bytes] = field(default_factory=list)
    raw_type: str = "text/event-stream"
    requests: list[dict[str, Any]] = field(default_factory=list)
    disconnects: int = 0

    def reset(self) -> None:
        """Back to the defaults (keeping kind), with an empty record."""
        fresh = FakeState(kind=self.kind)
        for name in fresh.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def pieces(self, model: str = "") -> list[str]:
        """The reply (`model`'s own, if it has one) as the tokens the server streams."""
        if self.tokens is not None:
            return [LOREM[i % len(LOREM)] for i in range(self.tokens)]
        return re.findall(r"\s*\S+", self.replies.get(model, self.reply))

    @property
    def last(self) -> dict[str, Any]:
        """The last chat request received: {"method", "path", "query", "headers", "body"}."""
        chats = [r for r in self.requests if r["path"].endswith(("/chat/completions", "/api/chat"))]
        return chats[-1]
