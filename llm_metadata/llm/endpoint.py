"""Where calls go: the endpoint as a plain value, which the app builds from its settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from . import redact

KINDS = ("openai", "ollama")


@dataclass(frozen=True, slots=True, repr=False)
class Endpoint:
    """An LLM endpoint: base URL (empty: the offline demo model), wire protocol, key, time limits.

    `timeout` bounds the wait for the first byte and every stall between chunks; `max_duration`
    bounds a whole answer; `max_connections` the calls open at once from one worker (more wait
    for a connection, within `timeout`). Credentials in the URL (`https://user:pass@host/v1`,
    `?key=...`) are sent (as basic auth, as query parameters) but never shown: see `display_url`
    and `redact`.
    """

    url: str = ""
    kind: str = "openai"
    key: str = ""
    timeout: float = 120.0
    max_duration: float = 600.0
    max_connections: int = 1000
    # Derived from `url` once: where requests go, and what must never be shown.
    base_url: str = field(init=False, compare=False)
    auth: tuple[str, str] | None = field(init=False, compare=False)
    params: tuple[tuple[str, str], ...] = field(init=False, compare=False)
    secrets: tuple[str, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        parts = urlsplit(self.url)
        user, password = parts.username, parts.password
        base = parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="")
        set_ = object.__setattr__  # a frozen dataclass sets its derived fields this way
        set_(self, "base_url", base.geturl())
        set_(self, "auth", (unquote(user or ""), unquote(password or "")) if user else None)
        set_(self, "params", tuple(parse_qsl(parts.query, keep_blank_values=True)))
        set_(self, "secrets", redact.secrets_of(self.url, self.key))

    def __repr__(self) -> str:
        return f"Endpoint({self.display_url!r}, kind={self.kind!r})"

    @property
    def is_demo(self) -> bool:
        """True when no URL is set: the offline demo model answers."""
        return not self.url

    @property
    def where(self) -> str:
        """Host and port (never the user or password a URL may carry), for messages."""
        return urlsplit(self.url).netloc.rpartition("@")[2]

    @property
    def display_url(self) -> str:
        """The URL fit to show: no user or password, every query value masked."""
        return redact.display_url(self.url)

    def redact(self, text: str) -> str:
        """`text` with this endpoint's key and URL credentials replaced by ***."""
        return redact.redact(text, self.secrets)
