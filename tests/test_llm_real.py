"""The package against a real small model (SmolLM2-135M-Instruct served by `make local-llm`).

Uses a server already on 127.0.0.1:8081, else starts one from .local-llm/; skipped (saying how
to enable it) when neither is there. CI runs `make local-llm-setup` first.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from llm_metadata.llm import ChatRequest, Endpoint, achat, chat, stream_chat

pytestmark = [pytest.mark.real_llm, pytest.mark.usefixtures("llm_clients")]

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local-llm"
URL = "http://127.0.0.1:8081/v1"
ENDPOINT = Endpoint(url=URL, kind="openai", timeout=60.0)
QUESTION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


def _models() -> list[str] | None:
    try:
        response = httpx.get(f"{URL}/models", timeout=2)
        return [m["id"] for m in response.json()["data"]]
    except (httpx.HTTPError, ValueError, KeyError):
        return None


@pytest.fixture(scope="module")
def local_llm() -> Iterator[str]:
    """The model name served on 127.0.0.1:8081 (started here from .local-llm/ when needed)."""
    models = _models()
    if models:
        yield models[0]
        return
    if not (LOCAL / "venv" / "bin" / "python").exists() or not list(LOCAL.glob("*.gguf")):
        pytest.skip("the local model is not installed: run `make local-llm-setup` to enable this")
    server = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "local_llm.sh"), "serve"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):  # loading takes a few seconds; give a busy machine two minutes
            models = _models()
            if models or server.poll() is not None:
                break
            time.sleep(0.2)
        assert models, f"llama_cpp.server did not come up (exit code {server.poll()})"
        yield models[0]
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def real_endpoint(local_llm: str, settings) -> str:
    settings.API_URL = URL
    settings.API_KIND = "openai"
    settings.API_KEY = ""
    settings.API_MODELS = []
    settings.API_TIMEOUT = 60.0
    return local_llm


def ask(model: str, max_tokens: int = 40) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=QUESTION,
        temperature=0.0,
        top_k=1,
        top_p=1.0,
        max_tokens=max_tokens,
        context_length=2048,
    )


async def test_it_streams_a_real_answer_without_inventing_token_counts(real_endpoint):
    stream = stream_chat(ENDPOINT, ask(real_endpoint))
    deltas = [text async for text in stream]
    result = await stream.aclose()
    assert len(deltas) >= 3 and all(isinstance(d, str) for d in deltas)
    assert result.status == "ok"
    assert result.text == "".join(deltas)
    assert "Paris" in result.text
    # llama-cpp-python's streams carry no usage: none is reported rather than a guess.
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (None,) * 3
    assert result.finish_reason == "stop"
    assert 0 < result.time_to_first_token <= result.elapsed


def test_it_answers_sync_callers_the_same_at_temperature_zero(real_endpoint):
    first = chat(ENDPOINT, ask(real_endpoint))
    assert first.text == "The capital of France is Paris."
    assert chat(ENDPOINT, ask(real_endpoint)).text == first.text


async def test_it_honours_max_tokens(real_endpoint):
    result = await achat(ENDPOINT, ask(real_endpoint, max_tokens=3))
    assert result.finish_reason == "length"
    assert 0 < len(result.text.split()) <= 3


@pytest.mark.django_db
def test_llm_check_lists_the_model_and_completes_a_call(real_endpoint):
    out = StringIO()
    call_command("llm_check", "--prompt", "What is the capital of France?", stdout=out)
    output = out.getvalue()
    assert f"Models at the endpoint: {real_endpoint}\n" in output
    assert "\nReply: " in output and "Tokens: prompt not reported" in output
    assert output.endswith("OK\n")
