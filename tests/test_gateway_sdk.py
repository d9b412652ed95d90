"""The recording gateway with the official `openai` SDK as the client, over real HTTP: the app
under uvicorn (tests/live_asgi.py) in front of the fake OpenAI and Ollama servers."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from django.utils import timezone

from llm_metadata import api_keys, gateway
from llm_metadata.models import Conversation, Message

QUESTION = [
    {"role": "system", "content": "Answer in one sentence."},
    {"role": "user", "content": "What is the capital of France?"},
]
ANSWER = "The capital of France is Paris."


@pytest.fixture
def key(alice) -> str:
    return api_keys.create_key(owner=alice, name="notebook")[1]


@pytest.fixture
def client(app_server, key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{app_server.url}/v1", api_key=key, max_retries=0, timeout=10)


def _answer() -> Message:
    return Message.objects.get(role=Message.Role.ASSISTANT)


class Recordings:
    """Counts the gateway's finished recordings (the real `record_call`, observed), so a test
    reads the database only once the server wrote to it: an in-memory SQLite test database is
    shared between threads with table locks, and a read during the write would fail it."""

    def __init__(self) -> None:
        self.done = 0
        self.changed = threading.Condition()

    def wait(self, count: int, seconds: float = 30.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.done >= count, seconds):
                raise AssertionError(f"{self.done} calls recorded, not {count}")


@pytest.fixture(autouse=True)
def recordings(monkeypatch) -> Recordings:
    seen = Recordings()
    original = gateway.record_call

    def observed(**kwargs: Any) -> Message:
        try:
            return original(**kwargs)
        finally:
            with seen.changed:
                seen.done += 1
                seen.changed.notify_all()

    monkeypatch.setattr(gateway, "record_call", observed)
    return seen


@pytest.fixture
def wait_for_answer(recordings: Recordings) -> Callable[..., Message]:
    def wait(count: int = 1) -> Message:
        """The last answer, once `count` calls were recorded (a stream is recorded as it
        closes, after the client had its last chunk)."""
        recordings.wait(count)
        return Message.objects.filter(role=Message.Role.ASSISTANT).order_by("id").last()

    return wait


def _chat_requests(server) -> list[dict]:
    return [r for r in server.state.requests if r["path"].endswith("/chat/completions")]


def test_it_lists_the_offered_models(fake_openai, client) -> None:
    assert [m.id for m in client.models.list()] == ["fake-small", "fake-large"]


def test_it_relays_a_call_and_records_it_with_every_parameter(fake_openai, client, alice) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="fake-small",
        messages=QUESTION,
        temperature=0.2,
        seed=7,
        stop=["\n\n"],
        n=1,
        presence_penalty=0.1,
        response_format={"type": "text"},
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == ANSWER
    assert completion.usage.completion_tokens == 6
    assert raw.headers["server-timing"].startswith("gateway;dur=")
    sent = fake_openai.state.last["body"]
    assert sent["seed"] == 7 and sent["stop"] == ["\n\n"] and sent["presence_penalty"] == 0.1
    assert sent["response_format"] == {"type": "text"} and sent["n"] == 1

    conversation = Conversation.objects.get()
    assert str(conversation.pk) == raw.headers["x-conversation-id"]
    assert conversation.owner == alice and conversation.title == "What is the capital of France?"
    rows = list(conversation.messages.order_by("created", "id"))
    assert [(m.role, m.content) for m in rows] == [
        ("system", "Answer in one sentence."),
        ("user", "What is the capital of France?"),
        ("assistant", ANSWER),
    ]
    assert {m.source for m in rows} == {"api"} and {m.api_key_name for m in rows} == {"notebook"}
    answer = rows[-1]
    assert answer.status == "ok" and answer.finish_reason == "stop"
    assert (answer.prompt_tokens, answer.completion_tokens) == (
        completion.usage.prompt_tokens,
        completion.usage.completion_tokens,
    )
    assert answer.temperature == 0.2 and answer.elapsed_time > 0
    assert answer.request_params["seed"] == 7 and answer.request_params["stop"] == ["\n\n"]
    assert "messages" not in answer.request_params


def test_it_streams_and_drops_the_usage_chunk_the_client_did_not_ask_for(
    wait_for_answer, fake_openai, client
) -> None:
    chunks = list(
        client.chat.completions.create(model="fake-small", messages=QUESTION, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    assert all(c.usage is None for c in chunks)
    assert fake_openai.state.last["body"]["stream_options"] == {"include_usage": True}
    answer = wait_for_answer()
    assert answer.content == ANSWER and answer.status == "ok"
    assert answer.completion_tokens == 6 and answer.prompt_tokens is not None
    assert answer.time_to_first_token is not None
    assert answer.time_to_first_token <= answer.elapsed_time


def test_it_passes_usage_on_when_the_client_asks(wait_for_answer, fake_openai, client) -> None:
    chunks = list(
        client.chat.completions.create(
            model="fake-small",
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and chunks[-1].choices == []
    answer = wait_for_answer()
    assert (answer.prompt_tokens, answer.completion_tokens, answer.total_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
    )


def test_it_records_usage_as_not_reported_when_the_endpoint_sends_none(
    wait_for_answer, fake_openai, client
) -> None:
    fake_openai.state.usage = False
    list(client.chat.completions.create(model="fake-small", messages=QUESTION, stream=True))
    answer = wait_for_answer()
    assert answer.content == ANSWER
    assert (answer.prompt_tokens, answer.completion_tokens, answer.raw_usage) == (None, None, None)
    assert answer.cost is None


@pytest.mark.parametrize("state", ["unknown", "expired", "revoked"])
def test_it_refuses_bad_keys_with_401_and_never_echoes_them(
    fake_openai, app_server, alice, state
) -> None:
    row, key = api_keys.create_key(owner=alice, name="old")
    if state == "unknown":
        key = "lmd_" + "x" * 32
    elif state == "expired":
        row.expires = timezone.now() - dt.timedelta(days=1)
        row.save()
    else:
        api_keys.revoke(key=row)
    client = openai.OpenAI(base_url=f"{app_server.url}/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model="fake-small", messages=QUESTION)
    assert raised.value.status_code == 401
    assert key not in str(raised.value.body) and key not in raised.value.response.text
    assert raised.value.body["type"] == "invalid_request_error"
    assert not Message.objects.exists() and _chat_requests(fake_openai) == []


def test_it_continues_a_conversation_without_storing_its_history_twice(fake_openai, client) -> None:
    first = client.chat.completions.with_raw_response.create(model="fake-small", messages=QUESTION)
    conversation_id = first.headers["x-conversation-id"]
    follow_up = [
        *QUESTION,
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "content": "And of Italy?"},
    ]
    second = client.chat.completions.with_raw_response.create(
        model="fake-small",
        messages=follow_up,
        extra_headers={"X-Conversation-Id": conversation_id},
    )
    assert second.headers["x-conversation-id"] == conversation_id
    conversation = Conversation.objects.get()
    roles = list(conversation.messages.order_by("created", "id").values_list("role", flat=True))
    assert roles == ["system", "user", "assistant", "user", "assistant"]


def test_another_users_conversation_is_404_and_nothing_is_written(fake_openai, client, bob) -> None:
    theirs = Conversation.objects.create(owner=bob, title="bob's")
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(
            model="fake-small",
            messages=QUESTION,
            extra_headers={"X-Conversation-Id": str(theirs.pk)},
        )
    assert raised.value.body["code"] == "conversation_not_found"
    assert not Message.objects.exists() and Conversation.objects.count() == 1
    assert _chat_requests(fake_openai) == []


def test_an_unknown_model_is_404(fake_openai, client) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-nope", messages=QUESTION)
    assert raised.value.body["code"] == "model_not_found"


def test_a_malformed_body_is_400_in_openais_shape(fake_openai, app_server, key) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    url = f"{app_server.url}/v1/chat/completions"
    for body in (
        b"{not json",
        b"[]",
        b'{"model": "fake-small"}',
        b'{"model": "fake-small", "messages": [{"role": "robot"}]}',
    ):
        response = httpx.post(url, content=body, headers=headers)
        assert response.status_code == 400
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        assert response.headers["server-timing"].startswith("gateway;dur=")


def test_an_interrupted_stream_is_stored_as_cancelled_with_its_partial_text(
    wait_for_answer, fake_openai, client
) -> None:
    fake_openai.state.tokens, fake_openai.state.delay = 200, 0.05
    stream = client.chat.completions.create(model="fake-small", messages=QUESTION, stream=True)
    received = ""
    for chunk in stream:
        received += (chunk.choices[0].delta.content or "") if chunk.choices else ""
        if received.count(" ") >= 3:
            break
    stream.close()
    answer = wait_for_answer()
    assert answer.status == "cancelled"
    assert answer.content.startswith(received) and 0 < len(answer.content) < 200 * 5


def test_a_failure_mid_stream_reaches_the_client_and_the_record(
    wait_for_answer, fake_openai, client
) -> None:
    fake_openai.state.mode = "stream_error"
    with pytest.raises(openai.APIError, match="upstream model crashed"):
        list(client.chat.completions.create(model="fake-small", messages=QUESTION, stream=True))
    answer = wait_for_answer()
    assert answer.status == "error" and "upstream model crashed" in answer.error
    assert answer.content == "The capital"


@pytest.mark.parametrize("stream", [False, True])
def test_an_upstream_500_is_502_and_recorded_as_an_error(
    wait_for_answer, fake_openai, client, stream
) -> None:
    fake_openai.state.mode, fake_openai.state.status = "status", 500
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="fake-small", messages=QUESTION, stream=stream)
    assert raised.value.status_code == 502
    assert raised.value.response.headers["x-conversation-id"]
    answer = wait_for_answer()
    assert answer.status == "error" and "HTTP 500" in answer.error


def test_an_upstream_429_is_429_with_retry_after(wait_for_answer, fake_openai, client) -> None:
    fake_openai.state.mode = "rate_limit"
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="fake-small", messages=QUESTION)
    assert raised.value.response.headers["retry-after"] == "0"
    assert wait_for_answer().status == "error"


def test_over_the_users_rate_limit_it_is_429_and_nothing_is_sent_or_written(
    wait_for_answer, fake_openai, client, settings
) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 1
    client.chat.completions.create(model="fake-small", messages=QUESTION)
    wait_for_answer()
    sent, stored = len(_chat_requests(fake_openai)), Message.objects.count()
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="fake-small", messages=QUESTION)
    assert int(raised.value.response.headers["retry-after"]) >= 1
    assert "calls" in raised.value.message or "minute" in raised.value.message
    assert len(_chat_requests(fake_openai)) == sent and Message.objects.count() == stored


def test_an_upstream_timeout_is_504(wait_for_answer, fake_openai, client) -> None:
    fake_openai.state.mode = "hang"
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="fake-small", messages=QUESTION)
    assert raised.value.status_code == 504
    assert raised.value.body["code"] == "upstream_timeout"
    assert "did not answer" in wait_for_answer().error


def test_the_endpoints_key_is_never_shown(wait_for_answer, fake_openai, client, settings) -> None:
    settings.API_KEY = "sk-upstream-secret-1234"
    fake_openai.state.mode, fake_openai.state.status = "status", 500
    fake_openai.state.reply = "sk-upstream-secret-1234"
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="fake-small", messages=QUESTION)
    assert "sk-upstream-secret-1234" not in raised.value.response.text
    assert "sk-upstream-secret-1234" not in wait_for_answer().error


def test_it_translates_to_ollama_and_back(wait_for_answer, fake_ollama, client) -> None:
    completion = client.chat.completions.create(
        model="fake-small", messages=QUESTION, temperature=0.3, max_tokens=50, seed=3, stop="###"
    )
    assert completion.choices[0].message.content == ANSWER
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 6
    sent = fake_ollama.state.last
    assert sent["path"] == "/api/chat" and sent["body"]["stream"] is False
    assert sent["body"]["options"] == {
        "temperature": 0.3,
        "num_predict": 50,
        "seed": 3,
        "stop": ["###"],
    }
    chunks = list(
        client.chat.completions.create(
            model="fake-small",
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert chunks[-1].usage.completion_tokens == 6
    wait_for_answer(count=2)
    answers = Message.objects.filter(role="assistant").order_by("created", "id")
    assert [a.raw_usage["eval_count"] for a in answers] == [6, 6]
    assert {a.status for a in answers} == {"ok"}


def test_without_an_endpoint_the_demo_model_answers(wait_for_answer, demo_endpoint, client) -> None:
    assert [m.id for m in client.models.list()] == ["demo"]
    whole = client.chat.completions.create(model="demo", messages=QUESTION, max_tokens=5)
    assert whole.choices[0].message.content.startswith("This is the demo model")
    assert whole.choices[0].finish_reason == "length" and whole.usage.completion_tokens == 5
    chunks = list(
        client.chat.completions.create(model="demo", messages=QUESTION, max_tokens=5, stream=True)
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    answer = wait_for_answer(count=2)
    assert answer.content == streamed and answer.completion_tokens == 5
    assert answer.prompt_tokens is None  # the demo reports none: not estimated
