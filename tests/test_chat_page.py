"""/ask/ without JavaScript: a plain POST stores the turn and redirects; continuity; ownership."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from llm_metadata.models import Conversation, Message, ModelProfile
from tests.factories import make_conversation, make_turn

ASK = reverse("llm_metadata:ask")
NEW = reverse("llm_metadata:ask-new")


def form(question: str = "What is the capital of France?", **changes: object) -> dict:
    data: dict[str, object] = {
        "question": question,
        "model": "fake-small",
        "temperature": "0.3",
        "top_k": "20",
        "top_p": "0.8",
        "max_tokens": "256",
    }
    data.update(changes)
    return data


def chat_bodies(server) -> list[dict]:
    return [r["body"] for r in server.state.requests if r["path"].endswith("/chat/completions")]


def test_it_stores_the_question_and_the_answer_with_their_metadata(
    alice: User, alice_client: Client, fake_openai
) -> None:
    ModelProfile.objects.create(
        name="fake-small", input_price_per_million="1.0", output_price_per_million="2.0"
    )
    response = alice_client.post(ASK, form())
    asked, answered = Message.objects.order_by("created", "id")
    assert response.status_code == 302
    assert response["Location"] == f"{ASK}#message-{answered.pk}"
    assert (asked.role, asked.content, asked.model_name) == (
        "user",
        "What is the capital of France?",
        "fake-small",
    )
    for message in (asked, answered):
        assert (message.temperature, message.top_k, message.top_p, message.max_tokens) == (
            0.3,
            20,
            0.8,
            256,
        )
    assert answered.role == "assistant" and answered.status == "ok"
    assert answered.content == "The capital of France is Paris."
    assert answered.prompt_tokens and answered.completion_tokens == 6  # the fake's six words
    assert answered.total_tokens == answered.prompt_tokens + 6
    assert answered.elapsed_time > 0 and answered.time_to_first_token is not None
    assert answered.finish_reason == "stop" and answered.raw_usage
    assert answered.history_truncated is False
    expected = (answered.prompt_tokens * 1 + 6 * 2) / 1_000_000
    assert float(answered.cost) == pytest.approx(expected)
    conversation = Conversation.objects.get()
    assert conversation.owner == alice
    assert conversation.title == "What is the capital of France?"
    assert conversation.updated >= answered.created
    sent = chat_bodies(fake_openai)[-1]
    assert sent["messages"] == [{"role": "user", "content": "What is the capital of France?"}]
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.3, 0.8, 256)


def test_it_shows_the_answer_after_the_redirect(alice_client: Client, fake_openai) -> None:
    fake_openai.state.reply = "| city | country |\n|---|---|\n| Paris | France |"
    html = alice_client.post(ASK, form(), follow=True).content.decode()
    assert "<table>" in html and "<td>Paris</td>" in html
    assert "What is the capital of France?" in html
    assert "temperature 0.3 · top_k 20 · top_p 0.8 · max_tokens 256" in html
    assert 'data-copy="answer"' in html


def test_it_keeps_the_question_and_stores_the_error_when_the_model_fails(
    alice_client: Client, fake_openai
) -> None:
    fake_openai.state.mode = "status"
    fake_openai.state.status = 503
    response = alice_client.post(ASK, form(), follow=True)
    assert response.status_code == 200
    asked, answered = Message.objects.order_by("created", "id")
    assert asked.content == "What is the capital of France?" and asked.status == "ok"
    assert answered.status == "error" and answered.error
    assert answered.error in response.content.decode()
    assert Conversation.objects.get().title == "What is the capital of France?"


def test_it_stores_the_partial_text_of_a_stream_cut_off(alice_client: Client, fake_openai) -> None:
    fake_openai.state.mode = "cut"
    alice_client.post(ASK, form())
    answered = Message.objects.get(role="assistant")
    assert answered.status == "error"
    assert answered.content == "The capital"
    assert answered.time_to_first_token is not None


def test_it_survives_an_unreachable_endpoint(alice_client: Client, settings) -> None:
    settings.API_URL = "http://127.0.0.1:9"
    settings.API_MODELS = ["m"]
    response = alice_client.post(ASK, form(model="m"), follow=True)
    assert response.status_code == 200
    assert Message.objects.get(role="assistant").status == "error"


def test_it_continues_the_conversation_with_its_history(alice_client: Client, fake_openai) -> None:
    alice_client.post(ASK, form("First question", system_prompt="Be brief."))
    fake_openai.state.reply = "Second answer."
    alice_client.post(ASK, form("Second question", system_prompt="ignored later"))
    conversation = Conversation.objects.get()
    assert conversation.system_prompt == "Be brief."
    assert conversation.messages.count() == 4
    assert chat_bodies(fake_openai)[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "The capital of France is Paris."},
        {"role": "user", "content": "Second question"},
    ]
    assert conversation.title == "First question"


def test_it_leaves_failed_exchanges_out_of_the_history(alice_client: Client, fake_openai) -> None:
    fake_openai.state.mode = "status"
    alice_client.post(ASK, form("Lost question"))
    fake_openai.state.mode = "ok"
    alice_client.post(ASK, form("Next question"))
    assert chat_bodies(fake_openai)[-1]["messages"] == [
        {"role": "user", "content": "Next question"}
    ]


def test_it_keeps_an_attached_file_in_the_context_of_later_turns(
    alice_client: Client, fake_openai
) -> None:
    upload = SimpleUploadedFile("cities.csv", b"city,country\nParis,France\n")
    alice_client.post(ASK, form("Which cities?", file_upload=upload))
    alice_client.post(ASK, form("And again?"))
    first, second = chat_bodies(fake_openai)[-2:]
    assert "Paris,France" in first["messages"][-1]["content"]
    assert "--- file: cities.csv ---" in second["messages"][-1]["content"]
    assert second["messages"][-1]["content"].endswith("And again?")
    asked = Message.objects.filter(role="user").order_by("created").first()
    assert asked.attachment_name == "cities.csv"
    assert asked.attachment_text == "city,country\nParis,France\n"
    assert asked.attachment.read() == b"city,country\nParis,France\n"


def test_it_sends_the_start_of_a_long_file_and_says_it_was_cut(
    alice_client: Client, fake_openai, settings
) -> None:
    settings.MAX_FILE_TEXT_CHARS = 1000
    upload = SimpleUploadedFile("long.txt", b"abcdefghij" * 500)
    page = alice_client.post(ASK, form("Summarise", file_upload=upload), follow=True)
    sent = chat_bodies(fake_openai)[-1]["messages"][-1]["content"]
    assert "abcdefghij" * 100 in sent and "abcdefghij" * 101 not in sent
    assert "[Cut here: long.txt is longer; only its first 1,000 characters" in sent
    assert "only the start of its text was used" in page.text


def test_it_refuses_a_text_file_with_a_nul_character_past_its_start(
    alice_client: Client, fake_openai
) -> None:
    upload = SimpleUploadedFile("late.csv", b"a,b\n" * 5000 + b"\x00")
    response = alice_client.post(ASK, form(file_upload=upload))
    assert response.status_code == 400
    assert "late.csv is named .csv but holds binary data" in response.content.decode()
    assert not Message.objects.exists()


@pytest.mark.parametrize("field", ["question", "system_prompt"])
def test_it_answers_a_nul_character_in_typed_text_with_a_form_error(
    alice_client: Client, fake_openai, field: str
) -> None:
    response = alice_client.post(ASK, {**form(), field: "Hi\x00there"})
    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()
    assert not Message.objects.exists()


def test_it_stores_an_answer_with_nul_characters_without_them(
    alice_client: Client, fake_openai
) -> None:
    fake_openai.state.reply = "Par\x00is\x00."
    response = alice_client.post(ASK, form(), follow=True)
    assert response.status_code == 200
    assert Message.objects.get(role="assistant").content == "Paris."


def test_it_records_when_the_history_was_cut(alice_client: Client, fake_openai) -> None:
    ModelProfile.objects.create(name="fake-small", context_length=300)
    alice_client.post(ASK, form("x" * 760, max_tokens="100"))
    alice_client.post(ASK, form("short", max_tokens="100"))
    first, second = Message.objects.filter(role="assistant").order_by("created")
    assert (first.history_truncated, second.history_truncated) == (False, True)


def test_it_keeps_the_conversation_in_the_session(alice_client: Client, fake_openai) -> None:
    alice_client.post(ASK, form("One"))
    conversation = Conversation.objects.get()
    assert alice_client.session["conversation_id"] == str(conversation.pk)
    alice_client.post(ASK, {k: v for k, v in form("Two").items()})
    assert Conversation.objects.count() == 1
    html = alice_client.get(ASK).content.decode()
    assert "One" in html and "Two" in html
    assert f'name="conversation" id="id_conversation" value="{conversation.pk}"' in html


def test_it_starts_a_new_conversation(alice_client: Client, fake_openai) -> None:
    alice_client.post(ASK, form("One"))
    response = alice_client.post(NEW)
    assert response.status_code == 302 and response["Location"] == ASK
    assert "conversation_id" not in alice_client.session
    assert "New conversation" in alice_client.get(ASK).content.decode()
    alice_client.post(ASK, form("Two"))
    assert Conversation.objects.count() == 2


def test_it_posts_into_the_conversation_the_page_shows(
    alice: User, alice_client: Client, fake_openai
) -> None:
    shown = make_conversation(alice)
    other = make_conversation(alice)
    session = alice_client.session
    session["conversation_id"] = str(other.pk)
    session.save()
    alice_client.post(ASK, form("Here", conversation=str(shown.pk)))
    assert shown.messages.count() == 2 and other.messages.count() == 0
    alice_client.post(ASK, form("Fresh", conversation=""))
    assert Conversation.objects.count() == 3


def test_it_resumes_one_of_the_users_conversations(
    alice: User, alice_client: Client, demo_endpoint
) -> None:
    conversation = make_conversation(alice, title="Old talk")
    make_turn(conversation, "Earlier question", "Earlier answer")
    html = alice_client.get(ASK, {"c": str(conversation.pk)}).content.decode()
    assert "Old talk" in html and "Earlier answer" in html
    assert alice_client.session["conversation_id"] == str(conversation.pk)


def test_it_hides_other_users_conversations(bob: User, alice_client: Client, fake_openai) -> None:
    theirs = make_conversation(bob)
    assert alice_client.get(ASK, {"c": str(theirs.pk)}).status_code == 404
    assert alice_client.get(ASK, {"c": "not-a-uuid"}).status_code == 404
    assert alice_client.get(ASK, {"c": str(uuid.uuid4())}).status_code == 404
    response = alice_client.post(ASK, form(conversation=str(theirs.pk)))
    assert response.status_code == 404
    assert theirs.messages.count() == 0


def test_it_forgets_a_stale_session_conversation(
    bob: User, alice_client: Client, demo_endpoint
) -> None:
    session = alice_client.session
    session["conversation_id"] = str(make_conversation(bob).pk)
    session.save()
    assert "New conversation" in alice_client.get(ASK).content.decode()
    assert "conversation_id" not in alice_client.session


def test_it_shows_the_demo_banner_without_an_endpoint(alice_client: Client, demo_endpoint) -> None:
    html = alice_client.get(ASK).content.decode()
    assert 'id="demo-banner"' in html
    assert "Demo model (offline" in html


def test_it_answers_with_the_demo_model(alice_client: Client, demo_endpoint) -> None:
    alice_client.post(ASK, form(model="demo"))
    answered = Message.objects.get(role="assistant")
    assert answered.status == "ok" and "demo model" in answered.content


def test_its_queries_do_not_grow_with_the_conversation(
    alice: User, alice_client: Client, fake_openai, django_assert_max_num_queries
) -> None:
    conversation = make_conversation(alice)
    for i in range(150):
        make_turn(conversation, f"Question {i}", f"Answer **{i}**", model_name="fake-small")
    alice_client.get(ASK)  # the endpoint's model list, now in the shared cache
    # The session is written (it now opens this conversation); no limits query (no limit
    # applies) and no versions query (the conversation has none).
    with django_assert_max_num_queries(10):
        response = alice_client.get(ASK, {"c": str(conversation.pk)})
    html = response.content.decode()
    # The newest 50 messages (turns 125 to 149) in order; the rest are on the conversation's page.
    assert html.count('class="mb-3 message-item"') == 50
    assert "Question 124<" not in html
    assert html.index("Question 125<") < html.index("Answer <strong>125</strong>")
    assert html.index("Answer <strong>148</strong>") < html.index("Question 149<")
    assert 'id="earlier-messages"' in html


def test_it_reads_the_model_profiles_once_per_page(
    alice_client: Client, fake_openai, django_assert_num_queries
) -> None:
    ModelProfile.objects.create(name="fake-small", display_name="Small", default_top_k=7)
    alice_client.get(ASK)  # the endpoint's model list, now cached
    # session, user, the model list from the shared cache (a table without Redis), profiles,
    # the user's limits and tokens used
    with django_assert_num_queries(5) as captured:
        html = alice_client.get(ASK).content.decode()
    sql = [query["sql"] for query in captured.captured_queries]
    assert len([q for q in sql if "llm_metadata_modelprofile" in q]) == 1
    assert 'data-top_k="7"' in html and ">Small</option>" in html


def test_it_shows_a_short_conversation_whole(
    alice: User, alice_client: Client, demo_endpoint
) -> None:
    conversation = make_conversation(alice)
    for i in range(25):
        make_turn(conversation, f"Question {i}", f"Answer {i}")
    html = alice_client.get(ASK, {"c": str(conversation.pk)}).content.decode()
    assert html.count('class="mb-3 message-item"') == 50
    assert "Question 0<" in html
    assert 'id="earlier-messages"' not in html


def test_it_shows_an_attachment_as_the_conversation_page_does(
    alice: User, alice_client: Client
) -> None:
    conversation = make_conversation(alice)
    asked, _ = make_turn(conversation)
    Message.objects.filter(pk=asked.pk).update(attachment_name="notes.txt")  # imported: no file
    asked.refresh_from_db()
    shown = render_to_string("llm_metadata/_attachment.html", {"message": asked}).strip()
    assert 'class="small mt-1 attachment"' in shown
    assert "notes.txt" in shown and "(file not stored)" in shown
    detail = reverse("llm_metadata:conversation-detail", args=[conversation.pk])
    assert shown in alice_client.get(f"{ASK}?c={conversation.pk}").text
    assert shown in alice_client.get(detail).text


def test_it_lets_only_the_owner_download_an_attachment(
    alice_client: Client, bob_client: Client, fake_openai
) -> None:
    upload = SimpleUploadedFile("notes.md", b"# Notes\n")
    alice_client.post(ASK, form(file_upload=upload))
    asked = Message.objects.get(role="user")
    url = reverse("llm_metadata:attachment-download", args=[asked.pk])
    link = f'<a href="{url}">notes.md</a>'
    assert link in alice_client.get(ASK).text
    detail = reverse("llm_metadata:conversation-detail", args=[asked.conversation_id])
    assert link in alice_client.get(detail).text
    response = alice_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"# Notes\n"
    assert 'filename="notes.md"' in response["Content-Disposition"]
    assert bob_client.get(url).status_code == 404
    answered = Message.objects.get(role="assistant")
    url = reverse("llm_metadata:attachment-download", args=[answered.pk])
    assert alice_client.get(url).status_code == 404
