"""`manage.py llm_check` against the fake servers, against nothing (demo), and on failure."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("llm_check", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("fixture", ["fake_openai", "fake_ollama"])
def test_it_lists_models_and_makes_one_call(request, fixture):
    fake = request.getfixturevalue(fixture)
    output = run()
    assert f"Endpoint: {fake.url}\n" in output
    assert f"Kind: {fake.state.kind}\n" in output
    assert "Models at the endpoint: fake-small, fake-large\n" in output
    assert "Models offered (endpoint): fake-small, fake-large\n" in output
    assert "Reply: The capital of France is Paris.\n" in output
    assert "Tokens: prompt 10, completion 6, total 16\n" in output
    assert "Latency: " in output and "(first token after " in output
    assert output.endswith("OK\n")
    assert fake.state.last["body"]["messages"] == [
        {"role": "user", "content": "Say hello in five words."}
    ]


def test_it_calls_the_model_asked_for(fake_openai):
    run("--model", "fake-large", "--prompt", "Hi", "--max-tokens", "2")
    assert fake_openai.state.last["body"]["model"] == "fake-large"
    assert fake_openai.state.last["body"]["max_tokens"] == 2


def test_it_says_when_tokens_are_not_reported(fake_openai):
    fake_openai.state.usage = False
    assert "Tokens: prompt not reported, completion not reported, total not reported" in run()


def test_it_prints_the_clear_error(fake_openai):
    fake_openai.state.mode = "status"
    fake_openai.state.status = 503
    with pytest.raises(CommandError, match=r"The call failed: The endpoint failed \(HTTP 503"):
        run()


def test_it_reports_an_unreachable_endpoint(fake_openai, settings):
    settings.API_URL = "http://127.0.0.1:9/v1"
    with pytest.raises(CommandError, match="connection refused"):
        run()


def test_it_uses_the_demo_model_when_nothing_is_configured(demo_endpoint):
    output = run()
    assert "Endpoint: none (API_URL is unset), so the offline demo model answers." in output
    assert "Models offered (demo): demo\n" in output
    assert "Reply: This is the demo model" in output
    assert "Tokens: prompt not reported, completion 32, total not reported" in output
    assert output.endswith("OK\n")
