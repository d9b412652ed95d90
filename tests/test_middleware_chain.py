"""Under ASGI the middleware chain runs in the request's thread: a page costs a few thread hops,
not two per middleware (the async path of Django's middleware runs each half in a thread)."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from asgiref.sync import SyncToAsync
from django.core.handlers.asgi import ASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


async def get(path: str) -> int:
    """GET `path` through Django's ASGI handler; the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    status = 0
    sent = False
    answered = asyncio.Event()

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await answered.wait()  # the client stays until the whole answer came
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    await ASGIHandler()(scope, receive, send)
    return status


async def test_a_request_takes_a_few_thread_hops_not_two_per_middleware() -> None:
    hops = 0
    original = SyncToAsync.__call__

    async def counted(self: SyncToAsync, *args: object, **kwargs: object) -> object:
        nonlocal hops
        hops += 1
        return await original(self, *args, **kwargs)

    with mock.patch.object(SyncToAsync, "__call__", counted):
        assert await get("/healthz") == 200
    # request_started, the middleware chain, CSRF's process_view, the view, response.close
    assert 0 < hops <= 5
