"""The gateway's OpenAI wire: the client's body forwarded unchanged, the answer passed through.

Streams always ask the endpoint for usage (`stream_options.include_usage`); the usage-only
chunk reaches the client only when the client asked for it. Every event is read (the record
needs its text, tool calls, finish reason and usage) and passed on as the endpoint wrote it.
"""

from __future__ import annotations

from typing import Any

import orjson

from .lines import LineSplitter
from .relay_record import Relayed, RelayError

PATH = "/chat/completions"
DONE = b"data: [DONE]\n\n"


def upstream_body(body: dict[str, Any], stream: bool) -> bytes:
    """The client's body; a stream also asks for usage."""
    if not stream:
        return orjson.dumps(body)
    options = {**(body.get("stream_options") or {}), "include_usage": True}
    return orjson.dumps({**body, "stream": True, "stream_options": options})


def read_whole(raw: bytes, record: Relayed) -> bytes:
    """A whole completion: noted in `record`, passed on as it came."""
    data = orjson.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise RelayError("The endpoint's answer is not an OpenAI chat completion.")
    record.model = data.get("model") or record.model
    usage = data.get("usage")
    if isinstance(usage, dict):
        note_usage(record, usage)
    for choice in data["choices"]:
        if choice.get("index", 0) == 0:
            message = choice.get("message") or {}
            content = message.get("content")
            if isinstance(content, str) and content:
                record.got(content)
            if message.get("tool_calls"):
                record.tool_calls = message["tool_calls"]
            record.finish_reason = choice.get("finish_reason")
    return raw


def note_usage(record: Relayed, usage: dict[str, Any]) -> None:
    record.usage(
        usage, usage.get("prompt_tokens"), usage.get("completion_tokens"), usage.get("total_tokens")
    )


def stream_error(record: dict[str, Any]) -> RelayError:
    """An `{"error": ...}` event inside a 200 stream."""
    error = record.get("error", record)
    message = error.get("message", "") if isinstance(error, dict) else str(error)
    return RelayError(f"The endpoint reported an error: {str(message)[:300] or 'no details'}.")


class StreamReader:
    """SSE bytes from the endpoint in, SSE bytes for the client out, noting the record."""

    __slots__ = ("data", "done", "event", "include_usage", "record", "splitter")

    def __init__(self, record: Relayed, include_usage: bool) -> None:
        self.record = record
        self.include_usage = include_usage
        self.splitter = LineSplitter()
        self.event = b""
        self.data: bytes | None = None
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        """The client's bytes for the events `chunk` completes (b"" for none)."""
        out: list[bytes] = []
        for line in self.splitter.feed(chunk):
            if line:
                if line[:5] == b"data:":
                    value = line[6:] if line[5:6] == b" " else line[5:]
                    self.data = value if self.data is None else self.data + b"\n" + value
                elif line[:6] == b"event:":
                    self.event = line[6:].strip()
                continue
            if self.data is not None and self._keep(self.event, self.data):
                out.append(b"data: " + self.data + b"\n\n")
            self.event, self.data = b"", None
        return b"".join(out) if out else b""

    def _keep(self, event: bytes, data: bytes) -> bool:
        if data == b"[DONE]":
            self.done = True
            return True
        chunk = orjson.loads(data)
        if event == b"error" or "error" in chunk:
            raise stream_error(chunk)
        record = self.record
        choices = chunk.get("choices")
        usage = chunk.get("usage")
        if usage:
            note_usage(record, usage)
            if not choices and not self.include_usage:
                return False  # asked for by the gateway, not by the client
        if choices:
            for choice in choices:
                if choice.get("index", 0):
                    continue
                delta = choice.get("delta")
                if delta:
                    content = delta.get("content")
                    if content:
                        record.got(content)
                    if delta.get("tool_calls"):
                        record.tool_delta(delta["tool_calls"])
                if choice.get("finish_reason"):
                    record.finish_reason = choice["finish_reason"]
        if record.first is None and chunk.get("model"):
            record.model = chunk["model"]
        return True

    def end(self) -> bytes:
        """At the end of the body: a last `[DONE]` without its blank line; or the stream ended
        before its final record (RelayError)."""
        if not self.done and self.splitter.rest.strip() == b"data: [DONE]":
            self.done = True
            return DONE
        if not self.done and self.record.finish_reason is None:
            raise RelayError(
                "The endpoint's stream ended before its final record; the answer may be incomplete."
            )
        return b""
