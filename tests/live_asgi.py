"""The app itself (main.asgi) served by uvicorn in a background thread: real HTTP for clients
such as the `openai` SDK, against the test database (use with `transactional_db`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.server import ThreadedServer


class AppServer(ThreadedServer):
    def __init__(self) -> None:
        from main.asgi import application

        super().__init__(application)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def app_server(transactional_db) -> Iterator[AppServer]:
    """The app over real HTTP, for one test."""
    server = AppServer().start()
    yield server
    server.stop()
