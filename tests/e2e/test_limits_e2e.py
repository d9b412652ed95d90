"""In the browser: a user over their token budget sees the refusal inline, keeps the question in
the box, and the chat page shows the use against the budget."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import STREAMING, ask
from tests.e2e.test_chat_e2e import chat_requests


def test_it_shows_a_refusal_inline_and_keeps_the_question(
    signed_in_page: Any, fake_llm: Any, e2e_server: Any, screenshot: Any
) -> None:
    page = signed_in_page
    e2e_server.shell(
        "from django.contrib.auth.models import User; "
        "from llm_metadata.limits_models import UserLimit; "
        f"UserLimit.objects.create(user=User.objects.get(username={page.username!r}), "
        "token_budget_per_day=5)"
    )
    fake_llm.reset()
    page.goto("/ask/")
    ask(page, "What is the capital of France?")
    answers = page.locator("article.message-item[data-role=assistant]")
    expect(answers.last).to_have_attribute("data-status", "ok", timeout=STREAMING)
    asked = len(chat_requests(fake_llm))
    ask(page, "And of Spain?")
    error = page.locator("#chat-error")
    expect(error).to_be_visible(timeout=STREAMING)
    expect(error).to_contain_text("of 5 tokens today; the budget renews at 00:00")
    expect(page.locator("#id_question")).to_have_value("And of Spain?")
    expect(page.locator("article.message-item[data-role=user]")).to_have_count(1)
    expect(page.locator("#token-usage")).to_contain_text(" of 5")
    expect(page.locator("#token-usage")).not_to_contain_text("Tokens today: 0 of 5")
    assert len(chat_requests(fake_llm)) == asked
    screenshot(page, "limits-refused")
    page.reload()
    expect(page.locator("#id_question")).to_be_visible()
    expect(page.locator("#token-usage")).not_to_contain_text("Tokens today: 0 of 5")
