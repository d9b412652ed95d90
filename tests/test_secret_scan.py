"""The secret scan: each shape it reports, near misses it leaves alone, and the masking."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_metadata import secret_scan

# Made-up values of the real shapes (none of them is a live credential).
FOUND = [
    ("OpenAI key", "key sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD here"),
    ("OpenAI key", "sk-proj-Zx9_aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3"),
    ("GitHub token", "token ghp_0123456789abcdefghijABCDEFGHIJ0123456789"),
    ("GitHub token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"),
    ("AWS access key", "aws AKIAIOSFODNN7EXAMPLE in config"),
    ("Slack token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKl"),
    ("Google API key", "AIzaSyA1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q"),
    (
        "JSON web token",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("bearer token", "Authorization: Bearer abcDEF123456ghiJKL789"),
    ("LLM Metadata key", "lmd_4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"),
    ("credential", "password=hunter2hunter2"),
    ("credential", "db_password: 's3cr3t!pass'"),
    ("credential", "SECRET: abcd1234"),
    ("credential", "api_key = 'k-9911'"),
    ("private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow..."),
    ("private key", "-----BEGIN OPENSSH PRIVATE KEY-----"),
    ("private key", "-----BEGIN PRIVATE KEY-----"),
    ("e-mail address", "write to jane.doe+llm@example.co.uk please"),
]

NOT_FOUND = [
    "ask about the sk- prefix of OpenAI keys",
    "sk-short",
    "the task-based approach is risky",  # "sk-" inside a word
    "ghp_tooShort123",
    "AKIA plus lowercase akiaiosfodnn7example",
    "xoxb- alone",
    "AIzaShort",
    "eyJhbGciOiJIUzI1NiJ9 alone is only a header",
    "the bearer of bad news",
    "a password is a secret",
    "password: ",
    "password=? (a value of one character is none)",
    "the password field",
    "-----BEGIN PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----",
    "user at example dot com",
    "@mention someone",
    "lmd_short",
    "def f(x): return x @ y.T",
]


@pytest.mark.parametrize(("kind", "text"), FOUND)
def test_it_finds_each_shape(kind: str, text: str) -> None:
    (match,) = secret_scan.find(text)
    assert match.kind == kind
    assert match.masked not in text or len(text[match.start : match.end]) <= 8


@pytest.mark.parametrize("text", NOT_FOUND)
def test_it_leaves_near_misses_alone(text: str) -> None:
    assert secret_scan.find(text) == []


def test_a_bearer_jwt_is_one_finding() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    (match,) = secret_scan.find(f"Authorization: Bearer {jwt}")
    assert match.kind == "JSON web token"  # the more specific shape claims the text


def test_it_reports_every_secret_in_order() -> None:
    text = "mail bob@example.com, key AKIAIOSFODNN7EXAMPLE, then password=opensesame"
    kinds = [match.kind for match in secret_scan.find(text)]
    assert kinds == ["e-mail address", "AWS access key", "credential"]


def test_the_masked_form_does_not_give_the_secret_away() -> None:
    key = "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD"
    masked = secret_scan.mask(key)
    assert masked == f"sk-abc…CD ({len(key)} characters)"
    assert "ghijkl" not in masked
    assert secret_scan.mask("hunter2!") == "hu••••••"
    assert secret_scan.mask("AKIAIOSFODNN7EXAMPLE") == "AKI…LE (20 characters)"


def test_the_hints_never_hide_a_match() -> None:
    """Each pattern runs only where one of its hints is: the same findings as without hints."""
    texts = [text for _, text in FOUND] + NOT_FOUND + [text.upper() for _, text in FOUND]
    for text in texts:
        unhinted = [
            hit.span() for _, _, pattern in secret_scan.PATTERNS for hit in pattern.finditer(text)
        ]
        for span in {m.start for m in secret_scan.find(text)}:
            assert any(start == span for start, _ in unhinted)
        for start, end in unhinted:
            assert any(m.start < end and start < m.end for m in secret_scan.find(text)), text
    for _, hints, _ in secret_scan.PATTERNS:
        assert all(hint == hint.lower() for hint in hints)


SURROUNDINGS = st.text(alphabet=st.characters(codec="utf-8"), max_size=150)


@given(SURROUNDINGS, st.sampled_from(FOUND), SURROUNDINGS)
def test_a_secret_is_found_in_any_text_findings_ordered_disjoint_and_masked(
    before: str, sample: tuple[str, str], after: str
) -> None:
    text = f"{before}\n{sample[1]}\n{after}"
    found = secret_scan.find(text)
    start = len(before) + 1
    assert any(m.start < start + len(sample[1]) and start < m.end for m in found)
    for before, after in itertools.pairwise(found):
        assert before.end <= after.start
    for match in found:
        secret = text[match.start : match.end]
        assert len(secret) <= 8 or secret not in match.masked
