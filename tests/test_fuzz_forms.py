"""Property tests of what users send: the chat form and the conversation importer take any
input without a server error, and what they accept stays within their rules.

Example counts come from the Hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

import json
import math

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_metadata import imports
from llm_metadata.catalog import offered_models
from llm_metadata.exports import SCHEMA
from llm_metadata.forms import QUESTION_MAX_CHARS, RANGES, ChatForm
from llm_metadata.models import Conversation
from llm_metadata.record import FIELDS

with_db_fixtures = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

numbers_as_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", " ", "1e999", "-0", "0x10", "\u0661", "nan", "½", "1_0"]),
    st.text(max_size=12),
)
form_data = st.fixed_dictionaries(
    {
        "question": st.text(max_size=300),
        "temperature": numbers_as_text,
        "top_k": numbers_as_text,
        "top_p": numbers_as_text,
        "max_tokens": numbers_as_text,
    },
    optional={"model": st.text(max_size=40), "system_prompt": st.text(max_size=200)},
)
uploads = st.none() | st.tuples(
    st.sampled_from(["a.txt", "a.csv", "a.json", "a.docx", "a.pdf", "a.exe", "noext", "A.TXT"]),
    st.binary(max_size=500),
)


def _files(upload: tuple[str, bytes] | None) -> dict:
    return {} if upload is None else {"file_upload": SimpleUploadedFile(upload[0], upload[1])}


@pytest.mark.django_db
@with_db_fixtures
@given(form_data, uploads, st.booleans())
def test_the_chat_form_accepts_only_values_within_its_ranges(
    data: dict, upload: tuple[str, bytes] | None, offered: bool
) -> None:
    models = offered_models()
    if offered:
        data = {**data, "model": models[0].name}
    form = ChatForm(data, _files(upload), offered=models)
    if not form.is_valid():
        assert form.errors and all(form.error_dict().values())
        return
    clean = form.cleaned_data
    assert 0 < len(clean["question"]) <= QUESTION_MAX_CHARS
    for name, (_label, low, high) in RANGES.items():
        assert math.isfinite(clean[name]) and low <= clean[name] <= high, name


@pytest.mark.django_db
@settings(with_db_fixtures, max_examples=10)
@given(form_data, uploads)
def test_the_chat_endpoints_answer_any_post_without_a_server_error(
    alice_client: Client, data: dict, upload: tuple[str, bytes] | None
) -> None:
    """Invalid posts only (no question): a valid one would call the model, tested elsewhere."""
    data = {**data, "question": ""}
    stream = alice_client.post(
        reverse("llm_metadata:ask-stream"),
        {**data, **_files(upload)},
        HTTP_ACCEPT="text/event-stream",
    )
    assert stream.status_code == 400 and "question" in stream.json()["errors"]
    page = alice_client.post(reverse("llm_metadata:ask"), {**data, **_files(upload)})
    assert page.status_code == 400


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
# The record's fields: what an export holds and the importer reads (a fuzzed file may hold any).
MESSAGE_KEYS = tuple(f.name for f in FIELDS)
plausible = {
    "role": st.sampled_from(["user", "assistant", "system", "robot"]),
    "status": st.sampled_from(["ok", "error", "cancelled", "pending"]),
    "created": st.sampled_from(
        ["2026-01-02T03:04:05Z", "2026-13-45T99:00:00", "2026-02-30T10:00:00+01:00", "yesterday"]
    )
    | st.datetimes().map(lambda moment: moment.isoformat()),
    "feedback": st.fixed_dictionaries(
        {"rating": st.sampled_from(["up", "down", "sideways", 1]), "comment": json_values}
    ),
}
messages = st.lists(
    st.dictionaries(
        st.sampled_from(MESSAGE_KEYS),
        json_values,
        max_size=len(MESSAGE_KEYS),
    ).flatmap(
        lambda message: st.fixed_dictionaries(
            {
                key: plausible.get(key, st.just(value)) | st.just(value)
                for key, value in message.items()
            }
        )
    ),
    max_size=4,
)
conversations = st.fixed_dictionaries(
    {
        "schema": st.sampled_from([SCHEMA, SCHEMA, "other"]),
        "version": st.sampled_from([1, 1, 0, 2, "1", True]),
        "conversation": st.fixed_dictionaries(
            {"messages": messages},
            optional={
                "title": json_values,
                "system_prompt": json_values,
                "created": plausible["created"],
                "updated": plausible["created"],
            },
        ),
    }
)
import_files = st.one_of(
    conversations.map(json.dumps),
    st.lists(conversations, max_size=3).map(json.dumps),
    json_values.map(json.dumps),
).map(str.encode) | st.binary(max_size=200)


@pytest.mark.django_db
@with_db_fixtures
@given(import_files)
def test_the_importer_saves_a_whole_file_or_nothing_and_says_why(alice, raw: bytes) -> None:
    before = Conversation.objects.count()
    try:
        created = imports.import_conversations(owner=alice, raw=raw)
    except imports.ImportFileError as exc:
        assert exc.problems and str(exc)
        assert Conversation.objects.count() == before
        return
    assert Conversation.objects.count() == before + len(created)
    assert all(conversation.owner_id == alice.pk for conversation in created)


@pytest.mark.django_db
@settings(with_db_fixtures, max_examples=10)
@given(import_files)
def test_the_import_page_answers_any_file_without_a_server_error(
    alice_client: Client, raw: bytes
) -> None:
    response = alice_client.post(
        reverse("llm_metadata:conversation-import"),
        {"json_file": SimpleUploadedFile("fuzz.json", raw, "application/json")},
    )
    assert response.status_code == 302
