"""What looks like a secret in text about to be published: API keys and tokens of the common
shapes, credential assignments, private keys, e-mail addresses.

`find(text)` returns each match once (the first pattern that claims a stretch of text wins, so a
bearer JWT is one finding), with a masked form fit to show the owner. A scan errs towards
reporting: the owner decides, and a false alarm costs one click.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Most specific first: a stretch of text matched by one pattern is not matched again. Each
# pattern runs only on text that holds one of its hints (lower case): most text holds none, and
# the hints cost a tenth of the regular expressions.
PATTERNS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    ("private key", ("private key",), re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    ("JSON web token", ("eyj",), re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")),
    (
        "OpenAI key",
        ("sk-",),
        re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}"),
    ),
    (
        "GitHub token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})"),
    ),
    ("AWS access key", ("akia", "asia"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("Slack token", ("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Google API key", ("aiza",), re.compile(r"\bAIza[\w-]{35}")),
    ("LLM Metadata key", ("lmd_",), re.compile(r"\blmd_[\w-]{16,}")),
    ("bearer token", ("bearer",), re.compile(r"\bbearer\s+[\w.~+/=-]{16,}", re.IGNORECASE)),
    (
        "credential",
        ("pass", "pwd", "secret", "key", "token"),
        re.compile(
            # also DB_PASSWORD, client_secret: "_" before the name is a boundary here
            r"(?<![A-Za-z0-9])(?:password|passwd|pwd|passphrase|secret|api[_-]?key|"
            r"access[_-]?token|auth[_-]?token)\s*[:=]\s*[\"']?[^\s\"',;]{4,}",
            re.IGNORECASE,
        ),
    ),
    (
        "e-mail address",
        ("@",),
        re.compile(r"\b[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
    ),
)


@dataclass(frozen=True)
class Match:
    kind: str
    start: int
    end: int
    masked: str


def mask(text: str) -> str:
    """A secret shown without giving it away: its start, its length, its last two characters."""
    if len(text) <= 8:
        return text[:2] + "•" * (len(text) - 2)
    keep = 6 if len(text) > 24 else 3
    return f"{text[:keep]}…{text[-2:]} ({len(text)} characters)"


def find(text: str) -> list[Match]:
    """Every secret-like stretch of `text`, in order, each reported once."""
    found: list[Match] = []
    lowered = text.lower()
    for kind, hints, pattern in PATTERNS:
        if not any(hint in lowered for hint in hints):
            continue
        for hit in pattern.finditer(text):
            start, end = hit.span()
            if any(start < m.end and m.start < end for m in found):
                continue
            found.append(Match(kind, start, end, mask(hit.group())))
    return sorted(found, key=lambda m: m.start)
