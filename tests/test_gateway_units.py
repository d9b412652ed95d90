"""The gateway's parts one by one: the 429 of a limit, body checks, stored forms, translations."""

from __future__ import annotations

import orjson
import pytest

from llm_metadata import gateway
from llm_metadata.llm import relay_ollama, relay_openai
from llm_metadata.llm.relay_record import Relayed, RelayError
from llm_metadata.views.gateway import Clock, error_response


def test_a_limit_refusal_becomes_a_429_in_openais_shape_with_retry_after() -> None:
    response = error_response(gateway.limit_error("Over your hourly budget.", 12.2), Clock())
    assert response.status_code == 429
    assert response["Retry-After"] == "13"
    assert orjson.loads(response.content) == {
        "error": {
            "message": "Over your hourly budget.",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert response["Server-Timing"].startswith("gateway;dur=")


def test_a_limit_refusal_never_says_retry_at_once() -> None:
    assert gateway.limit_error("Slow down.", 0.0).retry_after == 1


def test_admission_applies_the_users_limits(alice, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 1
    assert gateway.admission(alice) is None
    refused = gateway.admission(alice)
    assert refused is not None and (refused.status, refused.code) == (429, "rate_limit_exceeded")
    assert refused.retry_after >= 1


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{", "invalid_json"),
        (b"[1]", "invalid_request"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "missing_model"),
        (b'{"model": "m", "messages": []}', "invalid_messages"),
        (b'{"model": "m", "messages": [{"role": "user", "content": 3}]}', "invalid_messages"),
        (b'{"model": "m", "messages": [{"role": "user"}], "stream": "yes"}', "invalid_request"),
    ],
)
def test_malformed_bodies_are_400(raw: bytes, code: str) -> None:
    with pytest.raises(RelayError) as raised:
        gateway.parse_body(raw)
    assert (raised.value.status, raised.value.code) == (400, code)


def test_tool_messages_and_content_parts_are_stored_with_their_extras() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert gateway.stored_form({"role": "assistant", "content": None, "tool_calls": [call]}) == (
        "assistant",
        "",
        {"tool_calls": [call]},
    )
    assert gateway.stored_form({"role": "tool", "content": "42", "tool_call_id": "c1"}) == (
        "tool",
        "42",
        {"tool_call_id": "c1"},
    )
    parts = [{"type": "text", "text": "see "}, {"type": "image_url", "image_url": {"url": "u"}}]
    assert gateway.stored_form({"role": "user", "content": parts}) == (
        "user",
        "see ",
        {"content": parts},
    )
    assert gateway.stored_form({"role": "developer", "content": "be brief"}) == (
        "system",
        "be brief",
        {"role": "developer"},
    )


def test_the_ollama_body_carries_options_format_tools_and_tool_calls() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "content": "2", "tool_call_id": "c1"},
        ],
        "max_completion_tokens": 9,
        "top_p": 0.5,
        "response_format": {"type": "json_object"},
        "tools": tools,
    }
    sent = orjson.loads(relay_ollama.upstream_body(body, stream=True))
    assert sent["options"] == {"num_predict": 9, "top_p": 0.5}
    assert sent["format"] == "json" and sent["tools"] == tools and sent["stream"] is True
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}],
    }


def test_ollama_tool_calls_come_back_as_openai_chunks() -> None:
    record = Relayed("m")
    reader = relay_ollama.StreamReader(record, include_usage=False)
    call = {"function": {"name": "lookup", "arguments": {"q": "Paris"}}}
    lines = [
        {"model": "m", "message": {"role": "assistant", "content": "", "tool_calls": [call]}},
        {"model": "m", "message": {"content": ""}, "done": True, "eval_count": 3},
    ]
    out = reader.feed(b"".join(orjson.dumps(line) + b"\n" for line in lines)) + reader.end()
    events = [orjson.loads(e[6:]) for e in out.split(b"\n\n") if e and e != b"data: [DONE]"]
    first = events[0]["choices"][0]["delta"]
    assert first["role"] == "assistant"
    assert first["tool_calls"][0]["function"] == {"name": "lookup", "arguments": '{"q":"Paris"}'}
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert out.endswith(b"data: [DONE]\n\n")
    assert record.tool_calls[0]["function"]["name"] == "lookup"
    assert (record.prompt_tokens, record.completion_tokens) == (None, 3)


def test_openai_streams_keep_the_usage_chunk_only_when_asked() -> None:
    usage = b'data: {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 1}}\n\n'
    text = b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}\n\n'
    finish = b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
    stream = text + finish + usage + b"data: [DONE]\n\n"
    for asked in (False, True):
        record = Relayed("m")
        out = relay_openai.StreamReader(record, include_usage=asked).feed(stream)
        assert (b'"usage"' in out) is asked
        assert record.text == "a" and record.prompt_tokens == 2 and record.finish_reason == "stop"


def test_openai_tool_call_deltas_are_merged_for_the_record() -> None:
    record = Relayed("m")
    deltas = [
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"a"'}},
        {"index": 0, "function": {"arguments": ": 1}"}},
    ]
    for delta in deltas:
        record.tool_delta([delta])
    assert record.tool_calls == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
