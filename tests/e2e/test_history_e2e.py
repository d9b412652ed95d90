"""In the browser: ask once, find the conversation under Today in history, open it, delete it."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

REPLY = "The capital of France is Paris."  # the fake LLM's default answer


def test_it_finds_opens_and_deletes_a_conversation_from_history(
    signed_in_page: Any, fake_llm: Any, e2e_server: Any, screenshot
) -> None:
    page = signed_in_page
    fake_llm.reset()
    question = "What is the capital of France? (history e2e)"
    page.goto("/ask/")
    page.fill("textarea[name=question]", question)
    page.locator("form:has(textarea[name=question]) button[type=submit]").first.click()
    expect(page.locator("main")).to_contain_text(REPLY, timeout=20_000)
    screenshot(page, "ask")

    page.goto("/conversation/")
    today = page.locator("section.history-day", has=page.locator("h2", has_text="Today"))
    row = today.locator("li.conversation-row", has_text=question)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("2 messages")
    screenshot(page, "history")

    row.get_by_role("link", name=question).click()
    expect(page.locator("h1")).to_have_text(question)
    messages = page.locator("article.message-item")
    expect(messages).to_have_count(2)
    expect(messages.nth(0)).to_contain_text(question)
    expect(messages.nth(1)).to_contain_text(REPLY)
    continue_link = page.get_by_role("link", name="Continue this conversation")
    expect(continue_link).to_have_attribute(
        "href", f"/ask/?c={page.url.rstrip('/').split('/')[-1]}"
    )

    page.locator("details.delete summary").click()
    page.get_by_role("button", name="Delete permanently").click()
    page.wait_for_url("**/conversation/")
    expect(page.locator("main")).to_contain_text("Conversation deleted.")
    expect(page.locator("li.conversation-row", has_text=question)).to_have_count(0)
    remaining = e2e_server.shell(
        "from llm_metadata.models import Conversation, Message;"
        f"print(Conversation.objects.filter(owner__username={page.username!r}).count(),"
        f" Message.objects.filter(conversation__owner__username={page.username!r}).count())"
    )
    assert remaining.split() == ["0", "0"]
