"""The writes of a turn: titles, what is replayed, timestamps, costs, cancelled answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from llm_metadata import llm, services
from llm_metadata.files import Attachment
from llm_metadata.models import Conversation, Message, ModelProfile
from tests.factories import make_conversation, make_turn

PARAMS = {"model": "m", "temperature": 0.5, "top_k": 10, "top_p": 0.5, "max_tokens": 100}


def start(**fields: Any) -> services.Turn:
    return services.start_turn(ask=services.Ask(**fields))


def test_it_titles_a_conversation_with_its_first_question_trimmed() -> None:
    assert services.title_for("  What   is\n\nthis?  ") == "What is this?"
    long = "word " * 40
    title = services.title_for(long)
    assert len(title) <= services.TITLE_CHARS and title.endswith("word…")


def test_it_opens_a_conversation_with_the_first_question(alice: User) -> None:
    turn = start(
        user=alice, conversation=None, question="Hello there", system_prompt="Be kind.", **PARAMS
    )
    conversation = Conversation.objects.get()
    assert (conversation.title, conversation.system_prompt) == ("Hello there", "Be kind.")
    assert turn.question.conversation == conversation and turn.question.role == "user"
    assert turn.request.messages == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hello there"},
    ]
    assert (turn.request.temperature, turn.request.top_k, turn.request.max_tokens) == (0.5, 10, 100)


def test_it_bumps_the_conversation_on_each_write(alice: User) -> None:
    conversation = make_conversation(alice)
    old = timezone.now() - dt.timedelta(days=3)
    Conversation.objects.filter(pk=conversation.pk).update(updated=old)
    turn = start(user=alice, conversation=conversation, question="Q", **PARAMS)
    conversation.refresh_from_db()
    assert conversation.updated > old
    asked_at = conversation.updated
    answer = services.save_answer(turn=turn, result=llm.ChatResult(text="A", model="m"))
    conversation.refresh_from_db()
    assert conversation.updated == answer.created >= asked_at


def test_it_replays_answered_exchanges_and_every_file(alice: User) -> None:
    conversation = make_conversation(alice)
    make_turn(conversation, "first", "one")
    Message.objects.create(
        conversation=conversation,
        role="user",
        content="failed",
        attachment_name="a.txt",
        attachment_text="file a",
    )
    Message.objects.create(conversation=conversation, role="assistant", status="error")
    make_turn(conversation, "third", "partial", status="cancelled")
    history, files = services.replay(conversation)
    assert history == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "third"},
        {"role": "assistant", "content": "partial"},
    ]
    assert files == [("a.txt", "file a")]


def test_it_stores_the_attachment_with_the_question(alice: User) -> None:
    upload = SimpleUploadedFile("n.md", b"# N")
    turn = start(
        user=alice,
        conversation=None,
        question="Read it",
        attachment=Attachment(upload=upload, name="n.md", text="# N"),
        **PARAMS,
    )
    assert turn.question.attachment_name == "n.md"
    assert turn.question.attachment.read() == b"# N"
    assert "--- file: n.md ---\n# N" in turn.request.messages[-1]["content"]


def test_it_hands_the_models_context_length_to_the_call(alice: User, fake_ollama) -> None:
    ModelProfile.objects.create(name="fake-large", context_length=32768)
    for model, context_length in [("fake-large", 32768), ("fake-small", 8192)]:
        ask = services.Ask(
            user=alice, conversation=None, question="Q", **{**PARAMS, "model": model}
        )
        turn, _ = services.send_message(ask=ask)
        assert turn.request.context_length == context_length
        assert fake_ollama.state.last["body"]["options"]["num_ctx"] == context_length


def test_it_prices_an_answer_only_when_everything_is_known(alice: User) -> None:
    ModelProfile.objects.create(
        name="m", input_price_per_million="3", output_price_per_million="15"
    )
    turn = start(user=alice, conversation=None, question="Q", **PARAMS)
    result = llm.ChatResult(text="A", model="m", prompt_tokens=1000, completion_tokens=100)
    priced = services.save_answer(turn=turn, result=result)
    assert float(priced.cost) == (1000 * 3 + 100 * 15) / 1_000_000
    stopped = llm.ChatResult(text="A", model="m", elapsed=1.0, status="cancelled")
    unpriced = services.save_answer(turn=turn, result=stopped)
    assert unpriced.cost is None and unpriced.elapsed_time == 1.0
    assert unpriced.status == "cancelled"


def test_it_stores_a_failure_with_its_partial_text(alice: User) -> None:
    turn = start(user=alice, conversation=None, question="Q", **PARAMS)
    partial = llm.ChatResult(
        text="Half",
        model="m",
        elapsed=2.0,
        time_to_first_token=0.5,
        status="error",
        error="Cut off.",
    )
    answer = services.save_answer(turn=turn, result=partial)
    assert (answer.status, answer.content, answer.error) == ("error", "Half", "Cut off.")
    assert (answer.elapsed_time, answer.time_to_first_token) == (2.0, 0.5)
    assert Message.objects.filter(role="user", content="Q").exists()


def test_it_stores_answers_and_failures_without_nul_characters(alice: User) -> None:
    turn = start(user=alice, conversation=None, question="Q", **PARAMS)
    result = llm.ChatResult(
        text="A\x00B",
        model="m",
        elapsed=1.0,
        finish_reason="st\x00op",
        raw_usage={"k\x00": ["v\x00"]},
    )
    answer = services.save_answer(turn=turn, result=result)
    answer.refresh_from_db()
    assert (answer.content, answer.finish_reason, answer.raw_usage) == ("AB", "stop", {"k": ["v"]})
    partial = llm.ChatResult(
        text="Ha\x00lf", model="m", elapsed=2.0, status="error", error="Cut\x00 off."
    )
    failed = services.save_answer(turn=turn, result=partial)
    failed.refresh_from_db()
    assert (failed.content, failed.error) == ("Half", "Cut off.")
