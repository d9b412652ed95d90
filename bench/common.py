"""What every benchmark needs: the app under gunicorn, a fake LLM, a bench database, clients.

`Stack` starts (on 127.0.0.1) a throw-away database (SQLite file in a temp folder, or database
`bench` on the PostgreSQL server of BENCH_PG_URL), the fake LLM server from tests/fakes and the
app under its production config (gunicorn + uvicorn workers, DEBUG off, BENCH_TIMING=1), and
stops all of it on exit. Django code (seeding, sessions) runs in a child process through
`Stack.django(...)`, so the load client in this process never imports Django and one process
can bench SQLite and PostgreSQL one after the other.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = str(Path(sys.executable))
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# Several people benching on one server each set a database name of their own.
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "bench")
MODEL = "fake-small"
USERNAME = "benchuser"
FORM = {"model": MODEL, "temperature": "0.7", "top_k": "40", "top_p": "0.9", "max_tokens": "600"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_available() -> bool:
    """True when the PostgreSQL server of BENCH_PG_URL accepts a connection."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def databases(quick: bool = False) -> list[str]:
    """The databases to bench: SQLite always, PostgreSQL when reachable."""
    found = ["sqlite"]
    if postgres_available():
        found.append("postgresql")
    else:
        print(f"(PostgreSQL at {PG_ADMIN_URL} not reachable: SQLite only)")
    return found


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _static_is_fresh() -> bool:
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in (ROOT / "static").rglob("*") if p.is_file())


class Stack:
    """Database + fake LLM + app under gunicorn; a context manager that always cleans up."""

    def __init__(
        self,
        db: str = "sqlite",
        *,
        workers: int = 2,
        delay_ms: float = 0.0,
        tokens: int | None = 20,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.db, self.workers, self.delay_ms, self.tokens = db, workers, delay_ms, tokens
        self.extra_env = extra_env or {}
        self.tmp = Path(tempfile.mkdtemp(prefix="llm-bench-"))
        self.procs: list[subprocess.Popen] = []
        self.app: subprocess.Popen | None = None
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        if db == "sqlite":
            self.database_url = f"sqlite:///{self.tmp / 'bench.sqlite3'}"
        elif db == "postgresql":
            self.database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DATABASE}"
        else:
            raise ValueError(f"unknown database {db!r}")
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-not-for-production-" + "x" * 20,
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "ACCESS_LOG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "MEDIA_ROOT": str(self.tmp / "media"),
            "BENCH_TIMING": "1",
            # The benches send hundreds of calls a minute as one user: the per-user limits stay
            # off (0) unless set in the environment; bench/limits_cost.py measures their cost.
            "RATE_LIMIT_PER_MINUTE": os.environ.get("RATE_LIMIT_PER_MINUTE", "0"),
            "API_KIND": "openai",
            "API_MODELS": MODEL,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        self.env.pop("API_KEY", None)

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if threading.current_thread() is threading.main_thread():
            # A bench stopped with SIGTERM (timeout, CI) still stops what it started.
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        if self.db == "postgresql":
            _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            _pg_admin(f"CREATE DATABASE {PG_DATABASE}")
        self.manage("migrate", "--noinput", "-v", "0")
        if not _static_is_fresh():
            self.manage("collectstatic", "--noinput", "-v", "0")
        self.start_fake()
        self.start_app()

    def manage(self, *args: str) -> None:
        subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=self.env, check=True, timeout=300)

    def start_fake(self) -> None:
        fake_port = free_port()
        cmd = [PY, "-m", "tests.fakes.server", "--kind", "openai", "--port", str(fake_port)]
        cmd += ["--delay-ms", str(self.delay_ms), "--models", MODEL]
        if self.tokens is not None:
            cmd += ["--tokens", str(self.tokens)]
        errors = open(self.tmp / "fake.log", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
        self.procs.append(proc)
        url = line = ""
        for _ in range(5):  # "READY <url>" once listening (older: "API_URL=<url>", "READY")
            line = proc.stdout.readline().strip() if proc.stdout else ""
            url = line.removeprefix("API_URL=") if line.startswith("API_URL=") else url
            if line.startswith("READY") or not line:
                url = line.split()[1] if len(line.split()) > 1 else url
                break
        if not line.startswith("READY") or not url:
            raise RuntimeError(f"fake LLM server did not start: {line!r}")
        self.fake = proc
        self.env["API_URL"] = url

    def configure_fake(self, **fields: Any) -> None:
        """Change the running fake LLM (FakeState fields; `delay` in seconds)."""
        root = self.env["API_URL"].removesuffix("/v1")
        httpx.post(f"{root}/_fake/config", json=fields, timeout=5).raise_for_status()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) so far of the app (master + workers) and the fake LLM."""
        import psutil

        def used(pids: list[int]) -> float:
            total = 0.0
            for pid in pids:
                try:
                    times = psutil.Process(pid).cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += times.user + times.system
            return total

        return {"app": used(self.app_pids()), "fake": used([self.fake.pid])}

    def start_app(self) -> None:
        log = open(self.tmp / "gunicorn.log", "wb")  # noqa: SIM115 (closed with the process)
        cmd = [GUNICORN, "main.asgi:application", "-c", "gunicorn.conf.py"]
        self.app = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(self.app)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.app.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            try:
                healthy = httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
                if healthy and len(self.app_pids()) >= self.workers + 1:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not become healthy:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        path = self.tmp / "gunicorn.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def app_pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        import psutil

        if self.app is None:
            return []
        try:
            master = psutil.Process(self.app.pid)
            return [master.pid, *(c.pid for c in master.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                if proc is self.app:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
                proc.wait(timeout=5)
            if proc.stdout:
                proc.stdout.close()
        self.procs.clear()
        log = self.tmp / "gunicorn.log"
        if log.exists():  # kept for a look at any error the figures count
            RESULTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, RESULTS / f"last-gunicorn-{self.db}.log")
        if self.db == "postgresql":
            try:
                _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            except Exception as exc:  # leave the run's result intact; say what was left behind
                print(f"(could not drop database {PG_DATABASE}: {exc})")
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- Django in a child process ---------------------------------------------------------

    def django(self, func: Callable[..., Any], **kwargs: Any) -> Any:
        """Run bench function `func(**kwargs)` with Django set up on the bench database."""
        module = Path(inspect.getfile(func)).stem
        spec = json.dumps({"module": module, "name": func.__name__, "kwargs": kwargs})
        out = subprocess.run(
            [PY, str(Path(__file__)), spec],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=900,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])


def _child(spec: str) -> None:
    """Entry point of `Stack.django`: set Django up, call the function, print its JSON."""
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
    import django

    django.setup()
    data = json.loads(spec)
    func = getattr(importlib.import_module(data["module"]), data["name"])
    result = func(**data["kwargs"])
    print(json.dumps(result, default=str))


# --- helpers that run inside the Django child ---------------------------------------------


def bench_user(*, staff: bool = True) -> Any:
    """The one bench user (a superuser, so the admin pages can be benched too)."""
    from django.contrib.auth.models import User

    user, created = User.objects.get_or_create(
        username=USERNAME, defaults={"email": "bench@example.com", "is_staff": staff}
    )
    if created:
        user.is_superuser = staff
        user.set_unusable_password()
        user.save()
    return user


def make_sessions(count: int, conversation_ids: Sequence[str | None] = ()) -> list[str]:
    """`count` logged-in sessions of the bench user; session i opens conversation_ids[i]."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    user = bench_user()
    keys = []
    for i in range(count):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        if i < len(conversation_ids) and conversation_ids[i]:
            session["conversation_id"] = conversation_ids[i]
        session.create()
        keys.append(session.session_key)
    return keys


# --- load client (this process, no Django) ------------------------------------------------


def client_for(
    base_url: str, session_key: str, transport: httpx.AsyncBaseTransport, timeout: float = 60
) -> httpx.AsyncClient:
    """A client logged in as one session, with a CSRF cookie; shares the pooled transport."""
    csrf = secrets.token_hex(16)  # a 32-character secret is a valid unmasked CSRF token
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        cookies={"sessionid": session_key, "csrftoken": csrf},
        headers={"X-CSRFToken": csrf},
        timeout=timeout,
        follow_redirects=False,
    )


def shared_transport(connections: int = 1200) -> httpx.AsyncHTTPTransport:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncHTTPTransport(limits=limits)


def server_timing(response: httpx.Response) -> tuple[float | None, int | None]:
    """(app ms, SQL queries) from the Server-Timing header of BENCH_TIMING=1."""
    header = response.headers.get("server-timing", "")
    ms = queries = None
    for metric in header.split(","):
        parts = [p.strip() for p in metric.split(";")]
        for part in parts[1:]:
            if parts[0] == "app" and part.startswith("dur="):
                ms = float(part[4:])
            if parts[0] == "db" and part.startswith("desc="):
                queries = int(part[5:].strip('"').split()[0])
    return ms, queries


async def timed_get(client: httpx.AsyncClient, url: str, **kwargs: Any) -> dict[str, Any]:
    """One GET: client ms, server ms, queries, status."""
    started = time.perf_counter()
    response = await client.get(url, **kwargs)
    elapsed = (time.perf_counter() - started) * 1000
    ms, queries = server_timing(response)
    return {
        "client_ms": elapsed,
        "server_ms": ms,
        "queries": queries,
        "status": response.status_code,
    }


TOKEN = re.compile(r" lorem| ipsum| dolor| sit| amet|,")  # the fake LLM's --tokens pieces


async def post_question(client: httpx.AsyncClient, question: str) -> tuple[httpx.Response, float]:
    """One plain-form POST /ask/ as a browser sends it (no file chosen); the response, client ms."""
    data = {**FORM, "question": question, "csrfmiddlewaretoken": client.headers["X-CSRFToken"]}
    files = {"file_upload": ("", b"", "application/octet-stream")}
    started = time.perf_counter()
    response = await client.post("/ask/", data=data, files=files)
    return response, (time.perf_counter() - started) * 1000


async def stream_chat(client: httpx.AsyncClient, question: str) -> dict[str, Any]:
    """One POST /ask/stream/, read to the end: arrival time and token count of each delta."""
    data = {**FORM, "question": question}
    files = {"file_upload": ("", b"", "application/octet-stream")}
    result: dict[str, Any] = {"start": time.perf_counter(), "deltas": [], "done": False}
    result["error"] = None
    try:
        async with client.stream("POST", "/ask/stream/", data=data, files=files) as response:
            if response.status_code != 200:
                result["error"] = f"HTTP {response.status_code}"
                return result
            buffer = b""
            async for chunk in response.aiter_bytes():
                buffer += chunk
                *events, buffer = buffer.split(b"\n\n")
                now = time.perf_counter()
                for event in events:
                    _sse_event(event, now, result)
    except httpx.HTTPError as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["end"] = time.perf_counter()
    if not result["done"] and result["error"] is None:
        result["error"] = "stream ended without a done event"
    return result


def _sse_event(event: bytes, now: float, result: dict[str, Any]) -> None:
    name, data = b"message", b""
    for line in event.split(b"\n"):
        if line.startswith(b"event:"):
            name = line[6:].strip()
        elif line.startswith(b"data:"):
            data += line[5:].strip()
    if name == b"meta":
        result["meta"] = now
    elif name == b"delta":
        result["deltas"].append((now, len(TOKEN.findall(orjson.loads(data)["text"]))))
    elif name == b"done":
        result["done"] = True
    elif name == b"error":
        result["error"] = orjson.loads(data).get("message", "error event")


@dataclass
class StreamTally:
    """What a set of `stream_chat` results add up to; times in seconds from each stream's
    `since` key (its start, or a burst's scheduled start)."""

    completed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    meta: list[float] = field(default_factory=list)  # to the meta event
    ttft: list[float] = field(default_factory=list)  # to the first delta
    gaps_ms: list[float] = field(default_factory=list)  # between deltas, less the fake's pace


def tally_streams(done: Sequence[dict], tokens: int, delay: float, since: str) -> StreamTally:
    """Errors by kind, streams complete (done, every token received), the times to the meta
    event and the first delta, and the gaps between deltas beyond the fake's `delay` (s)."""
    tally = StreamTally()
    for stream in done:
        if stream["error"]:
            kind = stream["error"][:80]
            tally.errors[kind] = tally.errors.get(kind, 0) + 1
        if stream["done"] and sum(n for _, n in stream["deltas"]) == tokens:
            tally.completed += 1
        if "meta" in stream:
            tally.meta.append(stream["meta"] - stream[since])
        if stream["deltas"]:
            tally.ttft.append(stream["deltas"][0][0] - stream[since])
            times = [t for t, _ in stream["deltas"]]
            tally.gaps_ms += [(b - a - delay) * 1000 for a, b in pairwise(times)]
    return tally


def run_async(coro: Any, timeout: float) -> Any:
    """Run one benchmark coroutine with a hard bound on its wall time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


# --- figures ------------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (nearest rank); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table (also valid Markdown) with a title line."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    right = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows)
        for i in range(len(columns))
    ]
    body = [
        "| "
        + " | ".join(
            c.rjust(w) if right[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        + " |"
        for r in cells
    ]
    return "\n".join([f"\n{title}", line, rule, *body])


def print_load(before: Sequence[float], after: Sequence[float]) -> None:
    """The machine's load averages (1, 5, 15 min) at a benchmark's start and end."""
    both = " → ".join(", ".join(f"{x:.2f}" for x in load) for load in (before, after))
    print(f"load average (1, 5, 15 min) before → after: {both}")


def save(name: str, data: dict[str, Any]) -> Path:
    """Write the results as bench/results/<name>.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path.write_text(json.dumps({"name": name, "when": stamp, **data}, indent=2, default=str))
    return path


if __name__ == "__main__":
    _child(sys.argv[1])
