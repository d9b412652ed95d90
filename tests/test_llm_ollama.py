"""The Ollama backend against the fake server: native /api/chat body, NDJSON, counts, durations."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from llm_metadata.llm import ChatRequest, ChatResult, achat, astream_chat, chat
from llm_metadata.models import ModelProfile

pytestmark = pytest.mark.usefixtures("llm_clients")


@pytest.fixture
async def close_thread_connections():
    """The profile is read in asgiref's worker thread: close its connection afterwards."""
    yield
    await sync_to_async(connections.close_all)()


MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def ask(**overrides) -> ChatRequest:
    params = {"temperature": 0.2, "top_k": 30, "top_p": 0.7, "max_tokens": 64} | overrides
    return ChatRequest(model="fake-small", messages=MESSAGES, **params)


async def test_it_sends_the_native_body_with_options_and_num_ctx(fake_ollama, settings):
    settings.API_KEY = "proxy-key"
    await achat(ask(context_length=16384))
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


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_it_takes_num_ctx_from_the_models_profile(fake_ollama):
    await ModelProfile.objects.acreate(name="fake-small", context_length=32768)
    await achat(ask())
    assert fake_ollama.state.last["body"]["options"]["num_ctx"] == 32768


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_it_uses_the_default_context_length_without_a_profile(fake_ollama):
    await achat(ask())
    assert fake_ollama.state.last["body"]["options"]["num_ctx"] == 8192


async def test_it_streams_deltas_and_reads_counts_and_durations(fake_ollama):
    items = [item async for item in astream_chat(ask(context_length=4096))]
    *deltas, result = items
    assert deltas == ["The", " capital", " of", " France", " is", " Paris."]
    assert isinstance(result, ChatResult)
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
    result = await achat(ask(max_tokens=3, context_length=4096))
    assert result.text == "The capital of"
    assert result.finish_reason == "length"
    assert result.completion_tokens == 3


def test_it_answers_sync_callers(fake_ollama):
    assert chat(ask(context_length=4096)).text == "The capital of France is Paris."
