"""A lean load client for bursts of streamed chats: each request built once before the burst,
sent on a connection of its own, its response parsed by httptools (uvicorn's C parser).

The load client shares the machine's two cores with the app: through httpx it spent about 20 %
of them in a 300-chat burst (about 150 µs a received event, anyio and h11 in pure Python), CPU the
app under test did not get. This client reads the same events for a fraction of that; what each
stream records is what `common.stream_chat` records (meta and delta arrival times, done, error).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import common
import httptools
import httpx


def build_request(base_url: str, session_key: str, question: str) -> bytes:
    """POST /ask/stream/ as the chat page's script sends it (multipart form), as raw bytes."""
    csrf = "c" * 32  # a 32-character secret is a valid unmasked CSRF token
    request = httpx.Request(
        "POST",
        f"{base_url}/ask/stream/",
        data={**common.FORM, "question": question},
        files={"file_upload": ("", b"", "application/octet-stream")},
        headers={
            "Cookie": f"sessionid={session_key}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "Accept": "text/event-stream",
            "Connection": "close",
        },
    )
    body = request.read()
    head = [f"POST {request.url.raw_path.decode()} HTTP/1.1"]
    head += [f"{name}: {value}" for name, value in request.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _Stream(asyncio.Protocol):
    """One response: events handed to `common._sse_event` as they arrive."""

    def __init__(self, result: dict[str, Any], finished: asyncio.Future) -> None:
        self.result, self.finished = result, finished
        self.parser = httptools.HttpResponseParser(self)
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._finish(f"bad response: {exc}")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status != 200:
            self.result["error"] = f"HTTP {status}"

    def on_body(self, body: bytes) -> None:
        self.buffer += body
        *events, self.buffer = self.buffer.split(b"\n\n")
        now = time.perf_counter()
        for event in events:
            common._sse_event(event, now, self.result)

    def on_message_complete(self) -> None:
        self._finish(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(f"connection lost: {exc}" if exc else "connection closed early")

    def _finish(self, error: str | None) -> None:
        if not self.finished.done():
            if error and not self.result["error"]:
                self.result["error"] = error
            self.finished.set_result(None)


async def stream_chat(base_url: str, request: bytes, timeout: float = 120) -> dict[str, Any]:
    """Send one prebuilt request and read its events to the end (see `common.stream_chat`)."""
    parts = urlsplit(base_url)
    loop = asyncio.get_running_loop()
    result: dict[str, Any] = {"start": time.perf_counter(), "deltas": [], "done": False}
    result["error"] = None
    finished = loop.create_future()
    transport = None
    try:
        transport, _ = await loop.create_connection(
            lambda: _Stream(result, finished), parts.hostname, parts.port
        )
        transport.write(request)
        result["sent"] = time.perf_counter()
        await asyncio.wait_for(finished, timeout)
    except (OSError, TimeoutError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if transport is not None:
            transport.close()
    result["end"] = time.perf_counter()
    if not result["done"] and result["error"] is None:
        result["error"] = "stream ended without a done event"
    return result
