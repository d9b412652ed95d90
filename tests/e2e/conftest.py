"""Browser-test fixtures: a slow fake LLM, the app under gunicorn + uvicorn, and Chromium.

Session-wide: `fake_llm` (the fake OpenAI server process, 80 ms between tokens), `e2e_server`
(a database of its own, collected static files, production settings, DEBUG off; not named
`live_server`, which would wake pytest-django's) and `live_server_url`. Per test: `page` (a fresh
browser context) and `signed_in_page` (a new user signed up through /accounts/signup/, name in
`page.username`). `screenshot(page, "name")` saves docs/screenshots/name.png. To look at the
stored rows, use `e2e_server.shell("...print(...)")`, never the `db` fixture.
Every test in this folder is marked `e2e`; without /usr/bin/chromium they fail, never skip.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
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
START_TIMEOUT = 60.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class FakeLLM:
    """The fake OpenAI-compatible server process; `configure` steers it between requests."""

    url: str
    process: subprocess.Popen

    def _post(self, path: str, payload: dict[str, Any]) -> None:
        base = self.url.removesuffix("/v1")
        request = urllib.request.Request(  # noqa: S310 - a local http URL of our own
            f"{base}{path}", data=orjson.dumps(payload), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            pass

    def configure(self, **fields: Any) -> None:
        """Set FakeState fields, e.g. configure(tokens=200, delay=0.2)."""
        self._post("/_fake/config", fields)

    def reset(self) -> None:
        """Back to the defaults (and the 80 ms delay the e2e run uses)."""
        self._post("/_fake/reset", {})
        self.configure(delay=0.08)

    def requests(self) -> list[dict[str, Any]]:
        base = self.url.removesuffix("/v1")
        with urllib.request.urlopen(f"{base}/_fake/requests", timeout=5) as response:  # noqa: S310
            return orjson.loads(response.read())


def _read_lines(process: subprocess.Popen, lines: queue.Queue[str]) -> None:
    """Forward a process's output lines (and keep draining it so its pipe never fills)."""
    for line in process.stdout:  # type: ignore[union-attr]
        lines.put(line.strip())
    lines.put("")


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    command = [sys.executable, "-m", "tests.fakes.server", "--kind", "openai"]
    command += ["--port", str(_free_port()), "--delay-ms", "80"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process, lines), daemon=True).start()
    url, seen = "", []
    try:
        while True:  # "API_URL=<url>" then "READY", or "READY <url>"
            line = lines.get(timeout=START_TIMEOUT)
            seen.append(line)
            if line.startswith("API_URL="):
                url = line.removeprefix("API_URL=")
            elif line.startswith("READY"):
                url = line.removeprefix("READY").strip() or url
                break
            elif not line:
                break
    except queue.Empty:
        pass
    if not url or not seen or not seen[-1].startswith("READY"):
        _stop(process)
        pytest.fail(f"the fake LLM server did not start; it printed: {seen!r}")
    yield FakeLLM(url=url, process=process)
    _stop(process)


def _e2e_database(folder: Path) -> tuple[str, Callable[[], None]]:
    """The server's own database: a new PostgreSQL database in a PostgreSQL run, else SQLite."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{folder / 'e2e.sqlite3'}", lambda: None
    import psycopg
    from psycopg import sql

    parsed = urlparse(base)
    name = f"{parsed.path.lstrip('/') or 'postgres'}_e2e_{os.getpid()}"
    admin_url = urlunparse(parsed._replace(path="/postgres"))

    def run(statement: sql.Composable) -> None:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(statement)

    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    run(drop)
    run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunparse(parsed._replace(path=f"/{name}")), lambda: run(drop)


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    def manage(self, *args: str) -> str:
        """Run a manage.py command against the server's database; its standard output."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode:
            pytest.fail(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def shell(self, code: str) -> str:
        """Run Python in `manage.py shell` on the server's database (e2e tests must not use the
        test process's own database: the browser's event loop forbids it); what it prints."""
        return self.manage("shell", "--verbosity", "0", "-c", code)


def _wait_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the app server did not become healthy; its log ends:\n{_tail(server.log)}")


@pytest.fixture(scope="session")
def e2e_server(fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("e2e-server")
    database_url, drop_database = _e2e_database(folder)
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
        "E2E_STATIC_ROOT": str(folder / "static"),
        "MEDIA_ROOT": str(folder / "media"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "e2e-only-secret-key-" + uuid.uuid4().hex,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "API_URL": fake_llm.url,
        "API_KIND": "openai",
        "API_TIMEOUT": "30",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "ACCESS_LOG": "0",
    }
    for name in ("API_KEY", "API_MODELS", "BENCH_TIMING"):
        env.pop(name, None)
    server = LiveServer(url=f"http://127.0.0.1:{port}", env=env, log=folder / "server.log")
    try:
        server.manage("migrate", "--noinput", "-v", "0")
        server.manage("collectstatic", "--noinput", "-v", "0")
        with server.log.open("w") as log:
            server.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "main.asgi:application", "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_healthy(server)
        yield server
    finally:
        if server.process is not None:
            _stop(server.process)
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
