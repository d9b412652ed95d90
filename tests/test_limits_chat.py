"""Limits on the two paths that call a model: the streaming endpoint answers 429, the plain form a
form error with the question kept; neither sends anything to the model (the fake server's log)
nor stores anything. Streamed, failed and cancelled answers are charged."""

from __future__ import annotations

import json
import zoneinfo

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from llm_metadata import counters, limits
from llm_metadata.limits_models import GroupLimit, UserLimit
from llm_metadata.models import Message
from tests.test_chat_page import chat_bodies
from tests.test_chat_page import form as page_form
from tests.test_chat_stream import form, messages, post, session_cookie

ASK = reverse("llm_metadata:ask")
KIRITIMATI = zoneinfo.ZoneInfo("Pacific/Kiritimati")


@sync_to_async
def used(user: User) -> limits.Usage:
    return limits.usage(user)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("llm_clients")
class TestStream:
    async def test_it_answers_429_past_the_rate_and_calls_no_model(
        self, alice: User, fake_openai, settings
    ) -> None:
        settings.RATE_LIMIT_PER_MINUTE = 1
        assert (await post(alice, form())).status == 200
        refused = await post(alice, form(question="And of Spain?"))
        assert refused.status == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        body = json.loads(bytes(refused.body))
        assert body["kind"] == "rate" and body["retry_after"] == int(refused.headers["retry-after"])
        assert body["message"].startswith("You have reached the limit of 1 model calls a minute")
        assert len(chat_bodies(fake_openai)) == 1
        assert len(await messages()) == 2

    async def test_it_answers_429_when_the_days_tokens_are_spent(
        self, alice: User, fake_openai, settings
    ) -> None:
        settings.TOKEN_BUDGET_PER_DAY = 10
        assert (await post(alice, form())).status == 200
        spent = (await messages())[-1].total_tokens
        assert spent > 10 and (await used(alice)).day == spent
        refused = await post(alice, form())
        assert refused.status == 429
        body = json.loads(bytes(refused.body))
        assert body["message"] == (
            f"You have used {spent} of 10 tokens today; the budget renews at 00:00"
        )
        assert body["kind"] == "day" and body["usage"] == f"Tokens today: {spent} of 10"
        assert len(chat_bodies(fake_openai)) == 1

    async def test_it_charges_a_stream_without_usage_as_estimated(
        self, alice: User, fake_openai
    ) -> None:
        fake_openai.state.usage = False
        await post(alice, form())
        answered = (await messages())[-1]
        assert answered.total_tokens is None
        usage = await used(alice)
        sent = limits.prompt_estimate(chat_bodies(fake_openai)[-1]["messages"])
        measured = sent + len("The capital of France is Paris.") // 4 + 1
        assert usage.day == usage.day_estimated == measured

    async def test_it_charges_a_cancelled_answer_as_measured(
        self, alice: User, fake_openai
    ) -> None:
        fake_openai.state.tokens = 400
        fake_openai.state.delay = 0.02
        await post(alice, form(), hang_up_when=lambda body: b"event: delta" in body)
        answered = (await messages())[-1]
        assert answered.status == "cancelled"
        usage = await used(alice)
        assert usage.day_estimated == usage.day > limits.prompt_estimate([])

    async def test_it_charges_a_failed_answer(self, alice: User, fake_openai) -> None:
        fake_openai.state.mode = "cut"
        await post(alice, form())
        answered = (await messages())[-1]
        assert answered.status == "error" and answered.content
        assert (await used(alice)).day_estimated > 0

    async def test_it_counts_the_day_of_the_browsers_time_zone(
        self, alice: User, fake_openai
    ) -> None:
        """The zone the page activates from the `tz` cookie reaches the charge made while the
        answer streams (Kiritimati, UTC+14: a day ahead of UTC from 10:00 UTC)."""
        session = await session_cookie(alice)
        await post(f"{session}; tz=Pacific/Kiritimati", form())
        spent = (await messages())[-1].total_tokens
        day = timezone.now().astimezone(KIRITIMATI).date()
        key = f"limits:tokens:{alice.pk}:{day.isoformat()}"
        assert await sync_to_async(counters.peek)(key) == spent


@pytest.mark.django_db
class TestPlainForm:
    def test_it_counts_the_day_of_the_browsers_time_zone(
        self, alice: User, alice_client: Client, fake_openai
    ) -> None:
        alice_client.cookies["tz"] = "Pacific/Kiritimati"
        alice_client.post(ASK, page_form())
        spent = Message.objects.get(role="assistant").total_tokens
        day = timezone.now().astimezone(KIRITIMATI).date()
        assert counters.peek(f"limits:tokens:{alice.pk}:{day.isoformat()}") == spent

    def test_it_answers_a_form_error_with_the_question_kept(
        self, alice: User, alice_client: Client, fake_openai, settings
    ) -> None:
        settings.RATE_LIMIT_PER_MINUTE = 1
        assert alice_client.post(ASK, page_form()).status_code == 302
        page = alice_client.post(ASK, page_form("And of Spain?"))
        assert page.status_code == 429
        assert 1 <= int(page["Retry-After"]) <= 60
        html = page.content.decode()
        assert "You have reached the limit of 1 model calls a minute" in html
        assert ">And of Spain?</textarea>" in html
        assert len(chat_bodies(fake_openai)) == 1
        assert Message.objects.count() == 2

    def test_it_follows_the_users_own_override(
        self, alice: User, alice_client: Client, fake_openai, settings
    ) -> None:
        settings.RATE_LIMIT_PER_MINUTE = 0
        UserLimit.objects.create(user=alice, token_budget_per_day=5)
        alice_client.post(ASK, page_form())
        page = alice_client.post(ASK, page_form())
        assert page.status_code == 429 and "tokens today" in page.content.decode()
        assert len(chat_bodies(fake_openai)) == 1

    def test_the_page_shows_use_against_the_budget(
        self, alice: User, alice_client: Client, fake_openai, settings
    ) -> None:
        settings.TOKEN_BUDGET_PER_DAY = 100_000
        settings.TOKEN_BUDGET_PER_MONTH = 2_000_000
        alice_client.post(ASK, page_form())
        spent = Message.objects.get(role="assistant").total_tokens
        html = alice_client.get(ASK).content.decode()
        assert f"Tokens today: {spent} of 100,000 · this month: {spent} of 2,000,000" in html

    def test_the_page_shows_no_use_without_a_budget(
        self, alice_client: Client, demo_endpoint
    ) -> None:
        assert 'id="token-usage"' not in alice_client.get(ASK).content.decode()

    @pytest.mark.parametrize("whose", ["own", "group"])
    def test_the_page_shows_use_against_an_override_without_budget_settings(
        self, whose: str, alice: User, alice_client: Client, fake_openai
    ) -> None:
        alice_client.post(ASK, page_form())
        spent = Message.objects.get(role="assistant").total_tokens
        if whose == "own":
            UserLimit.objects.create(user=alice, token_budget_per_day=50_000)
        else:
            group = Group.objects.create(name="interns")
            GroupLimit.objects.create(group=group, token_budget_per_day=50_000)
            alice.groups.add(group)
        html = alice_client.get(ASK).content.decode()  # the conversation's page, its usage line
        assert f"Tokens today: {spent} of 50,000" in html

    def test_the_page_reads_no_use_without_any_limit(
        self, alice_client: Client, demo_endpoint, django_assert_num_queries
    ) -> None:
        alice_client.post(ASK, page_form(model="demo"))
        # session, user, profiles, the conversation, its messages, the feedback on them
        with django_assert_num_queries(6) as captured:
            html = alice_client.get(ASK).content.decode()
        assert not [q for q in captured.captured_queries if "token_budget" in q["sql"]]
        assert 'id="token-usage"' not in html
