"""HTTP responses for the record's exports: file downloads, and streams of many rows.

The serialisers in `exports.py` yield chunks; here they become responses that a browser saves
as a file, streamed batch by batch under ASGI as under WSGI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "json": "application/json; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1]


def as_attachment(response: HttpResponse, filename: str) -> HttpResponse:
    """Mark `response` as a file to save under `filename` (an ASCII name the app made)."""
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def file_response(body: str, filename: str) -> HttpResponse:
    """A whole document as a download, typed by its extension."""
    return as_attachment(
        HttpResponse(body, content_type=CONTENT_TYPES[_extension(filename)]), filename
    )


def streaming_response(request: HttpRequest, chunks: Iterator, filename: str) -> HttpResponse:
    """A download streamed chunk by chunk, typed by its extension.

    Under ASGI each chunk is pulled in a worker thread (the serialisers query the database),
    since Django would otherwise collect a synchronous iterator whole before sending it.
    """
    body = _pull(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(body, content_type=CONTENT_TYPES[_extension(filename)])
    return as_attachment(response, filename)


async def _pull(chunks: Iterator) -> AsyncIterator:
    done = object()
    while (chunk := await sync_to_async(next)(chunks, done)) is not done:
        yield chunk
