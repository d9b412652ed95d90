"""The gateway's Ollama wire: an OpenAI body translated to Ollama's /api/chat, the answer back.

Sampling parameters go into Ollama's `options` (`max_tokens` as `num_predict`), a JSON
`response_format` into `format`, `tools` as they are; tool-call arguments (a JSON string in
OpenAI's messages, an object in Ollama's) are converted both ways. The NDJSON answer becomes
OpenAI chunks (or one completion), with usage made from Ollama's counts.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from .lines import LineSplitter
from .ollama import RAW_FIELDS
from .relay_record import Relayed, RelayError

PATH = "/api/chat"
DONE = b"data: [DONE]\n\n"
# OpenAI parameter -> Ollama option, where the meaning is the same.
OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "seed": "seed",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "max_tokens": "num_predict",
    "max_completion_tokens": "num_predict",
}


def upstream_body(body: dict[str, Any], stream: bool) -> bytes:
    options = {OPTIONS[name]: value for name, value in body.items() if name in OPTIONS}
    stop = body.get("stop")
    if stop:
        options["stop"] = [stop] if isinstance(stop, str) else stop
    out: dict[str, Any] = {
        "model": body["model"],
        "messages": [ollama_message(m) for m in body["messages"]],
        "stream": stream,
        "options": options,
    }
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_object":
        out["format"] = "json"
    elif response_format.get("type") == "json_schema":
        out["format"] = (response_format.get("json_schema") or {}).get("schema") or "json"
    if body.get("tools"):
        out["tools"] = body["tools"]
    return orjson.dumps(out)


def ollama_message(message: dict[str, Any]) -> dict[str, Any]:
    """One OpenAI message as Ollama reads it (text parts joined, tool-call arguments as objects)."""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
    out: dict[str, Any] = {"role": message["role"], "content": content or ""}
    calls = message.get("tool_calls")
    if calls:
        out["tool_calls"] = [
            {"function": {"name": c["function"]["name"], "arguments": _arguments(c)}} for c in calls
        ]
    if message.get("name"):
        out["tool_name"] = message["name"]
    return out


def _arguments(call: dict[str, Any]) -> Any:
    raw = call["function"].get("arguments") or "{}"
    try:
        return orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        return raw


def openai_tool_calls(calls: list[dict[str, Any]], first_index: int = 0) -> list[dict[str, Any]]:
    """Ollama's tool calls as OpenAI's (ids made up: Ollama gives none)."""
    out = []
    for offset, call in enumerate(calls):
        function = call.get("function") or {}
        arguments = function.get("arguments", {})
        out.append(
            {
                "index": first_index + offset,
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": arguments
                    if isinstance(arguments, str)
                    else orjson.dumps(arguments).decode(),
                },
            }
        )
    return out


def note_final(record: Relayed, final: dict[str, Any]) -> dict[str, Any] | None:
    """Ollama's final line into the record; the OpenAI usage object (None without counts)."""
    raw = {name: final[name] for name in RAW_FIELDS if name in final}
    prompt, completion = final.get("prompt_eval_count"), final.get("eval_count")
    total = None if prompt is None or completion is None else prompt + completion
    record.usage(raw or None, prompt, completion, total)
    reason = "tool_calls" if record.tool_calls else final.get("done_reason") or "stop"
    record.finish_reason = reason
    if prompt is None and completion is None:
        return None
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def _stamp(model: str, kind: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
    }


def read_whole(raw: bytes, record: Relayed) -> bytes:
    """Ollama's one JSON answer as an OpenAI chat completion."""
    final = orjson.loads(raw)
    if not isinstance(final, dict) or "message" not in final:
        raise RelayError("The endpoint's answer is not an Ollama /api/chat reply.")
    record.model = final.get("model") or record.model
    message = final.get("message") or {}
    content = message.get("content") or ""
    if content:
        record.got(content)
    reply: dict[str, Any] = {"role": "assistant", "content": content}
    if message.get("tool_calls"):
        reply["tool_calls"] = record.tool_calls = openai_tool_calls(message["tool_calls"])
        for call in reply["tool_calls"]:
            del call["index"]
    usage = note_final(record, final)
    choice = {"index": 0, "message": reply, "logprobs": None, "finish_reason": record.finish_reason}
    completion = {**_stamp(record.model, "chat.completion"), "choices": [choice]}
    if usage is not None:
        completion["usage"] = usage
    return orjson.dumps(completion)


class StreamReader:
    """NDJSON from Ollama in, OpenAI SSE chunks out, noting the record."""

    __slots__ = ("base", "calls", "done", "include_usage", "record", "splitter")

    def __init__(self, record: Relayed, include_usage: bool) -> None:
        self.record = record
        self.include_usage = include_usage
        self.splitter = LineSplitter()
        self.base = orjson.dumps(_stamp(record.model, "chat.completion.chunk"))[:-1]
        self.calls = 0
        self.done = False

    def _chunk(self, delta: dict[str, Any], reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        return b"data: " + self.base + b',"choices":' + orjson.dumps([choice]) + b"}\n\n"

    def feed(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        for line in self.splitter.feed(chunk):
            if line and not line.isspace():
                out.append(self._line(line))
        return b"".join(out)

    def _line(self, line: bytes) -> bytes:
        data = orjson.loads(line)
        if "error" in data:
            raise RelayError(f"The endpoint reported an error: {str(data['error'])[:300]}.")
        record = self.record
        message = data.get("message") or {}
        delta: dict[str, Any] = {} if record.parts or self.calls else {"role": "assistant"}
        content = message.get("content")
        if content:
            record.got(content)
            delta["content"] = content
        if message.get("tool_calls"):
            calls = openai_tool_calls(message["tool_calls"], self.calls)
            self.calls += len(calls)
            record.tool_delta(calls)
            delta["tool_calls"] = calls
        out = self._chunk(delta) if len(delta) > ("role" in delta) else b""
        if data.get("done"):
            self.done = True
            usage = note_final(record, data)
            out += self._chunk({}, record.finish_reason)
            if usage is not None and self.include_usage:
                out += b"data: " + self.base + b',"choices":[],"usage":' + orjson.dumps(usage)
                out += b"}\n\n"
            out += DONE
        return out

    def end(self) -> bytes:
        rest = self.splitter.rest
        out = self._line(rest) if rest and not rest.isspace() else b""
        if not self.done:
            raise RelayError(
                "The endpoint's stream ended before its final record; the answer may be incomplete."
            )
        return out
