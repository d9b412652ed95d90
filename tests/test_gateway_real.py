"""The gateway in front of the real small model (SmolLM2-135M-Instruct, `make local-llm`), with
the `openai` SDK as the client: what a script gets, and what the record keeps."""

from __future__ import annotations

import openai
import pytest

from llm_metadata import api_keys
from llm_metadata.models import Message
from tests.test_llm_real import QUESTION, local_llm, real_endpoint  # noqa: F401 (fixtures)

pytestmark = pytest.mark.real_llm


@pytest.fixture
def client(real_endpoint, clear_cache, app_server, alice) -> openai.OpenAI:  # noqa: F811
    clear_cache()
    key = api_keys.create_key(owner=alice, name="real")[1]
    return openai.OpenAI(base_url=f"{app_server.url}/v1", api_key=key, max_retries=0, timeout=120)


def test_a_real_model_answers_through_the_gateway_and_is_recorded(client, real_endpoint) -> None:  # noqa: F811
    assert real_endpoint in [m.id for m in client.models.list()]
    completion = client.chat.completions.create(
        model=real_endpoint, messages=QUESTION, max_tokens=20, temperature=0, seed=1
    )
    text = completion.choices[0].message.content
    assert text and completion.usage.completion_tokens > 0
    answer = Message.objects.get(role=Message.Role.ASSISTANT)
    assert answer.content == text and answer.source == "api" and answer.api_key_name == "real"
    assert answer.prompt_tokens == completion.usage.prompt_tokens
    assert answer.request_params["seed"] == 1


def test_a_real_model_streams_through_the_gateway(client, real_endpoint) -> None:  # noqa: F811
    chunks = list(
        client.chat.completions.create(
            model=real_endpoint,
            messages=QUESTION,
            max_tokens=20,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].choices[0].finish_reason in ("stop", "length")
    # llama-cpp-python's streams carry no usage even when asked: none reaches the client, and
    # the record (written as the stream closes) says "not reported", never an estimate.
    assert all(c.usage is None for c in chunks)
