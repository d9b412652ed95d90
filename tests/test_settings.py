"""Settings come from the environment, and malformed values stop start-up naming the variable."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "main" / "settings.py"
BASE_ENV = {"SECRET_KEY": "k" * 50, "DEBUG": "0"}
# tests/environment.py sets some of these for the test run; each test here starts from none.
SETTINGS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "API_URL",
    "API_TIMEOUT",
    "API_MAX_DURATION",
    "MAX_UPLOAD_MB",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "ACCOUNT_SIGNUP",
    "SIGNUP_EMAIL_DOMAINS",
    "MAX_FILE_TEXT_CHARS",
)


def load_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**BASE_ENV, **env}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("API_TIMEOUT", "soon"),
        ("API_TIMEOUT", "-3"),
        ("API_MAX_DURATION", "0"),
        ("API_MAX_DURATION", "ten minutes"),
        ("MAX_UPLOAD_MB", "lots"),
        ("EMAIL_PORT", "smtp"),
        ("API_KIND", "anthropic"),
        ("API_URL", "localhost:11434"),
        ("SECURE_HSTS_SECONDS", "a year"),
        ("ACCOUNT_EMAIL_VERIFICATION", "sometimes"),
        ("CSRF_TRUSTED_ORIGINS", "ftp://example.com"),
        ("CSRF_TRUSTED_ORIGINS", "example.com/path"),
        ("DATABASE_URL", "nosuchdb://x/y"),
        ("ACCOUNT_SIGNUP", "invite-only"),
        ("SIGNUP_EMAIL_DOMAINS", "@example.com"),
        ("SIGNUP_EMAIL_DOMAINS", "example.com,localhost"),
        ("SIGNUP_EMAIL_DOMAINS", "exa mple.com"),
        ("MAX_FILE_TEXT_CHARS", "half a million"),
        ("MAX_FILE_TEXT_CHARS", "10"),
    ],
)
def test_it_refuses_malformed_values_naming_the_variable(monkeypatch, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(monkeypatch, **{name: value})


def test_it_refuses_to_start_without_secret_key_when_debug_is_off(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load_settings(monkeypatch, SECRET_KEY=None, DEBUG="0")


def test_it_uses_a_development_key_when_debug_is_on(monkeypatch):
    values = load_settings(monkeypatch, SECRET_KEY=None, DEBUG="1")
    assert values["DEBUG"] is True
    assert values["SECRET_KEY"].startswith("django-insecure")


def test_it_defaults_to_sqlite_in_wal_mode_and_secure_production_values(monkeypatch):
    values = load_settings(monkeypatch)
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert "synchronous=NORMAL" in database["OPTIONS"]["init_command"]
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["USE_TZ"] is True
    assert values["TIME_ZONE"] == "UTC"
    assert values["API_URL"] == ""
    assert values["API_KIND"] == "openai"
    assert values["API_TIMEOUT"] == 120.0
    assert values["API_MAX_DURATION"] == 600.0
    assert values["MAX_UPLOAD_MB"] == 30


def test_it_reads_postgres_from_database_url_with_a_pool(monkeypatch):
    values = load_settings(monkeypatch, DATABASE_URL="postgres://u:p@db.example:5432/app")
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["NAME"] == "app"
    assert database["OPTIONS"]["pool"]["max_size"] >= 1


def test_it_reads_llm_and_list_settings(monkeypatch):
    values = load_settings(
        monkeypatch,
        API_URL="http://localhost:11434/",
        API_KIND="Ollama",
        API_MODELS="llama3, qwen3 ,",
        API_TIMEOUT="30",
        API_MAX_DURATION="90.5",
        ALLOWED_HOSTS="a.example,b.example",
        SECURE_PROXY_SSL_HEADER="1",
    )
    assert values["API_URL"] == "http://localhost:11434"
    assert values["API_KIND"] == "ollama"
    assert values["API_MODELS"] == ["llama3", "qwen3"]
    assert values["API_TIMEOUT"] == 30.0
    assert values["API_MAX_DURATION"] == 90.5
    assert values["ALLOWED_HOSTS"] == ["a.example", "b.example"]
    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_it_uses_smtp_only_when_credentials_are_set(monkeypatch):
    assert load_settings(monkeypatch)["EMAIL_BACKEND"].endswith("console.EmailBackend")
    values = load_settings(monkeypatch, EMAIL_HOST_USER="me@example.com", EMAIL_HOST_PASSWORD="pw")
    assert values["EMAIL_BACKEND"].endswith("smtp.EmailBackend")


def test_it_requires_social_client_id_and_secret_together(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="GITHUB_CLIENT_ID"):
        load_settings(monkeypatch, GITHUB_CLIENT_ID="abc")
    values = load_settings(monkeypatch, GITHUB_CLIENT_ID="abc", GITHUB_CLIENT_SECRET="xyz")
    assert values["SOCIALACCOUNT_PROVIDERS"]["github"]["APPS"][0]["client_id"] == "abc"


def test_it_reads_bare_hosts_as_https_origins(monkeypatch):
    production = load_settings(
        monkeypatch, DEBUG="0", CSRF_TRUSTED_ORIGINS="example.com, http://intranet:8080"
    )
    assert production["CSRF_TRUSTED_ORIGINS"] == ["https://example.com", "http://intranet:8080"]
    development = load_settings(monkeypatch, DEBUG="1", CSRF_TRUSTED_ORIGINS=None)
    assert development["CSRF_TRUSTED_ORIGINS"] == [
        "https://localhost",
        "http://localhost",
        "https://127.0.0.1",
        "http://127.0.0.1",
    ]


def test_it_reads_signup_control_and_the_file_text_cap(monkeypatch):
    defaults = load_settings(monkeypatch)
    assert defaults["ACCOUNT_SIGNUP"] == "open" and defaults["SIGNUP_EMAIL_DOMAINS"] == []
    assert defaults["MAX_FILE_TEXT_CHARS"] == 500_000
    values = load_settings(
        monkeypatch,
        ACCOUNT_SIGNUP="Closed",
        SIGNUP_EMAIL_DOMAINS=" Example.com, lab.example.org ,",
        MAX_FILE_TEXT_CHARS="20000",
    )
    assert values["ACCOUNT_SIGNUP"] == "closed"
    assert values["SIGNUP_EMAIL_DOMAINS"] == ["example.com", "lab.example.org"]
    assert values["MAX_FILE_TEXT_CHARS"] == 20_000
