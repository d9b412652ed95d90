"""The inlined SSE parser reads what httpx-sse reads, however the bytes are split in transit."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import httpx
import orjson
from httpx_sse import EventSource
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_metadata.llm import ChatRequest, Endpoint, achat, transport

EVENTS = (
    ": keep-alive comment\n\n"
    "event: message\n"
    'data: {"model":"m1","choices":[{"delta":{"role":"assistant","content":"Hel"}}]}\n\n'
    'data: {"choices":[{"delta":\n'
    'data: {"content":"lo"},"finish_reason":null}]}\n\n'
    "id: 5\nretry: 100\n"
    'data:{"choices":[{"delta":{"content":" wörld ✓"},"finish_reason":"stop"}]}\n\n'
    'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}\n\n'
    "data: [DONE]\n\n"
)
REQUEST = ChatRequest(
    model="m1",
    messages=[{"role": "user", "content": "hi"}],
    temperature=0,
    top_k=1,
    top_p=1,
    max_tokens=10,
    context_length=4096,
)
ENDPOINT = Endpoint(url="http://llm.test/v1", kind="openai")


def use_chunks(monkeypatch, chunks: list[bytes], ctype: str = "text/event-stream") -> None:
    """Serve `chunks` exactly as given (a mock transport keeps the boundaries)."""

    async def body():
        for chunk in chunks:
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": ctype}, content=body())

    client = httpx.AsyncClient(
        base_url="http://llm.test/v1", transport=httpx.MockTransport(handler)
    )
    monkeypatch.setattr(transport, "get_client", lambda endpoint: client)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(edges) if b > a]


async def reference_text(chunks: list[bytes]) -> str:
    """What httpx-sse (the well-kept parser) makes of the same bytes."""

    async def body():
        for chunk in chunks:
            yield chunk

    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())
    text = []
    async for sse in EventSource(response).aiter_sse():
        if sse.data and sse.data != "[DONE]":
            for choice in orjson.loads(sse.data)["choices"]:
                text.append(choice["delta"].get("content") or "")
    return "".join(text)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_it_parses_any_split_and_line_ending_like_httpx_sse(monkeypatch, newline, cuts):
    data = EVENTS.replace("\n", newline).encode()
    chunks = split(data, cuts)
    use_chunks(monkeypatch, chunks)
    result = asyncio.run(achat(ENDPOINT, REQUEST))
    assert result.text == "Hello wörld ✓" == asyncio.run(reference_text(chunks))
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (3, 3, 6)
    assert result.finish_reason == "stop"
    assert result.model == "m1"


def test_it_ends_on_an_error_event(monkeypatch):
    use_chunks(
        monkeypatch,
        [
            b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n',
            b'event: error\ndata: {"message":"boom"}\n\n',
        ],
    )
    ended = asyncio.run(achat(ENDPOINT, REQUEST))
    assert (ended.status, ended.error) == ("error", "The endpoint reported an error: boom.")
    assert ended.text == "Hi"


def test_it_accepts_a_last_event_without_its_blank_line(monkeypatch):
    use_chunks(monkeypatch, [b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: [DONE]'])
    assert asyncio.run(achat(ENDPOINT, REQUEST)).text == "Hi"
