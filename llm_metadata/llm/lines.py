"""Reading a streamed body line by line: shared by the SSE (OpenAI) and NDJSON (Ollama) parsers.

Lines may end in LF, CRLF or CR, and the transport may split the body anywhere (a CRLF
included). This runs once per token: no object per line beyond the line itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from time import perf_counter

from .errors import PastDeadline


class LineSplitter:
    """Bytes in, whole lines out (without their ends), however the bytes were split."""

    __slots__ = ("rest", "skip_lf")

    def __init__(self) -> None:
        self.rest = b""  # the last line so far, still without its end
        self.skip_lf = False  # the previous chunk ended in CR: a LF opening the next one is its

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines that `chunk` completes."""
        if self.skip_lf:
            self.skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if self.rest:
            chunk = self.rest + chunk
        if b"\r" in chunk:
            self.skip_lf = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        self.rest = lines.pop()
        return lines


async def read_lines(chunks: AsyncIterator[bytes], deadline: float) -> AsyncIterator[bytes]:
    """Each line of the body, then the last one even without its end.

    Raises PastDeadline when a chunk arrives after `deadline` (a perf_counter time).
    """
    splitter = LineSplitter()
    async for chunk in chunks:
        if perf_counter() > deadline:
            raise PastDeadline
        for line in splitter.feed(chunk):
            yield line
    if splitter.rest:
        yield splitter.rest


async def sse_events(chunks: AsyncIterator[bytes], deadline: float) -> AsyncIterator[tuple]:
    """(event, data) of each server-sent event, as bytes; data lines joined with LF.

    Comments and `id`/`retry` fields are skipped. A last event without its blank line is
    dropped (as the SSE rules say), except `data: [DONE]`, which some servers send that way.
    Raises PastDeadline when a chunk arrives after `deadline` (a perf_counter time).
    """
    splitter = LineSplitter()
    event = b""
    data: bytes | None = None
    # The line loop is read_lines' own, inlined: a generator step per line costs per token.
    async for chunk in chunks:
        if perf_counter() > deadline:
            raise PastDeadline
        for line in splitter.feed(chunk):
            if line:
                if line[:5] == b"data:":
                    value = line[6:] if line[5:6] == b" " else line[5:]
                    data = value if data is None else data + b"\n" + value
                elif line[:6] == b"event:":
                    event = line[6:].strip()
                continue
            if data is not None:
                yield event, data
            event, data = b"", None
    if data == b"[DONE]" or splitter.rest.strip() == b"data: [DONE]":
        yield b"", b"[DONE]"
