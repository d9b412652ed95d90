"""Every failure ends the call as an error: a clear message, a retryable flag, the text before."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from llm_metadata.llm import ChatRequest, ChatResult, Endpoint, achat, chat, stream_chat

pytestmark = pytest.mark.usefixtures("llm_clients")

KINDS = ["fake_openai", "fake_ollama"]


def ask(model: str = "fake-small") -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        temperature=0.0,
        top_k=1,
        top_p=1.0,
        max_tokens=50,
        context_length=4096,
    )


async def failure(endpoint: Endpoint, request: ChatRequest | None = None) -> ChatResult:
    result = await achat(endpoint, request or ask())
    assert result.status == "error"
    return result


@pytest.fixture(params=KINDS)
def fake(request):
    return request.getfixturevalue(request.param)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_it_reports_connection_refused(fake):
    ended = await failure(fake.endpoint(url=f"http://127.0.0.1:{free_port()}"))
    assert "connection refused (is it running?)" in ended.error
    assert ended.error.startswith("Cannot connect to the endpoint at 127.0.0.1:")
    assert ended.retryable is True
    assert ended.text == "" and ended.time_to_first_token is None


async def test_it_reports_a_dns_failure(fake, monkeypatch):
    def no_such_host(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    ended = await failure(fake.endpoint(url="http://llm.invalid:8080"))
    assert ended.error == (
        "Cannot find the endpoint's host llm.invalid (DNS lookup failed); check API_URL."
    )
    assert ended.retryable is False


async def test_it_times_out_waiting_for_the_first_byte(fake):
    fake.state.mode = "hang"
    ended = await failure(fake.endpoint(timeout=0.3))
    assert ended.error == "The endpoint did not answer within 0.3 s."
    assert ended.retryable is True


async def test_it_times_out_when_the_stream_stalls_and_keeps_the_text(fake):
    fake.state.mode = "stall"
    ended = await failure(fake.endpoint(timeout=0.3))
    assert ended.error == (
        "The endpoint stopped sending for more than 0.3 s; the answer is cut off."
    )
    assert ended.retryable is True
    assert ended.text == "The capital"
    assert ended.time_to_first_token is not None


@pytest.mark.parametrize("status", [401, 403])
async def test_it_reports_a_refused_key(fake, status):
    fake.state.mode = "status"
    fake.state.status = status
    ended = await failure(fake.endpoint(key="sk-wrong"))
    assert ended.error == f"The endpoint refused the API key (HTTP {status})."
    assert ended.retryable is False


async def test_it_says_when_a_key_is_required_but_none_is_set(fake):
    fake.state.api_key = "sk-right"
    ended = await failure(fake.endpoint())
    assert ended.error == "The endpoint refused the API key (no API_KEY is set) (HTTP 401)."


async def test_it_sends_the_key_that_the_endpoint_wants(fake):
    fake.state.api_key = "sk-right"
    result = await achat(fake.endpoint(key="sk-right"), ask())
    assert result.text == "The capital of France is Paris."


async def test_it_reports_an_unknown_model(fake):
    ended = await failure(fake.endpoint(), ask("no-such-model"))
    assert ended.error == "Model no-such-model is not available at the endpoint."
    assert ended.retryable is False


async def test_it_retries_429_twice_then_reports_it(fake):
    fake.state.mode = "rate_limit"
    ended = await failure(fake.endpoint())
    assert ended.error == (
        "The endpoint is rate-limiting requests (HTTP 429) after 2 retries; try again in a moment."
    )
    assert ended.retryable is True
    assert len(fake.state.requests) == 3


@pytest.mark.parametrize(
    ("headers", "attempt", "delay"),
    [({}, 0, 0.5), ({}, 1, 1.0), ({"Retry-After": "3"}, 0, 3.0), ({"Retry-After": "900"}, 1, 10.0)],
)
def test_it_backs_off_exponentially_or_as_the_endpoint_says(headers, attempt, delay):
    from llm_metadata.llm.transport import retry_delay

    assert retry_delay(httpx.Response(429, headers=headers), attempt) == delay


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_it_reports_server_errors(fake, status):
    fake.state.mode = "status"
    fake.state.status = status
    ended = await failure(fake.endpoint())
    assert ended.error == f"The endpoint failed (HTTP {status}: The server had an error.)."
    assert ended.retryable is True


async def test_it_reports_a_client_error_with_the_endpoints_words(fake):
    fake.state.mode = "status"
    fake.state.status = 400
    ended = await failure(fake.endpoint())
    assert ended.error == (
        "The endpoint rejected the request (HTTP 400: The server had an error.)."
    )
    assert ended.retryable is False


async def test_it_reports_an_html_page_as_not_the_protocol(fake):
    fake.state.mode = "html"
    ended = await failure(fake.endpoint())
    protocol = "OpenAI chat completions" if fake.state.kind == "openai" else "Ollama /api/chat"
    assert ended.error == (
        f"The endpoint sent a text/html body, not the {protocol} protocol; "
        "check API_URL and API_KIND."
    )
    assert ended.retryable is False


async def test_it_reports_a_record_that_is_not_json_and_keeps_the_text(fake):
    fake.state.mode = "bad_json"
    ended = await failure(fake.endpoint())
    assert "sent a malformed record, not the" in ended.error
    assert ended.text == "The capital"


async def test_it_reports_a_connection_cut_mid_answer_and_keeps_the_text(fake):
    fake.state.mode = "cut"
    ended = await failure(fake.endpoint())
    assert ended.error == (
        "The connection to the endpoint was lost before the answer was complete."
    )
    assert ended.retryable is True
    assert ended.text == "The capital"
    assert ended.elapsed >= ended.time_to_first_token > 0


async def test_it_reports_a_stream_that_ends_without_its_final_record(fake):
    fake.state.mode = "end_early"
    ended = await failure(fake.endpoint())
    assert ended.error == (
        "The endpoint's stream ended before its final record; the answer may be incomplete."
    )
    assert ended.text == "The capital"


async def test_it_reports_an_error_record_inside_the_stream(fake):
    fake.state.mode = "stream_error"
    ended = await failure(fake.endpoint())
    assert ended.error == "The endpoint reported an error: upstream model crashed."
    assert ended.text == "The capital"


async def test_it_yields_the_text_then_ends_quietly_as_an_error(fake):
    fake.state.mode = "cut"
    stream = stream_chat(fake.endpoint(), ask())
    seen = [text async for text in stream]
    assert seen == ["The", " capital"]
    ended = await stream.aclose()
    assert (ended.status, ended.text) == ("error", "The capital")
    assert ended.error.startswith("The connection to the endpoint was lost")


async def test_it_points_at_api_url_on_a_404_path(fake_openai):
    ended = await failure(fake_openai.endpoint(url=fake_openai.url.removesuffix("/v1")))
    assert ended.error == (
        "The endpoint has no /chat/completions (HTTP 404); check API_URL and API_KIND."
    )


async def test_it_logs_failures_once_at_info(fake, llm_log):
    fake.state.mode = "cut"
    with llm_log.at_level("INFO", logger="llm_metadata"):
        await failure(fake.endpoint())
    lines = [r.getMessage() for r in llm_log.records if r.name.startswith("llm_metadata.llm")]
    assert len(lines) == 1
    assert "outcome=error" in lines[0] and "was lost" in lines[0]


def test_it_gives_sync_callers_the_same_ending(fake):
    fake.state.mode = "html"
    ended = chat(fake.endpoint(), ask())
    assert ended.status == "error" and "sent a text/html body" in ended.error


async def test_it_cuts_a_trickling_answer_at_the_deadline_and_keeps_the_text(fake):
    fake.state.tokens, fake.state.delay = 1000, 0.05  # a token every 50 ms, for 50 s
    ended = await failure(fake.endpoint(max_duration=0.6))
    assert ended.error == "The answer took longer than 0.6 s (API_MAX_DURATION); it is cut off."
    assert ended.retryable is True
    assert ended.text.startswith(" lorem ipsum") and len(ended.text.split()) < 20
    assert 0.6 < ended.elapsed < 1.5


async def test_it_cuts_a_stream_of_keep_alives_at_the_deadline(fake):
    fake.state.mode, fake.state.delay = "keepalive", 0.05  # well within API_TIMEOUT (2 s)
    ended = await failure(fake.endpoint(max_duration=0.6))
    assert ended.error == "The answer took longer than 0.6 s (API_MAX_DURATION); it is cut off."
    assert ended.text == "The capital"
    assert 0.6 < ended.elapsed < 1.5
    for _ in range(100):  # and the upstream request is closed
        if fake.state.disconnects:
            break
        await asyncio.sleep(0.02)
    assert fake.state.disconnects == 1


async def test_it_never_waits_for_a_first_byte_past_the_deadline(fake):
    fake.state.mode = "hang"
    ended = await failure(fake.endpoint(timeout=30, max_duration=0.4))
    assert ended.error == "The endpoint did not answer within 0.4 s."
    assert ended.elapsed < 1.5
