"""A few stream starts at a time in each worker; a burst of chats waits its turn on the loop.

Starting a streamed answer (POST /ask/stream/, /compare/…/stream/, and a regenerate or edit
asked for as text/event-stream) runs Django's synchronous middleware chain and the view's
preparation in a thread of its own: about 10 ms of CPU, then the response starts and the answer
streams on the event loop. When hundreds start in the same second, hundreds of those threads
fight each other and the loop for the GIL and the database pool: every start finishes late (the
first as late as the last) and the tokens of answers already streaming stall.

`StartGate` (main/asgi.py) lets STREAM_STARTS_AT_ONCE of them run at a time per worker and
queues the rest, in arrival order, as waiting coroutines that cost nothing. A start leaves the
gate as soon as its response starts (or fails), so the gate never holds a stream, only its start;
every other request passes straight through. In bench/burst.py (300 chats started within a
second, with request threads reused: llm_metadata/request_threads.py) a gate of 4 to 16 brought
the p99 time to first token from 2.2-3.6 s to 1.7-2.5 s (README, "Capacity under a burst").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

EVENT_STREAM = b"text/event-stream"


def is_stream_start(scope: Scope) -> bool:
    """A POST that starts a streamed answer: a `…/stream/` URL, or one asking for events."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    if scope["path"].endswith("/stream/"):
        return True
    return any(name == b"accept" and EVENT_STREAM in value for name, value in scope["headers"])


class StartGate:
    """Wraps an ASGI app: at most `at_once` stream starts inside it at a time (0: no gate)."""

    def __init__(self, app: App, at_once: int) -> None:
        self.app = app
        self.at_once = at_once
        # One semaphore per event loop (a worker has one; tests may run several).
        self._gates: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._gates = WeakKeyDictionary()

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.at_once)
        return gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.at_once or not is_stream_start(scope):
            await self.app(scope, receive, send)
            return
        gate = self._gate()
        await gate.acquire()
        inside = True

        def leave() -> None:
            nonlocal inside
            if inside:
                inside = False
                gate.release()

        async def send_and_leave(message: Message) -> None:
            if message["type"] == "http.response.start":
                leave()  # the start is over: the answer streams outside the gate
            await send(message)

        try:
            await self.app(scope, receive, send_and_leave)
        finally:
            leave()
