"""The chat form: every field's range and type; bad input is an error naming the field, no call."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from llm_metadata.catalog import OfferedModel, offered_models
from llm_metadata.forms import ChatForm, initial_for, model_options
from llm_metadata.models import Message, ModelProfile

ASK = reverse("llm_metadata:ask")
STREAM = reverse("llm_metadata:ask-stream")


def valid(**changes: str) -> dict[str, str]:
    data = {
        "question": "What is the capital of France?",
        "model": "fake-small",
        "temperature": "0.7",
        "top_k": "40",
        "top_p": "0.9",
        "max_tokens": "600",
    }
    data.update(changes)
    return data


def chat_calls(server) -> list[dict]:
    return [r for r in server.state.requests if r["path"].endswith("/chat/completions")]


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("temperature", "1.01", "Temperature"),
        ("temperature", "-0.1", "Temperature"),
        ("temperature", "warm", "Temperature"),
        ("temperature", "nan", "Temperature"),
        ("top_k", "101", "Top K"),
        ("top_k", "-1", "Top K"),
        ("top_k", "4.5", "Top K"),
        ("top_p", "1.5", "Top P"),
        ("top_p", "-0.5", "Top P"),
        ("max_tokens", "0", "Max tokens"),
        ("max_tokens", "3001", "Max tokens"),
        ("max_tokens", "many", "Max tokens"),
        ("model", "gpt-imaginary", "Model"),
        ("question", "", "Question"),
    ],
)
def test_it_names_the_field_of_each_bad_value_and_calls_no_model(
    alice_client: Client, fake_openai, field: str, value: str, label: str
) -> None:
    response = alice_client.post(ASK, valid(**{field: value}))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert errors[field][0].startswith(label)
    assert label in response.content.decode()
    assert chat_calls(fake_openai) == []
    assert not Message.objects.exists()


@pytest.mark.parametrize("field", ["temperature", "top_k", "top_p", "max_tokens", "model"])
def test_it_requires_each_parameter(alice_client: Client, fake_openai, field: str) -> None:
    data = valid()
    del data[field]
    response = alice_client.post(ASK, data)
    assert response.status_code == 400
    assert response.context["form"].errors[field][0].endswith("is required.")
    assert chat_calls(fake_openai) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *[("temperature", "0"), ("temperature", "1"), ("top_k", "0"), ("top_k", "100")],
        *[("top_p", "0"), ("top_p", "1"), ("max_tokens", "1"), ("max_tokens", "3000")],
    ],
)
def test_it_accepts_the_ends_of_each_range(db, fake_openai, field: str, value: str) -> None:
    form = ChatForm(valid(**{field: value}), offered=offered_models())
    assert form.is_valid(), form.errors


def test_it_answers_the_streaming_endpoint_with_json_errors(
    alice_client: Client, fake_openai
) -> None:
    response = alice_client.post(STREAM, valid(top_p="2", max_tokens="0"))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["top_p"] == ["Top P must be a number from 0 to 1."]
    assert errors["max_tokens"] == ["Max tokens must be a whole number from 1 to 3000."]
    assert chat_calls(fake_openai) == []


def test_it_names_the_file_in_file_errors(alice_client: Client, fake_openai) -> None:
    upload = SimpleUploadedFile("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64)
    response = alice_client.post(ASK, {**valid(), "file_upload": upload})
    assert response.status_code == 400
    (message,) = response.context["form"].errors["file_upload"]
    assert message.startswith("File: old.doc is a legacy Word (.doc) file")
    assert chat_calls(fake_openai) == []


def test_it_offers_the_models_it_is_handed(db, fake_openai) -> None:
    ModelProfile.objects.create(name="fake-large", enabled=False)
    form = ChatForm(offered=offered_models())
    assert [name for name, _ in form.fields["model"].choices] == ["fake-small"]
    assert not ChatForm(valid(model="fake-large"), offered=offered_models()).is_valid()


def test_it_does_no_io(db, fake_openai, django_assert_num_queries) -> None:
    offered = [OfferedModel("fake-small", "Small", ModelProfile(name="fake-small"))]
    with django_assert_num_queries(0):
        form = ChatForm(valid(), offered=offered)
        assert form.is_valid(), form.errors
        assert not ChatForm(valid(model="fake-large"), offered=offered).is_valid()
    assert fake_openai.state.requests == []  # the endpoint's model list was not asked for


def test_it_starts_from_the_model_profile_defaults(db, fake_openai) -> None:
    ModelProfile.objects.create(
        name="fake-small",
        default_temperature=0.2,
        default_top_k=10,
        default_top_p=0.5,
        default_max_tokens=1200,
    )
    options = model_options(offered_models())
    assert initial_for(options) == {
        "model": "fake-small",
        "temperature": 0.2,
        "top_k": 10,
        "top_p": 0.5,
        "max_tokens": 1200,
    }
    assert options[1].defaults == {
        "temperature": 0.7,
        "top_k": 40,
        "top_p": 0.9,
        "max_tokens": 600,
    }


def test_it_shows_the_seed_defaults_on_a_fresh_page(alice_client: Client, demo_endpoint) -> None:
    html = alice_client.get(ASK).content.decode()
    for name, value in [("temperature", "0.7"), ("top_k", "40"), ("top_p", "0.9")]:
        assert f'name="{name}" id="id_{name}"' in html
        assert (
            f'<output for="id_{name}" id="out-{name}" class="fw-semibold">{value}</output>' in html
        )
    assert 'type="range"' in html and 'value="600"' in html
