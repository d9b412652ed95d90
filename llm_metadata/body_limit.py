"""Refuse request bodies over the upload limit before they are read, with a clear 413.

Django has no such limit: DATA_UPLOAD_MAX_MEMORY_SIZE counts only form fields (not files), and
FILE_UPLOAD_MAX_MEMORY_SIZE is where an upload moves from memory to a temporary file, not a cap.
Under ASGI, Django's handler reads the whole body into a temporary file before any middleware
runs, so `BodyLimitASGI` wraps the application (main/asgi.py): it answers 413 at once when
Content-Length is too large, and stops reading a body sent without one as soon as it passes the
limit. `BodyLimitMiddleware` does the Content-Length check for WSGI (and the test client), where
Django reads the body only when a view asks for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from .files import limit_bytes

# Room for the form fields that travel with the file (a question is at most 100,000 characters).
FORM_ALLOWANCE = 1024 * 1024

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def limit() -> int:
    """The largest request body accepted, in bytes."""
    return limit_bytes() + FORM_ALLOWANCE


def message() -> str:
    return f"The upload is too large: files can be at most {settings.MAX_UPLOAD_MB} MB."


def _wants_json(accept: str) -> bool:
    # The chat page's script posts with Accept: text/event-stream and shows JSON errors inline.
    return "application/json" in accept or "text/event-stream" in accept


def _body(accept: str) -> tuple[bytes, str]:
    """The 413 body and its content type: JSON for scripts, a short page for browsers."""
    if _wants_json(accept):
        response = JsonResponse({"errors": {"file_upload": [message()]}}, status=413)
        return response.content, response["Content-Type"]
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Upload too large</title>"
        f"<h1>Upload too large</h1><p>{message()}</p>"
        "<p>Go back, choose a smaller file and try again.</p></html>"
    )
    return page.encode(), "text/html; charset=utf-8"


def _content_length(raw: str | bytes | None) -> int | None:
    try:
        return int(raw) if raw not in (None, b"", "") else None
    except ValueError:
        return None


class BodyLimitMiddleware:
    """413 for a request whose Content-Length is over the limit, before its body is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = _content_length(request.META.get("CONTENT_LENGTH"))
        if length is not None and length > limit():
            body, content_type = _body(request.headers.get("Accept", ""))
            response = HttpResponse(body, status=413, content_type=content_type)
            response["Connection"] = "close"
            return response
        return self.get_response(request)


class BodyLimitASGI:
    """The same limit around the ASGI application, before Django spools the body to disk."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        accept = headers.get(b"accept", b"").decode("latin-1")
        length = _content_length(headers.get(b"content-length"))
        if length is not None and length > limit():
            await _send_413(send, accept)
            return
        received = 0
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit():
                    # Django's handler treats a disconnect as the end: it sends nothing.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return event

        await self.app(scope, limited_receive, send)
        if exceeded:
            await _send_413(send, accept)


async def _send_413(send: Send, accept: str) -> None:
    body, content_type = _body(accept)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
