"""The offline demo model: labelled, honest about its input, streamed, never used otherwise."""

from __future__ import annotations

import pytest

from llm_metadata.llm import ChatRequest, Endpoint, achat, chat, fit_messages, stream_chat

DEMO = Endpoint()  # no URL: the demo model


def ask(messages: list[dict[str, str]], max_tokens: int = 500) -> ChatRequest:
    return ChatRequest(
        model="qwen3:32b-q8_0",
        messages=messages,
        temperature=0.7,
        top_k=40,
        top_p=0.9,
        max_tokens=max_tokens,
        context_length=8192,
    )


def test_it_says_what_it_is_and_what_it_received():
    fitted = fit_messages(
        system_prompt="Be kind.",
        history=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        question="Summarise the file.",
        files=[("a.txt", "x" * 120)],
        context_length=8192,
        max_tokens=500,
    )
    result = chat(DEMO, ask(fitted.messages))
    assert result.text.startswith("This is the demo model: no LLM endpoint is configured")
    assert (
        "You asked for model qwen3:32b-q8_0 with temperature 0.7, top_k 40, top_p 0.9"
        in result.text
    )
    assert "I received 4 messages and 120 characters of file text." in result.text
    assert "set API_URL" in result.text
    assert result.model == "demo"
    assert result.finish_reason == "stop"
    assert result.prompt_tokens is None and result.total_tokens is None


async def test_it_streams_word_by_word_and_honours_max_tokens(demo_endpoint):
    question = [{"role": "user", "content": "q"}]
    stream = stream_chat(DEMO, ask(question, 5))
    deltas = [text async for text in stream]
    result = await stream.aclose()
    assert len(deltas) == 5 and all(isinstance(d, str) for d in deltas)
    assert result.status == "ok"
    assert result.text == "".join(deltas) == "This is the demo model: "
    assert result.completion_tokens == 5
    assert result.finish_reason == "length"


@pytest.mark.usefixtures("llm_clients")
async def test_it_is_never_used_when_an_endpoint_is_set(fake_openai):
    fake_openai.state.models.append("qwen3:32b-q8_0")
    result = await achat(fake_openai.endpoint(), ask([{"role": "user", "content": "q"}]))
    assert result.status == "ok" and "demo" not in result.text
    assert len(fake_openai.state.requests) == 1
