"""Fake OpenAI-compatible (SSE) and Ollama (NDJSON) servers: real HTTP on 127.0.0.1.

Run one: `python -m tests.fakes.server --kind openai --port 8091 [--delay-ms D] [--tokens N]`
(prints `API_URL=<url>` on stderr, then `READY <url>` on stdout once listening).
`GET /_fake/requests` lists what it received, `POST /_fake/config` with a JSON object of
FakeState fields (e.g. {"mode": "cut"}) changes its behaviour and `POST /_fake/reset` restores
the defaults. Tests use the fixtures in tests/fakes/fixtures.py.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import threading
import time
from typing import Any, Self

import orjson
import uvicorn

from . import protocols
from .state import MODES, FakeState

Scope = dict[str, Any]
TEST_TIMEOUT = 2.0  # seconds: what tests give API_TIMEOUT, so that failures come quickly


class FakeApp:
    """A bare ASGI app (no framework: full control over framing, cuts and stalls)."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        self.state.requests.append(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"].decode("latin-1"),
                "headers": headers,
                "body": body,
            }
        )
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone))
        try:
            reply = protocols.Reply(send, gone)
            await protocols.handle(self.state, scope["method"], scope["path"], headers, body, reply)
        except protocols.ClientGone:
            self.state.disconnects += 1
        finally:
            watcher.cancel()


async def _watch_disconnect(receive: Any, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


class ThreadedServer:
    """An ASGI app served by uvicorn in a background thread on a free port of 127.0.0.1."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="critical",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


class FakeServer(ThreadedServer):
    """A FakeApp served in a background thread."""

    def __init__(self, state: FakeState, port: int = 0) -> None:
        self.state = state
        super().__init__(FakeApp(state), port)

    @property
    def url(self) -> str:
        """The API_URL to configure: with /v1 for openai, bare for ollama."""
        suffix = "/v1" if self.state.kind == "openai" else ""
        return f"http://127.0.0.1:{self.port}{suffix}"

    def endpoint(self, **changes: Any) -> Any:
        """This server as an `llm.Endpoint` (short timeout), with `changes` applied."""
        from llm_metadata.llm import Endpoint

        fields = {"url": self.url, "kind": self.state.kind, "timeout": TEST_TIMEOUT}
        return Endpoint(**(fields | changes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("openai", "ollama"), default="openai")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="between streamed records")
    parser.add_argument("--tokens", type=int, default=None, help="reply length in tokens")
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--api-key", default="", help="require this bearer token")
    parser.add_argument("--models", default="", help="comma list of model names served")
    args = parser.parse_args()
    state = FakeState(kind=args.kind, mode=args.mode, tokens=args.tokens, api_key=args.api_key)
    state.delay = args.delay_ms / 1000
    if args.models:
        state.models = [m.strip() for m in args.models.split(",") if m.strip()]
    server = FakeServer(state, args.port).start()
    # stderr first: readers of the merged output see the URL line, then READY <url>.
    print(f"API_URL={server.url}", file=sys.stderr, flush=True)
    print(f"READY {server.url}", flush=True)
    try:
        while server.thread.is_alive():
            server.thread.join(timeout=0.5)
            del state.requests[:-1000]  # a long-running process keeps the last thousand
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
