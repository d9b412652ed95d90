"""The Ollama backend against the fake server: native /api/chat body, NDJSON, counts, durations."""

from __future__ import annotations

import pytest

from llm_metadata.llm import ChatRequest, achat, chat, stream_chat

pytestmark = pytest.mark.usefixtures("llm_clients")

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def ask(**overrides) -> ChatRequest:
    params = {"temperature": 0.2, "top_k": 30, "top_p": 0.7, "max_tokens": 64}
    params |= {"context_length": 8192} | overrides
    return ChatRequest(model="fake-small", messages=MESSAGES, **params)


async def test_it_sends_the_native_body_with_options_and_num_ctx(fake_ollama):
    await achat(fake_ollama.endpoint(key="proxy-key"), ask(context_length=16384))
    sent = fake_ollama.state.last
    assert (sent["method"], sent["path"]) == ("POST", "/api/chat")
    assert sent["body"] == {
        "model": "fake-small",
        "messages": MESSAGES,
        "stream": True,
        "options": {
            "temperature": 0.2,
            "top_k": 30,
            "top_p": 0.7,
            "num_predict": 64,
            "num_ctx": 16384,
        },
    }
    assert sent["headers"]["authorization"] == "Bearer proxy-key"


async def test_it_streams_deltas_and_reads_counts_and_durations(fake_ollama):
    stream = stream_chat(fake_ollama.endpoint(), ask(context_length=4096))
    deltas = [text async for text in stream]
    result = await stream.aclose()
    assert deltas == ["The", " capital", " of", " France", " is", " Paris."]
    assert result.status == "ok"
    assert result.text == "The capital of France is Paris."
    prompt = len(MESSAGES[0]["content"]) // 4 + 4
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (
        prompt,
        6,
        prompt + 6,
    )
    assert result.finish_reason == "stop"
    assert result.raw_usage == {
        "done_reason": "stop",
        "prompt_eval_count": prompt,
        "eval_count": 6,
        "total_duration": 5_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_duration": 1_000_000,
        "eval_duration": 3_000_000,
    }
    assert 0 < result.time_to_first_token <= result.elapsed


async def test_it_reports_length_when_num_predict_cuts(fake_ollama):
    result = await achat(fake_ollama.endpoint(), ask(max_tokens=3, context_length=4096))
    assert result.text == "The capital of"
    assert result.finish_reason == "length"
    assert result.completion_tokens == 3


def test_it_answers_sync_callers(fake_ollama):
    assert (
        chat(fake_ollama.endpoint(), ask(context_length=4096)).text
        == "The capital of France is Paris."
    )
