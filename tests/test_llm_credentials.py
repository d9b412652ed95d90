"""Credentials from API_URL (user, password, query) and API_KEY are sent, and shown nowhere:
not in a page, a stored error, a log line or `llm_check`'s output."""

from __future__ import annotations

import base64
import logging
import runpy
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from llm_metadata.llm import ChatRequest, Endpoint, achat, list_models
from llm_metadata.llm.redact import CredentialsFilter
from llm_metadata.models import Message

pytestmark = pytest.mark.usefixtures("llm_clients")

USER, PASSWORD, QUERY_KEY, API_KEY = "llm-user-7c1", "p@ss-9f2e", "q-secret-5d8a", "sk-secret-0b3"
# Every form a secret could take in text: as written in the URL, and decoded.
SECRETS = (USER, PASSWORD, "p%40ss-9f2e", QUERY_KEY, API_KEY)
ECHO = (
    b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'
    b'event: error\ndata: {"error": {"message": "denied: '
    + f"{USER}:p%40ss-9f2e {PASSWORD} key={QUERY_KEY} bearer {API_KEY}".encode()
    + b'"}}\n\n'
)
REDACTED_ECHO = "The endpoint reported an error: denied: ***:*** *** key=*** bearer ***."
ASK = "/ask/"


def secret_url(port: int) -> str:
    return f"http://{USER}:p%40ss-9f2e@127.0.0.1:{port}/v1?key={QUERY_KEY}"


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def ask() -> ChatRequest:
    return ChatRequest(
        model="fake-small",
        messages=[{"role": "user", "content": "Hi"}],
        temperature=0.5,
        top_k=10,
        top_p=0.9,
        max_tokens=20,
        context_length=2048,
    )


@pytest.fixture
def echoing(fake_openai, settings):
    """The fake OpenAI server behind a URL with credentials; it echoes them in its error."""
    settings.API_URL = secret_url(fake_openai.port)
    settings.API_KEY = API_KEY
    fake_openai.state.mode = "raw"
    fake_openai.state.raw_chunks = [ECHO]
    return fake_openai


async def test_it_sends_the_urls_credentials_as_basic_auth_and_query_parameters(fake_openai):
    result = await achat(fake_openai.endpoint(url=secret_url(fake_openai.port)), ask())
    assert result.status == "ok"
    sent = fake_openai.state.last
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert sent["headers"]["authorization"] == f"Basic {basic}"
    assert (sent["path"], sent["query"]) == ("/v1/chat/completions", f"key={QUERY_KEY}")
    assert list_models(fake_openai.endpoint(url=secret_url(fake_openai.port))) == [
        "fake-small",
        "fake-large",
    ]


def test_an_endpoint_shows_no_credentials():
    endpoint = Endpoint(url=f"https://{USER}:p%40ss-9f2e@llm.example:8443/v1?key={QUERY_KEY}")
    endpoint = Endpoint(url=endpoint.url, key=API_KEY)
    assert endpoint.display_url == "https://***@llm.example:8443/v1?key=***"
    assert endpoint.where == "llm.example:8443"
    assert leaks(repr(endpoint)) == [] and leaks(str(endpoint)) == []
    assert endpoint.base_url == "https://llm.example:8443/v1"
    assert endpoint.auth == (USER, PASSWORD)
    assert endpoint.params == (("key", QUERY_KEY),)


def test_it_keeps_credentials_out_of_the_stored_error_the_page_and_the_log(
    alice_client, echoing, llm_log
):
    with llm_log.at_level("INFO", logger="llm_metadata"):
        response = alice_client.post(
            ASK,
            {
                "question": "Hello?",
                "model": "fake-small",
                "temperature": "0.5",
                "top_k": "10",
                "top_p": "0.9",
                "max_tokens": "20",
            },
            follow=True,
        )
    answer = Message.objects.get(role="assistant")
    assert (answer.status, answer.content, answer.error) == ("error", "Hi", REDACTED_ECHO)
    page = response.content.decode()
    assert "denied: ***:***" in page
    assert leaks(page) == []
    assert "outcome=error" in llm_log.text and "denied: ***" in llm_log.text
    assert leaks(llm_log.text) == []


async def test_a_refused_connection_names_only_the_host(fake_openai):
    ended = await achat(fake_openai.endpoint(url=f"http://{USER}:pw-7781@127.0.0.1:9/v1"), ask())
    assert ended.error.startswith("Cannot connect to the endpoint at 127.0.0.1:9:")
    assert leaks(ended.error) == [] and "pw-7781" not in ended.error


@pytest.mark.django_db
def test_llm_check_prints_no_credentials(echoing):
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("llm_check", stdout=out)
    output = out.getvalue()
    port = echoing.port
    assert f"Endpoint: http://***@127.0.0.1:{port}/v1?key=***\n" in output
    assert "Models at the endpoint: fake-small, fake-large" in output
    assert str(failed.value) == f"The call failed: {REDACTED_ECHO}"
    assert leaks(output) == [] and leaks(str(failed.value)) == []


def test_the_log_filter_hides_credentials_in_messages_arguments_and_tracebacks():
    url = secret_url(8080)
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CredentialsFilter(url=url, key=API_KEY))
    logger = logging.getLogger("tests.credentials")
    logger.addHandler(handler)
    try:
        logger.warning("POST %s with %s", url, API_KEY)
        try:
            raise RuntimeError(f"cannot reach {url}")
        except RuntimeError:
            logger.exception("a library failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "POST http://***:***@127.0.0.1:8080/v1?key=*** with ***" in text
    assert "RuntimeError: cannot reach http://***:***@" in text
    assert leaks(text) == []


def test_settings_put_the_filter_on_the_console_handler(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k" * 50)
    monkeypatch.setenv("API_URL", secret_url(8080))
    monkeypatch.setenv("API_KEY", API_KEY)
    settings_file = Path(__file__).resolve().parent.parent / "main" / "settings.py"
    logging_config = runpy.run_path(str(settings_file))["LOGGING"]
    assert logging_config["handlers"]["console"]["filters"] == ["credentials"]
    factory = dict(logging_config["filters"]["credentials"])
    assert factory.pop("()") == "llm_metadata.llm.redact.CredentialsFilter"
    record = logging.LogRecord("x", logging.INFO, "", 0, "to %s", (secret_url(8080),), None)
    assert CredentialsFilter(**factory).filter(record)
    assert leaks(record.getMessage()) == []
