"""A visitor of the app over HTTP (httpx): the allauth login form and the chat's event stream,
with the CSRF token read from the page and the balancer's `X-Served-By` kept per response."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FORM = {"model": "fake-small", "temperature": "0.5", "top_k": "40", "top_p": "0.9"}


@dataclass
class Event:
    name: str
    data: dict[str, Any]


@dataclass
class Stream:
    """One /ask/stream/ answer as it arrives: the server that serves it and its events."""

    served_by: str
    response: httpx.Response
    events: list[Event] = field(default_factory=list)

    def read(self) -> Iterator[Event]:
        """The events as they arrive (also kept in `events`); ends when the stream does."""
        pending = b""
        for chunk in self.response.iter_bytes():
            pending += chunk
            while b"\n\n" in pending:
                raw, pending = pending.split(b"\n\n", 1)
                lines = dict(line.split(b": ", 1) for line in raw.split(b"\n") if b": " in line)
                event = Event(lines[b"event"].decode(), orjson.loads(lines[b"data"]))
                self.events.append(event)
                yield event

    @property
    def text(self) -> str:
        return "".join(e.data["text"] for e in self.events if e.name == "delta")

    @property
    def last(self) -> str:
        return self.events[-1].name if self.events else ""


class Visitor:
    """One browser's cookies; every request goes to `base_url` (the balancer or one server)."""

    def __init__(self, base_url: str, cookies: httpx.Cookies | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60.0, cookies=cookies)

    def close(self) -> None:
        self.http.close()

    def twin(self, base_url: str | None = None) -> Visitor:
        """Another connection with the same cookies (the same signed-in session)."""
        return Visitor(base_url or str(self.http.base_url), httpx.Cookies(self.http.cookies))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def csrf_token(self, path: str) -> str:
        page = self.get(path)
        page.raise_for_status()
        found = CSRF_INPUT.search(page.text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def sign_in(self, username: str, password: str, *, token: str = "") -> httpx.Response:
        """POST the login form; `token`: a CSRF token read before, so this is one request."""
        token = token or self.csrf_token("/accounts/login/")
        return self.http.post(
            "/accounts/login/",
            data={"login": username, "password": password, "csrfmiddlewaretoken": token},
        )

    def post_form(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        token = self.csrf_token("/ask/")
        return self.http.post(path, data={**data, "csrfmiddlewaretoken": token}, **kwargs)

    def served_by(self, path: str = "/healthz") -> str:
        """GET `path`; the server that answered (through the balancer)."""
        response = self.get(path)
        response.raise_for_status()
        return response.headers["X-Served-By"]

    def next_to(self, name: str) -> None:
        """Through the round-robin balancer, with no other traffic: make `name` the server that
        answered last, so that the next request goes to the other one."""
        for _ in range(4):
            if self.served_by() == name:
                return
        raise AssertionError(f"server {name} did not answer four requests in a row")

    @contextmanager
    def stream(self, question: str, *, token: str = "", max_tokens: int = 600) -> Iterator[Stream]:
        """POST /ask/stream/ (a new conversation) and hold the response open while the caller
        reads its events. `token`: a CSRF token read before, so this is one request."""
        token = token or self.csrf_token("/ask/")
        data = {**FORM, "question": question, "max_tokens": str(max_tokens), "conversation": ""}
        with self.http.stream(
            "POST", "/ask/stream/", data=data, headers={"X-CSRFToken": token}
        ) as response:
            assert response.status_code == 200, response.read()
            yield Stream(response.headers.get("X-Served-By", ""), response)
