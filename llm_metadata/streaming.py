"""Server-sent events for the chat: the event encoding, and text deltas merged into fewer events.

Each event costs the server CPU (framing, a send through the ASGI server), so deltas that arrive
within WINDOW of the last event sent go out together, once that window has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from time import monotonic
from typing import Any, TypeVar

import orjson

WINDOW = 0.03  # seconds
T = TypeVar("T")


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event; orjson never emits raw newlines, so one `data:` line suffices."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def coalesce(
    source: AsyncIterator[str | T], window: float = WINDOW
) -> AsyncIterator[str | T]:
    """`source`'s items, with str items that arrive within `window` of the last one sent joined.

    A str arriving after a quiet `window` goes out at once, so the first token is not held back.
    Any other item flushes the pending text, then passes through. Closing this closes `source`.
    """
    iterator = aiter(source)
    pending: asyncio.Future | None = None
    buffer: list[str] = []
    last_sent = float("-inf")
    try:
        while True:
            if pending is None and not buffer:
                # No text waits for its window, so no timer: await the source directly (a task
                # and a wait per token cost ~20 us each for models slower than the window).
                try:
                    item = await anext(iterator)
                except StopAsyncIteration:
                    break
            else:
                if pending is None:
                    pending = asyncio.ensure_future(anext(iterator))
                timeout = max(0.0, last_sent + window - monotonic()) if buffer else None
                done, _ = await asyncio.wait((pending,), timeout=timeout)
                if not done:  # the window closed with text waiting
                    yield "".join(buffer)
                    buffer.clear()
                    last_sent = monotonic()
                    continue
                future, pending = pending, None
                try:
                    item = future.result()
                except StopAsyncIteration:
                    break
                except Exception:
                    if buffer:  # the text before a failure still reaches the reader
                        yield "".join(buffer)
                        buffer.clear()
                    raise
            if not isinstance(item, str):
                if buffer:
                    yield "".join(buffer)
                    buffer.clear()
                yield item
                continue
            buffer.append(item)
            if monotonic() - last_sent >= window:
                yield "".join(buffer)
                buffer.clear()
                last_sent = monotonic()
        if buffer:
            yield "".join(buffer)
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
