"""Pytest fixtures: fake LLM servers (one per protocol per session) and the settings to use them.

`fake_openai` / `fake_ollama` reset the server, point API_URL/API_KIND at it (short timeout, no
key, no API_MODELS) and clear the model-list cache; `server.state` steers it and records requests.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from django.core.cache import cache

from .server import TEST_TIMEOUT, FakeServer
from .state import FakeState


@pytest.fixture(scope="session")
def _fake_openai_server() -> Iterator[FakeServer]:
    server = FakeServer(FakeState(kind="openai")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _fake_ollama_server() -> Iterator[FakeServer]:
    server = FakeServer(FakeState(kind="ollama")).start()
    yield server
    server.stop()


@pytest.fixture
def clear_cache(django_db_blocker) -> Callable[[], None]:
    """Lets a model-list refresh still running finish, then empties the shared cache (the model
    list); without Redis it is a table of the test database, which tests that may not query
    otherwise can still clear."""
    from llm_metadata.catalog import join_refresh

    def clear() -> None:
        join_refresh(10)
        with django_db_blocker.unblock():
            cache.clear()

    return clear


def _use(server: FakeServer, settings, clear_cache: Callable[[], None]) -> FakeServer:
    clear_cache()
    server.state.reset()
    settings.API_URL = server.url
    settings.API_KIND = server.state.kind
    settings.API_KEY = ""
    settings.API_MODELS = []
    settings.API_TIMEOUT = TEST_TIMEOUT
    return server


@pytest.fixture
def fake_openai(_fake_openai_server: FakeServer, settings, clear_cache) -> Iterator[FakeServer]:
    """The fake OpenAI-compatible server, configured as the endpoint."""
    yield _use(_fake_openai_server, settings, clear_cache)
    clear_cache()


@pytest.fixture
def fake_ollama(_fake_ollama_server: FakeServer, settings, clear_cache) -> Iterator[FakeServer]:
    """The fake Ollama server, configured as the endpoint."""
    yield _use(_fake_ollama_server, settings, clear_cache)
    clear_cache()


@pytest.fixture
def demo_endpoint(settings, clear_cache) -> Iterator[None]:
    """No endpoint configured: the offline demo model answers (without its per-token delay)."""
    from llm_metadata.llm import demo

    settings.API_URL = ""
    clear_cache()
    delay, demo.DELAY = demo.DELAY, 0.0
    yield
    demo.DELAY = delay


@pytest.fixture
async def llm_clients() -> AsyncIterator[None]:
    """Closes the pooled LLM clients of the test's event loop afterwards."""
    from llm_metadata.llm import aclose_clients

    yield
    await aclose_clients()


@pytest.fixture
def llm_log(caplog) -> Iterator[pytest.LogCaptureFixture]:
    """caplog that also sees the `llm_metadata` loggers (which do not propagate to root)."""
    logger = logging.getLogger("llm_metadata")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.fixture
def broken_reader(monkeypatch) -> None:
    """A bug in the OpenAI backend: reading its second token raises RuntimeError."""
    from llm_metadata.llm import openai

    read = openai._Answer.read

    def broken(self: openai._Answer, event: bytes, data: bytes) -> str | None:
        text = read(self, event, data)
        if text == " capital":
            raise RuntimeError("a bug")
        return text

    monkeypatch.setattr(openai._Answer, "read", broken)
