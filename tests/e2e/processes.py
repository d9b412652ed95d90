"""The browser tests' processes: the fake LLM server and the app under its production server."""

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop(process: subprocess.Popen) -> None:
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


def start_fake_llm() -> FakeLLM:
    """The fake OpenAI server as a process, streaming a token every 80 ms."""
    command = [sys.executable, "-m", "tests.fakes.server", "--kind", "openai"]
    command += ["--port", str(free_port()), "--delay-ms", "80"]
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
        stop(process)
        pytest.fail(f"the fake LLM server did not start; it printed: {seen!r}")
    return FakeLLM(url=url, process=process)


def e2e_database(folder: Path, role: str = "e2e") -> tuple[str, Callable[[], None]]:
    """The server's own database: a new PostgreSQL database in a PostgreSQL run (named after
    the run's database, `role` and this process), else a SQLite file; and how to drop it."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{folder / f'{role}.sqlite3'}", lambda: None
    import psycopg
    from psycopg import sql

    parsed = urlparse(base)
    name = f"{parsed.path.lstrip('/') or 'postgres'}_{role}_{os.getpid()}"
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


def wait_healthy(server: LiveServer) -> None:
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
    pytest.fail(f"the app server did not become healthy; its log ends:\n{tail(server.log)}")


def server_env(folder: Path, database_url: str, api_url: str, port: int) -> dict[str, str]:
    """Production settings over plain HTTP on 127.0.0.1, talking to the fake LLM."""
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
        "API_URL": api_url,
        "API_KIND": "openai",
        "API_TIMEOUT": "30",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "ACCESS_LOG": "0",
    }
    for name in ("API_KEY", "API_MODELS", "BENCH_TIMING"):
        env.pop(name, None)
    return env


def start_app(server: LiveServer) -> None:
    """Migrate, collect static files, serve with gunicorn + uvicorn workers, wait for /healthz."""
    server.manage("migrate", "--noinput", "-v", "0")
    server.manage("collectstatic", "--noinput", "-v", "0")
    with server.log.open("w") as log:
        server.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "main.asgi:application", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_healthy(server)
