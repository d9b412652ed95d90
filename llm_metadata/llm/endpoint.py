"""Where calls go: the endpoint as a plain value, which the app builds from its settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

KINDS = ("openai", "ollama")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An LLM endpoint: base URL (empty: the offline demo model), wire protocol, key, time limits.

    `timeout` bounds the wait for the first byte and every stall between chunks; `max_duration`
    bounds a whole answer.
    """

    url: str = ""
    kind: str = "openai"
    key: str = field(default="", repr=False)
    timeout: float = 120.0
    max_duration: float = 600.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")

    @property
    def is_demo(self) -> bool:
        """True when no URL is set: the offline demo model answers."""
        return not self.url

    @property
    def where(self) -> str:
        """Host and port (never the user or password a URL may carry), for messages."""
        return urlsplit(self.url).netloc.rpartition("@")[2]
