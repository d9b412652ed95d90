"""Browser-test fixtures: a slow fake LLM, the app under gunicorn + uvicorn, and Chromium.

Session-wide: `fake_llm` (the fake OpenAI server process, 80 ms between tokens), `e2e_server`
(a database of its own, collected static files, production settings, DEBUG off; not named
`live_server`, which would wake pytest-django's) and `live_server_url`. Per test: `page` (a fresh
browser context) and `signed_in_page` (a new user signed up through /accounts/signup/, name in
`page.username`). `screenshot(page, "name")` saves docs/screenshots/name.png; `ask(page, text)`
sends a question on /ask/. To look at the stored rows, use `e2e_server.shell("...print(...)")`,
never the `db` fixture.
Every test in this folder is marked `e2e`; without /usr/bin/chromium they fail, never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .processes import (
    ROOT,
    FakeLLM,
    LiveServer,
    e2e_database,
    free_port,
    server_env,
    start_app,
    start_fake_llm,
    stop,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "e2e-Correct-Horse-42"
STREAMING = 20_000  # ms: generous waits for a loaded CI machine; nothing here asserts durations


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    fake = start_fake_llm()
    yield fake
    stop(fake.process)


@pytest.fixture(scope="session")
def e2e_server(fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("e2e-server")
    database_url, drop_database = e2e_database(folder)
    port = free_port()
    env = server_env(folder, database_url, fake_llm.url, port)
    server = LiveServer(url=f"http://127.0.0.1:{port}", env=env, log=folder / "server.log")
    try:
        start_app(server)
        yield server
    finally:
        if server.process is not None:
            stop(server.process)
        drop_database()


@pytest.fixture(scope="session")
def live_server_url(e2e_server: LiveServer) -> str:
    return e2e_server.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module: Playwright's sync API runs an event loop in this thread,
    which must be gone before the suite's async and database tests run."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium with `make chromium`.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def sign_up(page: Any) -> str:
    """Sign a new user up through the allauth form; returns the username."""
    username = f"user{uuid.uuid4().hex[:10]}"
    page.goto("/accounts/signup/")
    page.fill("input[name=email]", f"{username}@example.com")
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.press("input[name=password2]", "Enter")
    page.wait_for_url(lambda url: "/accounts/signup/" not in url)
    return username


def ask(page: Any, question: str) -> None:
    """Type a question on /ask/ and send it with Enter (the streaming path)."""
    page.fill("#id_question", question)
    page.press("#id_question", "Enter")


@pytest.fixture
def signed_in_page(page: Any) -> Any:
    page.username = sign_up(page)
    return page


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    def save(page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
