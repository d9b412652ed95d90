"""Request bodies over the upload limit are refused with 413 before they are read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.asgi import get_asgi_application
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from llm_metadata import body_limit
from llm_metadata.body_limit import BodyLimitASGI

ASK = reverse("llm_metadata:ask")
STREAM = reverse("llm_metadata:ask-stream")
MB = 1024 * 1024


def big_file(megabytes: float) -> SimpleUploadedFile:
    return SimpleUploadedFile("big.txt", b"a" * int(megabytes * MB))


def test_it_refuses_an_oversize_post_with_a_page_that_says_why(
    alice_client: Client, settings
) -> None:
    settings.MAX_UPLOAD_MB = 1
    response = alice_client.post(ASK, {"question": "q", "file_upload": big_file(2.5)})
    assert response.status_code == 413
    assert "files can be at most 1 MB" in response.text
    assert response["Content-Type"].startswith("text/html")


def test_it_answers_the_chat_script_in_json_it_shows_inline(alice_client: Client, settings) -> None:
    settings.MAX_UPLOAD_MB = 1
    response = alice_client.post(
        STREAM,
        {"question": "q", "file_upload": big_file(2.5)},
        HTTP_ACCEPT="text/event-stream",
    )
    assert response.status_code == 413
    assert response.json() == {
        "errors": {"file_upload": ["The upload is too large: files can be at most 1 MB."]}
    }


def test_it_lets_a_file_just_under_the_limit_through_to_the_form(
    alice_client: Client, settings
) -> None:
    settings.MAX_UPLOAD_MB = 1
    response = alice_client.post(ASK, {"question": "", "file_upload": big_file(0.9)})
    assert response.status_code == 400  # the form's own error (no question), not a 413
    assert "Question is required." in response.text


class Recorder:
    """An ASGI `send` that keeps what was sent, and a `receive` that feeds body chunks."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.sent: list[dict[str, Any]] = []
        self.pulled = 0

    async def receive(self) -> dict[str, Any]:
        self.pulled += 1
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.sent if m["type"] == "http.response.start")

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def scope(headers: list[tuple[bytes, bytes]], path: str = "/ask/") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def test_it_refuses_a_large_content_length_without_reading_the_body(settings) -> None:
    settings.MAX_UPLOAD_MB = 1
    called = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope)

    recorder = Recorder([b"x" * MB] * 3)
    headers = [(b"content-length", str(3 * MB).encode()), (b"accept", b"application/json")]
    await BodyLimitASGI(app)(scope(headers), recorder.receive, recorder.send)

    assert called == [] and recorder.pulled == 0
    assert recorder.status == 413
    assert json.loads(recorder.body)["errors"]["file_upload"][0].startswith("The upload is too")


@pytest.mark.django_db(transaction=True)
async def test_it_stops_reading_a_body_sent_without_a_length_once_past_the_limit(
    settings,
) -> None:
    """A chunked body: Django's handler sees a disconnect and answers nothing; the 413 is ours."""
    settings.MAX_UPLOAD_MB = 1
    recorder = Recorder([b"x" * (MB // 4)] * 40)  # 10 MB offered, 2.25 MB allowed
    await BodyLimitASGI(get_asgi_application())(scope([]), recorder.receive, recorder.send)
    assert recorder.status == 413
    assert b"files can be at most 1 MB" in recorder.body
    assert recorder.pulled * MB // 4 <= body_limit.limit() + MB // 2


async def test_it_passes_a_body_within_the_limit_through_whole(settings) -> None:
    settings.MAX_UPLOAD_MB = 1
    seen: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            event = await receive()
            seen.append(event.get("body", b""))
            if not event.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    recorder = Recorder([b"y" * 1000, b"y" * 1000])
    await BodyLimitASGI(app)(scope([]), recorder.receive, recorder.send)
    assert recorder.status == 200 and b"".join(seen) == b"y" * 2000
