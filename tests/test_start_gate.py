"""A burst of stream starts goes into the app a few at a time; nothing else waits on the gate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llm_metadata.start_gate import StartGate, is_stream_start


def scope(path: str, method: str = "POST", accept: bytes = b"*/*") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": [(b"accept", accept)]}


class SlowStarts:
    """An ASGI app whose responses start after `start_delay` and stream for `stream_time`;
    it records how many requests were inside it before their response started."""

    def __init__(self, start_delay: float = 0.02, stream_time: float = 0.0) -> None:
        self.start_delay, self.stream_time = start_delay, stream_time
        self.starting = 0
        self.most_starting = 0
        self.order: list[str] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.order.append(scope["path"])
        self.starting += 1
        self.most_starting = max(self.most_starting, self.starting)
        await asyncio.sleep(self.start_delay)
        self.starting -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(self.stream_time)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def call(app: Any, request_scope: dict) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(request_scope, receive, send)
    return sent


@pytest.mark.parametrize(
    ("request_scope", "gated"),
    [
        (scope("/ask/stream/"), True),
        (scope("/compare/stream/"), True),
        (scope("/compare/5b0e4b8e-8c8e-4f43-9d47-a3f1f3b4b0a1/stream/"), True),
        (scope("/message/7/regenerate/", accept=b"text/event-stream"), True),
        (scope("/ask/"), False),
        (scope("/ask/stream/", method="GET"), False),
        (scope("/message/7/regenerate/", accept=b"text/html"), False),
        ({"type": "websocket", "path": "/ask/stream/"}, False),
    ],
)
def test_it_gates_only_posts_that_start_a_stream(request_scope: dict, gated: bool) -> None:
    assert is_stream_start(request_scope) is gated


async def test_a_burst_starts_a_few_at_a_time_in_arrival_order() -> None:
    app = SlowStarts()
    gate = StartGate(app, at_once=3)
    paths = [f"/q{i}/stream/" for i in range(12)]
    results = await asyncio.gather(*(call(gate, scope(path)) for path in paths))
    assert app.most_starting == 3
    assert app.order == paths
    assert all(sent[-1]["type"] == "http.response.body" for sent in results)


async def test_streams_already_started_do_not_hold_the_gate() -> None:
    """Twenty long streams through a gate of two: they start one after another in about
    ten start delays, not twenty stream times."""
    app = SlowStarts(start_delay=0.01, stream_time=1.0)
    gate = StartGate(app, at_once=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = [asyncio.create_task(call(gate, scope(f"/s{i}/stream/"))) for i in range(20)]
    while len(app.order) < 20:
        await asyncio.sleep(0.005)
        assert loop.time() - started < 0.9, "a started stream kept its place in the gate"
    await asyncio.gather(*tasks)
    assert app.most_starting == 2


async def test_other_requests_pass_while_the_gate_is_full() -> None:
    app = SlowStarts(start_delay=0.5)
    gate = StartGate(app, at_once=1)
    blocked = [asyncio.create_task(call(gate, scope(f"/b{i}/stream/"))) for i in range(3)]
    await asyncio.sleep(0.01)
    page = await asyncio.wait_for(call(gate, scope("/history/", method="GET")), timeout=0.7)
    assert page[0]["status"] == 200
    assert app.order[:2] == ["/b0/stream/", "/history/"]
    await asyncio.gather(*blocked)


async def test_a_start_that_fails_leaves_the_gate() -> None:
    calls = 0

    async def failing(scope: dict, receive: Any, send: Any) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("the view failed before its response")

    gate = StartGate(failing, at_once=1)
    for _ in range(3):  # with the slot kept, the second call would wait for ever
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(call(gate, scope("/ask/stream/")), timeout=1)
    assert calls == 3


async def test_no_gate_at_zero() -> None:
    app = SlowStarts()
    gate = StartGate(app, at_once=0)
    await asyncio.gather(*(call(gate, scope(f"/z{i}/stream/")) for i in range(8)))
    assert app.most_starting == 8
