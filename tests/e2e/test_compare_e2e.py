"""In the browser: two models answer side by side as they stream, blind; the vote reveals the
names, the ranking on /analytics/ counts it, and a follow-up keeps each model's own thread."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import STREAMING, sign_up

REPLIES = {
    "fake-small": "Paris is the capital. " + " ".join(f"small{i}" for i in range(40)),
    "fake-large": "The capital of France is Paris. " + " ".join(f"large{i}" for i in range(40)),
}


def chat_bodies(fake_llm: Any) -> list[dict[str, Any]]:
    return [r["body"] for r in fake_llm.requests() if r["path"].endswith("/chat/completions")]


def test_compare_two_models_blind_vote_and_see_the_ranking(
    signed_in_page: Any, fake_llm: Any, screenshot
) -> None:
    page = signed_in_page
    fake_llm.reset()
    fake_llm.configure(replies=REPLIES, delay=0.08)
    page.goto("/compare/")
    page.fill("#id_question", "What is the capital of France?")
    expect(page.locator("input[name=models][value=fake-small]")).to_be_checked()
    expect(page.locator("input[name=models][value=fake-large]")).to_be_checked()
    page.check("#id_blind")
    page.click("#compare-button")

    # Both columns stream at the same time, the names hidden.
    columns = page.locator("#compare-columns .compare-column")
    expect(columns).to_have_count(2, timeout=STREAMING)
    streaming = page.locator(".compare-streaming .message-content")
    expect(streaming.nth(0)).to_contain_text("5", timeout=STREAMING)
    expect(streaming.nth(1)).to_contain_text("5", timeout=STREAMING)
    expect(page.locator(".compare-streaming")).to_have_count(2)  # neither has finished yet
    expect(page.locator(".compare-label").nth(0)).to_have_text("Model A")
    expect(page.locator(".compare-label").nth(1)).to_have_text("Model B")
    screenshot(page, "compare-streaming")

    # When both are done, the comparison's own page: still blind, with the vote.
    page.wait_for_url("**/compare/*/", timeout=STREAMING)
    expect(page.locator("#blind-note")).to_contain_text("revealed after your vote")
    body = page.locator("#compare-columns").inner_text()
    assert "fake-small" not in body and "fake-large" not in body
    assert "small39" in body and "large39" in body
    left_text = page.locator(".compare-column").nth(0).inner_text()
    left_model = "fake-small" if "small39" in left_text else "fake-large"
    screenshot(page, "compare-blind")

    page.get_by_role("button", name="A is better").click()
    expect(page.locator("#your-vote")).to_contain_text("A is better")
    expect(page.locator(".compare-label").nth(0)).to_have_text(left_model)
    expect(page.locator("#blind-note")).to_contain_text("revealed")
    screenshot(page, "compare-revealed")

    # A follow-up: each model gets only its own earlier answer.
    fake_llm.configure(replies={}, reply="Rome.")
    page.fill("#id_question", "And of Italy?")
    page.click("#compare-button")
    expect(page.locator(".compare-column").nth(0)).to_contain_text("Rome.", timeout=STREAMING)
    expect(page.locator(".compare-column").nth(1)).to_contain_text("Rome.", timeout=STREAMING)
    follow_ups = [b for b in chat_bodies(fake_llm) if len(b["messages"]) == 3]
    assert {b["model"]: b["messages"][1]["content"] for b in follow_ups} == REPLIES

    # The ranking counts the vote: the left model first, with one vote each.
    page.goto("/analytics/")
    ranking = page.locator("#ranking-table")
    expect(ranking).to_be_visible()
    expect(ranking.locator("tbody tr").first).to_have_attribute("data-model", left_model)
    expect(ranking.locator(".rank-votes").first).to_have_text("1")
    expect(page.locator("#position-bias")).to_contain_text("100 %")
    page.locator("#ranking").scroll_into_view_if_needed()
    screenshot(page, "compare-ranking")


@pytest.fixture
def no_script_page(browser: Any, live_server_url: str) -> Any:
    context = browser.new_context(base_url=live_server_url, java_script_enabled=False)
    context.set_default_timeout(STREAMING)
    page = context.new_page()
    yield page
    context.close()


def test_compare_works_without_javascript(no_script_page: Any, fake_llm: Any) -> None:
    page = no_script_page
    fake_llm.reset()
    fake_llm.configure(replies={"fake-small": "Small: Paris.", "fake-large": "Large: Paris."})
    sign_up(page)
    page.goto("/compare/")
    page.fill("#id_question", "Capital of France?")
    page.click("#compare-button")
    page.wait_for_url("**/compare/*/")
    columns = page.locator(".compare-column")
    expect(columns).to_have_count(2)
    expect(columns.nth(0)).to_contain_text("Small: Paris.")
    expect(columns.nth(1)).to_contain_text("Large: Paris.")
    page.get_by_role("button", name="tie").click()
    expect(page.locator("#your-vote")).to_contain_text("tie")
