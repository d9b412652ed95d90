"""Comparisons through the plain form posts, against the fake OpenAI server over real HTTP: the
models answer concurrently, each in its own thread; blind order, votes, flags, owner only."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from llm_metadata import compare
from llm_metadata.compare_models import Comparison, ComparisonColumn, Vote
from llm_metadata.models import Conversation, Message

pytestmark = pytest.mark.usefixtures("llm_clients")
COMPARE = reverse("llm_metadata:compare")
REPLIES = {"fake-small": "Small says Paris.", "fake-large": "Large says Paris, France."}


def form(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "question": "Capital of France?",
        "models": ["fake-small", "fake-large"],
        "temperature": "0.5",
        "top_k": "40",
        "top_p": "0.9",
        "max_tokens": "600",
    }
    data.update(changes)
    return data


def detail(comparison: Comparison) -> str:
    return reverse("llm_metadata:comparison-detail", args=[comparison.pk])


def test_the_form_lists_the_offered_models(alice_client: Client, fake_openai) -> None:
    page = alice_client.get(COMPARE)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="models" value="fake-small"' in html and 'value="fake-large"' in html
    assert 'name="blind"' in html and 'data-stream-url="/compare/stream/"' in html


def test_a_plain_post_asks_every_model_and_shows_the_answers_side_by_side(
    alice: User, alice_client: Client, fake_openai
) -> None:
    fake_openai.state.replies = REPLIES
    response = alice_client.post(COMPARE, form())
    comparison = Comparison.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(comparison)
    assert comparison.owner == alice and not comparison.blind and comparison.temperature == 0.5
    columns = list(comparison.columns.order_by("position"))
    assert [c.model_name for c in columns] == ["fake-small", "fake-large"]  # the order chosen
    for column in columns:
        question, answer = column.conversation.messages.order_by("created", "id")
        assert question.source == answer.source == Message.Source.COMPARE
        assert question.content == "Capital of France?"
        assert answer.content == REPLIES[column.model_name] and answer.status == "ok"
        assert answer.model_name == column.model_name and answer.temperature == 0.5
        assert answer.completion_tokens is not None
    page = alice_client.get(detail(comparison)).content.decode()
    assert "Small says Paris." in page and "Large says Paris, France." in page
    assert "fake-small" in page and "only its own earlier answers" in page
    assert f'action="/compare/{comparison.pk}/vote/"' in page


def test_the_calls_run_at_the_same_time(alice_client: Client, fake_openai) -> None:
    fake_openai.state.delay = 0.15  # about 1 s an answer (6 tokens, then the end)
    started = time.monotonic()
    alice_client.post(COMPARE, form())
    waited = time.monotonic() - started
    elapsed = list(Message.objects.filter(role="assistant").values_list("elapsed_time", flat=True))
    assert len(elapsed) == 2 and min(elapsed) > 0.5
    assert waited < sum(elapsed), "one after the other, the post would take the sum"


def test_a_follow_up_reaches_each_model_with_only_its_own_answers(
    alice_client: Client, fake_openai
) -> None:
    fake_openai.state.replies = REPLIES
    alice_client.post(COMPARE, form())
    comparison = Comparison.objects.get()
    fake_openai.state.requests.clear()
    response = alice_client.post(detail(comparison), {"question": "And of Italy?"})
    assert response.status_code == 302
    sent = {
        r["body"]["model"]: r["body"]["messages"]
        for r in fake_openai.state.requests
        if r["path"].endswith("/chat/completions")
    }
    for model, reply in REPLIES.items():
        assert sent[model] == [
            {"role": "user", "content": "Capital of France?"},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": "And of Italy?"},
        ]
    for column in comparison.columns.all():
        assert column.conversation.messages.count() == 4


def test_every_comparison_answer_is_in_history_and_exports(
    alice_client: Client, fake_openai
) -> None:
    alice_client.post(COMPARE, form())
    comparison = Comparison.objects.get()
    history = alice_client.get(reverse("llm_metadata:conversation-list")).content.decode()
    for column in comparison.columns.all():
        assert str(column.conversation_id) in history
    assert str(comparison.pk) in history  # each comparison is listed, linking to its page
    column = comparison.columns.get(position=1)
    page = alice_client.get(
        reverse("llm_metadata:conversation-detail", args=[column.conversation_id])
    )
    assert "Column B of a" in page.content.decode() and str(comparison.pk) in page.content.decode()
    export = alice_client.get(reverse("llm_metadata:messages-export", args=["csv"]))
    rows = b"".join(export.streaming_content).decode() if export.streaming else ""
    rows = rows or export.content.decode()
    assert rows.count(",compare,") == 4


def test_bad_input_is_answered_with_the_form_s_errors(alice_client: Client, fake_openai) -> None:
    one = alice_client.post(COMPARE, form(models=["fake-small"]))
    assert one.status_code == 400 and "Pick 2 to 4 different models." in one.content.decode()
    same = alice_client.post(COMPARE, form(models=["fake-small", "fake-small"]))
    assert same.status_code == 400
    unknown = alice_client.post(COMPARE, form(models=["fake-small", "gpt-9"]))
    assert "Model gpt-9 is not offered" in unknown.content.decode()
    assert not Comparison.objects.exists() and not fake_openai.state.requests[1:]


def test_a_failing_model_keeps_its_error_in_its_column(alice_client: Client, fake_openai) -> None:
    fake_openai.state.models = ["fake-small", "fake-large"]
    alice_client.post(COMPARE, form())
    fake_openai.state.models = ["fake-small"]  # fake-large is gone now
    comparison = Comparison.objects.get()
    alice_client.post(detail(comparison), {"question": "Again?"})
    statuses = {
        m.model_name: m.status
        for m in Message.objects.filter(role="assistant", content="").order_by("id")
    }
    assert statuses == {"fake-large": "error"}
    page = alice_client.get(detail(comparison)).content.decode()
    assert "is not available at the endpoint" in page


def test_the_limits_count_one_call_per_column_and_a_refusal_saves_and_sends_nothing(
    alice: User, alice_client: Client, fake_openai, settings
) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 5
    fake_openai.state.models = ["fake-small", "fake-large", "fake-third"]
    alice_client.post(COMPARE, form(models=["fake-small", "fake-large", "fake-third"]))
    comparison = Comparison.objects.get()
    sent = len(fake_openai.state.requests)
    assert Message.objects.count() == 6

    # Three calls more would make six in the minute: refused, nothing sent or saved.
    response = alice_client.post(detail(comparison), {"question": "And?"})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "And?</textarea>" in response.content.decode()
    response = alice_client.post(COMPARE, form(models=["fake-small", "fake-large", "fake-third"]))
    assert response.status_code == 429
    assert Comparison.objects.count() == 1 and Message.objects.count() == 6
    assert len(fake_openai.state.requests) == sent

    # Two fit: a two-model comparison goes through.
    assert alice_client.post(COMPARE, form()).status_code == 302
    assert Comparison.objects.count() == 2 and Message.objects.count() == 10


# --- Blind mode and votes -------------------------------------------------------------------


def test_blind_hides_the_names_and_keeps_the_shuffled_order_until_the_vote(
    alice: User, alice_client: Client, fake_openai, monkeypatch
) -> None:
    monkeypatch.setattr(compare, "shuffle_sides", lambda names: names.reverse())
    fake_openai.state.replies = {"fake-small": "First answer.", "fake-large": "Second answer."}
    alice_client.post(COMPARE, form(blind="on"))
    comparison = Comparison.objects.get()
    assert comparison.blind
    left, right = comparison.columns.order_by("position")
    assert (left.model_name, right.model_name) == ("fake-large", "fake-small")
    page = alice_client.get(detail(comparison)).content.decode()
    assert "Model A" in page and "Model B" in page
    assert "fake-small" not in page and "fake-large" not in page
    assert page.index("Second answer.") < page.index("First answer.")  # stored order
    response = alice_client.post(
        reverse("llm_metadata:comparison-vote", args=[comparison.pk]), {"choice": "a"}
    )
    assert response.status_code == 302
    vote = Vote.objects.get()
    assert vote.choice == "a" and vote.blind and not vote.flagged
    page = alice_client.get(detail(comparison)).content.decode()
    assert "fake-large" in page and "fake-small" in page and "revealed" in page
    assert page.index("fake-large") < page.index("fake-small")


def test_a_vote_can_be_changed_and_the_latest_counts(alice_client: Client, fake_openai) -> None:
    alice_client.post(COMPARE, form())
    comparison = Comparison.objects.get()
    vote_url = reverse("llm_metadata:comparison-vote", args=[comparison.pk])
    alice_client.post(vote_url, {"choice": "a"})
    alice_client.post(vote_url, {"choice": "tie"})
    assert compare.latest_vote(comparison).choice == "tie"
    assert Vote.objects.count() == 2
    page = alice_client.get(detail(comparison)).content.decode()
    assert "Your vote: <strong>tie</strong>" in page
    bad = alice_client.post(vote_url, {"choice": "c"})
    assert bad.status_code == 400 and Vote.objects.count() == 2


def test_votes_are_for_two_model_comparisons(alice_client: Client, fake_openai) -> None:
    fake_openai.state.models = ["fake-small", "fake-large", "fake-third"]
    alice_client.post(COMPARE, form(models=["fake-small", "fake-large", "fake-third"]))
    comparison = Comparison.objects.get()
    assert comparison.columns.count() == 3
    vote = alice_client.post(
        reverse("llm_metadata:comparison-vote", args=[comparison.pk]), {"choice": "a"}
    )
    assert vote.status_code == 400 and not Vote.objects.exists()


@pytest.mark.parametrize(
    ("reply", "flagged"),
    [
        ("As a large language model trained by OpenAI, I think Paris.", "OpenAI"),
        ("I am Llama3, and the answer is Paris.", "Llama"),
        ("Qwen here: Paris.", "Qwen"),
        ("fake-small thinks: Paris.", "fake-small"),
        ("Paris. The metadata of this answer is kept.", ""),
    ],
)
def test_a_blind_vote_on_answers_that_name_a_model_is_flagged(
    alice_client: Client, fake_openai, reply: str, flagged: str
) -> None:
    fake_openai.state.replies = {"fake-large": reply}
    alice_client.post(COMPARE, form(blind="on"))
    comparison = Comparison.objects.get()
    alice_client.post(
        reverse("llm_metadata:comparison-vote", args=[comparison.pk]), {"choice": "b"}
    )
    vote = Vote.objects.get()
    assert vote.flagged is bool(flagged)
    assert (flagged.lower() in vote.flag_reason.lower()) if flagged else vote.flag_reason == ""


def test_an_open_vote_is_never_flagged(alice_client: Client, fake_openai) -> None:
    fake_openai.state.reply = "OpenAI's GPT says Paris."
    alice_client.post(COMPARE, form())
    comparison = Comparison.objects.get()
    alice_client.post(
        reverse("llm_metadata:comparison-vote", args=[comparison.pk]), {"choice": "a"}
    )
    assert not Vote.objects.get().flagged


# --- Owner only -----------------------------------------------------------------------------


def test_another_user_gets_404_everywhere(
    alice: User, bob_client: Client, alice_client: Client, fake_openai
) -> None:
    alice_client.post(COMPARE, form())
    comparison = Comparison.objects.get()
    assert bob_client.get(detail(comparison)).status_code == 404
    assert bob_client.post(detail(comparison), {"question": "Mine?"}).status_code == 404
    vote = reverse("llm_metadata:comparison-vote", args=[comparison.pk])
    assert bob_client.post(vote, {"choice": "a"}).status_code == 404
    stream = reverse("llm_metadata:comparison-stream", args=[comparison.pk])
    assert bob_client.post(stream, {"question": "Mine?"}).status_code == 404
    assert "Capital of France" not in bob_client.get(COMPARE).content.decode()
    assert not Vote.objects.exists()
    assert Message.objects.count() == 4  # nothing of bob's reached alice's threads


def test_the_detail_page_reads_a_fixed_number_of_queries(
    alice: User, alice_client: Client, django_assert_max_num_queries
) -> None:
    comparison = Comparison.objects.create(
        owner=alice, question="Q", temperature=0.5, top_k=40, top_p=0.9, max_tokens=100
    )
    for position, name in enumerate(["m1", "m2", "m3", "m4"]):
        conversation = Conversation.objects.create(owner=alice, title="Q")
        ComparisonColumn.objects.create(
            comparison=comparison, position=position, model_name=name, conversation=conversation
        )
        for turn in range(5):
            Message.objects.create(conversation=conversation, role="user", content=f"Q{turn}")
            Message.objects.create(
                conversation=conversation, role="assistant", content=f"A{turn}", model_name=name
            )
    with django_assert_max_num_queries(8):
        page = alice_client.get(detail(comparison))
    assert page.content.decode().count('data-role="assistant"') == 20
