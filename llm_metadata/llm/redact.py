"""Credentials never leave the package: the one place that finds and hides them.

An endpoint's credentials are its key and whatever its URL carries: the user and password of
`https://user:pass@host/v1` and the values of its query (`?key=...`). Text that may hold them
(error messages, the endpoint's own error text, log records) passes through `redact`.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote, urlsplit

MASK = "***"
# Shorter values are not hidden inside free text: replacing every "ab" would garble messages,
# and such a value protects nothing. URLs are shown without any of them (`display_url`).
MIN_SECRET = 4


def secrets_of(url: str, key: str = "") -> tuple[str, ...]:
    """The credentials in `url` and `key`, as written and percent-decoded, longest first."""
    parts = urlsplit(url)
    found = {key, parts.username or "", parts.password or ""}
    for pair in parts.query.split("&"):
        found.add(pair.partition("=")[2])
    found |= {unquote(value) for value in found} | {unquote(v.replace("+", " ")) for v in found}
    return tuple(sorted((s for s in found if len(s) >= MIN_SECRET), key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced by ***."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def display_url(url: str) -> str:
    """`url` fit to show: no user or password, every query value masked."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{MASK}@{host}" if "@" in parts.netloc else host
    query = "&".join(
        f"{pair.partition('=')[0]}={MASK}" if "=" in pair else pair
        for pair in parts.query.split("&")
        if pair
    )
    return parts._replace(netloc=netloc, query=query, fragment="").geturl()


class CredentialsFilter(logging.Filter):
    """A log filter that hides the endpoint's credentials in every record it passes.

    Configured on the console handler in settings.LOGGING (with API_URL and API_KEY), so that
    a traceback or a library's log line (httpx logs request URLs) cannot carry them out.
    """

    def __init__(self, url: str = "", key: str = "") -> None:
        super().__init__()
        self.secrets = secrets_of(url, key)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True
