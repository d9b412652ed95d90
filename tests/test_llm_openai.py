"""The OpenAI-compatible backend against the fake server over real HTTP: what it sends, reads."""

from __future__ import annotations

import asyncio

import pytest

from llm_metadata.llm import ChatRequest, ChatResult, Endpoint, achat, chat, stream_chat

pytestmark = pytest.mark.usefixtures("llm_clients")

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the capital of France?"},
]


def ask(model: str = "fake-small", **overrides) -> ChatRequest:
    params = {"temperature": 0.3, "top_k": 20, "top_p": 0.8, "max_tokens": 100}
    params |= {"context_length": 4096} | overrides
    return ChatRequest(model=model, messages=MESSAGES, **params)


async def collect(endpoint: Endpoint, request: ChatRequest) -> tuple[list[str], ChatResult]:
    stream = stream_chat(endpoint, request)
    deltas = [text async for text in stream]
    assert all(isinstance(text, str) for text in deltas)
    return deltas, await stream.aclose()


async def test_it_sends_the_exact_body_and_headers(fake_openai):
    await achat(fake_openai.endpoint(key="sk-test-123"), ask())
    sent = fake_openai.state.last
    assert sent["method"] == "POST"
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"] == {
        "model": "fake-small",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.3,
        "top_p": 0.8,
        "top_k": 20,
        "max_tokens": 100,
    }
    assert sent["headers"]["authorization"] == "Bearer sk-test-123"
    assert sent["headers"]["content-type"] == "application/json"


async def test_it_sends_no_authorization_without_a_key(fake_openai):
    await achat(fake_openai.endpoint(), ask())
    assert "authorization" not in fake_openai.state.last["headers"]


async def test_it_streams_deltas_then_the_final_record(fake_openai):
    deltas, result = await collect(fake_openai.endpoint(), ask())
    assert deltas == ["The", " capital", " of", " France", " is", " Paris."]
    assert (result.status, result.error) == ("ok", "")
    assert result.text == "The capital of France is Paris."
    assert result.model == "fake-small"
    assert result.finish_reason == "stop"
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (
        (len("Be brief.") // 4 + 4) + (len(MESSAGES[1]["content"]) // 4 + 4),
        6,
        result.prompt_tokens + 6,
    )
    assert result.raw_usage == {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": 6,
        "total_tokens": result.total_tokens,
    }
    assert 0 < result.time_to_first_token <= result.elapsed


async def test_it_reads_the_usage_chunk_with_empty_choices(fake_openai):
    fake_openai.state.usage = False
    result = await achat(fake_openai.endpoint(), ask())
    assert result.text.endswith("Paris.")
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (None,) * 3
    assert result.raw_usage is None


async def test_it_reports_length_when_max_tokens_cuts(fake_openai):
    result = await achat(fake_openai.endpoint(), ask(max_tokens=2))
    assert result.text == "The capital"
    assert result.finish_reason == "length"
    assert result.completion_tokens == 2


async def test_it_accepts_a_non_streamed_json_answer(fake_openai):
    fake_openai.state.mode = "json"
    deltas, result = await collect(fake_openai.endpoint(), ask())
    assert deltas == ["The capital of France is Paris."]
    assert result.completion_tokens == 6
    assert result.finish_reason == "stop"


async def test_it_retries_429_then_succeeds(fake_openai):
    fake_openai.state.mode = "rate_limit"
    fake_openai.state.rate_limits = 2
    result = await achat(fake_openai.endpoint(), ask())
    assert result.text.endswith("Paris.")
    assert len(fake_openai.state.requests) == 3


async def test_it_reuses_one_pooled_connection(fake_openai):
    for _ in range(3):
        await achat(fake_openai.endpoint(), ask())
    ports = {r["headers"].get("host") for r in fake_openai.state.requests}
    assert len(ports) == 1
    from llm_metadata.llm.transport import get_client

    assert get_client(fake_openai.endpoint()) is get_client(fake_openai.endpoint())


async def test_it_closes_the_upstream_request_when_the_consumer_stops(fake_openai):
    fake_openai.state.tokens = 1000
    fake_openai.state.delay = 0.01
    stream = stream_chat(fake_openai.endpoint(), ask(max_tokens=1000))
    assert isinstance(await anext(aiter(stream)), str)
    ended = await stream.aclose()
    assert (ended.status, ended.error) == ("cancelled", "")
    assert ended.text and ended.time_to_first_token is not None
    for _ in range(200):  # the server notices the disconnect within a few event-loop turns
        if fake_openai.state.disconnects:
            break
        await asyncio.sleep(0.01)
    assert fake_openai.state.disconnects == 1


async def test_it_closes_the_upstream_request_when_the_task_is_cancelled(fake_openai):
    fake_openai.state.tokens = 1000
    fake_openai.state.delay = 0.01
    started = asyncio.Event()
    stream = stream_chat(fake_openai.endpoint(), ask(max_tokens=1000))

    async def consume() -> None:
        async for _ in stream:
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await stream.aclose()).status == "cancelled"
    for _ in range(200):
        if fake_openai.state.disconnects:
            break
        await asyncio.sleep(0.01)
    assert fake_openai.state.disconnects == 1


def test_it_answers_sync_callers(fake_openai):
    result = chat(fake_openai.endpoint(), ask())
    assert result.text == "The capital of France is Paris."
    assert result.completion_tokens == 6


def test_it_logs_one_info_line_without_text_or_key(fake_openai, llm_log):
    caplog = llm_log
    with caplog.at_level("INFO", logger="llm_metadata"):
        chat(fake_openai.endpoint(key="sk-secret-key"), ask())
    lines = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert len(lines) == 1
    assert "kind=openai model=fake-small outcome=ok" in lines[0]
    assert "completion_tokens=6" in lines[0] and "latency=" in lines[0]
    assert "Paris" not in lines[0] and "France" not in lines[0]
    assert "sk-secret-key" not in caplog.text


def test_it_logs_the_text_only_at_debug(fake_openai, llm_log):
    caplog = llm_log
    with caplog.at_level("DEBUG", logger="llm_metadata"):
        chat(fake_openai.endpoint(), ask())
    debug = [r.getMessage() for r in caplog.records if r.levelname == "DEBUG"]
    assert any("What is the capital of France?" in line for line in debug)
    assert any("Paris." in line for line in debug)


def test_it_gives_each_sync_call_its_own_client_and_closes_it(fake_openai):
    from llm_metadata.llm import transport

    # Servers started by other tests (the gateway's) may keep loops with clients of their own.
    before = set(transport._pools.keys())
    first, second = chat(fake_openai.endpoint(), ask()), chat(fake_openai.endpoint(), ask())
    assert first.text == second.text == "The capital of France is Paris."
    left = [loop for loop, pool in transport._pools.items() if pool and loop not in before]
    assert left == []


async def test_it_keeps_one_client_per_event_loop_until_closed(fake_openai):
    from llm_metadata.llm import aclose_clients, transport

    client = transport.get_client(fake_openai.endpoint())
    await achat(fake_openai.endpoint(), ask())
    assert transport.get_client(fake_openai.endpoint()) is client and not client.is_closed
    await aclose_clients()
    assert client.is_closed
    assert transport.get_client(fake_openai.endpoint()) is not client


async def test_it_relays_many_concurrent_streams_over_the_pool(fake_openai):
    fake_openai.state.delay = 0.005
    results = await asyncio.gather(*(achat(fake_openai.endpoint(), ask()) for _ in range(20)))
    assert {r.text for r in results} == {"The capital of France is Paris."}
    assert len(fake_openai.state.requests) == 20
