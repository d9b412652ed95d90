"""Two app servers behind HAProxy, sharing PostgreSQL, Redis, an S3 server and the fake LLM.

Each app server is the Procfile's web command (gunicorn with the project's uvicorn worker, two
workers) in a process group of its own, so that a test can SIGKILL or SIGTERM one whole server.
HAProxy balances round robin, checks `/healthz` every 300 ms, retries a request whose connection
failed on the other server, and names the server that answered in `X-Served-By`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import s3_server
from tests.e2e.processes import ROOT, FakeLLM, LiveServer, free_port, server_env, tail

HAPROXY = "/usr/sbin/haproxy"
START_TIMEOUT = 90.0
GRACEFUL_TIMEOUT = 8  # seconds gunicorn gives running requests after SIGTERM (30 in production)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROCFILE = ROOT / "Procfile"

HAPROXY_CONFIG = """\
global
    maxconn 4000

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout http-request 10s
    # A request whose server refused the connection, or closed it without answering (a
    # server shutting down), goes again to the other server.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    option http-buffer-request

frontend web
    bind 127.0.0.1:{port}
    default_backend app

backend app
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server inter 300ms fall 2 rise 2
    http-response set-header X-Served-By %s
{servers}
"""


def web_command() -> list[str]:
    """The Procfile's `web:` line, run from this virtualenv."""
    for line in PROCFILE.read_text().splitlines():
        if line.startswith("web:"):
            command = shlex.split(line.removeprefix("web:"))
            return [str(Path(sys.executable).parent / command[0]), *command[1:]]
    raise AssertionError("the Procfile has no web: line")


@dataclass
class AppServer:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                web_command(),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: master and workers together
            )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            if self.healthy():
                return
            time.sleep(0.2)
        pytest.fail(f"app server {self.name} did not become healthy:\n{tail(self.log)}")

    def signal(self, signum: int) -> None:
        """Send `signum` to the server: SIGKILL to every process of it (a machine that dies),
        anything else to gunicorn's master (which passes SIGTERM on to its workers)."""
        assert self.process is not None
        if signum == signal.SIGKILL:
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.send_signal(signum)

    def wait_stopped(self, timeout: float) -> int:
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        # Workers orphaned by a SIGKILLed master must not outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return code

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.wait_stopped(timeout=GRACEFUL_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait()


@dataclass
class Cluster:
    servers: dict[str, AppServer]
    folder: Path
    database_url: str
    s3: s3_server.S3Server
    bucket: str
    fake_llm: FakeLLM
    cache_prefix: str
    url: str = ""  # the balancer's
    haproxy: subprocess.Popen | None = field(default=None, repr=False)

    def manage(self, *args: str) -> str:
        """Run a manage.py command on the cluster's database; its standard output."""
        env = next(iter(self.servers.values())).env
        return LiveServer(url=self.url, env=env, log=self.folder / "manage.log").manage(*args)

    def shell(self, code: str) -> str:
        return self.manage("shell", "--verbosity", "0", "-c", code)

    def restart(self, name: str) -> None:
        """Start a stopped server again and wait until HAProxy sends it requests."""
        server = self.servers[name]
        server.start()
        server.wait_healthy()
        time.sleep(1.0)  # two passing checks (rise 2, every 300 ms) and a margin


def haproxy_config(port: int, servers: dict[str, AppServer]) -> str:
    lines = "\n".join(f"    server {s.name} 127.0.0.1:{s.port} check" for s in servers.values())
    return HAPROXY_CONFIG.format(port=port, servers=lines)


def cluster_env(
    folder: Path, database_url: str, fake_llm: FakeLLM, s3: s3_server.S3Server, bucket: str
) -> tuple[dict[str, str], str]:
    """The environment every app server shares (the port is set per server)."""
    prefix = f"multiserver-{uuid.uuid4().hex[:12]}"
    env = server_env(folder, database_url, fake_llm.url, 0)
    env.update(s3.env(bucket))
    env.update(
        REDIS_URL=REDIS_URL,
        CACHE_KEY_PREFIX=prefix,
        WEB_CONCURRENCY="2",
        GUNICORN_GRACEFUL_TIMEOUT=str(GRACEFUL_TIMEOUT),
        ACCESS_LOG="1",
        LOG_LEVEL="info",
        # The balancer's address: allauth's per-IP limits see the client's address it forwards.
        FORWARDED_ALLOW_IPS="127.0.0.1",
    )
    env.pop("MEDIA_ROOT", None)  # uploads go to the S3 server, never to a local folder
    return env, prefix


def start_haproxy(folder: Path, servers: dict[str, AppServer]) -> tuple[subprocess.Popen, str]:
    if not os.access(HAPROXY, os.X_OK):
        pytest.fail(f"{HAPROXY} is missing: install Debian's haproxy with `make haproxy`.")
    port = free_port()
    config = folder / "haproxy.cfg"
    config.write_text(haproxy_config(port, servers))
    check = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True)
    if check.returncode:
        pytest.fail(f"HAProxy refused its configuration:\n{check.stdout}{check.stderr}")
    log = (folder / "haproxy.log").open("w")
    process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"HAProxy did not answer:\n{tail(folder / 'haproxy.log')}")
