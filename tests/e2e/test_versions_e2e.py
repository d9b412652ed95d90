"""In the browser: ask an answer again and switch between its versions without a reload; edit a
question in the middle of a conversation; what the model receives each time."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import STREAMING, ask


def chat_messages(fake_llm: Any) -> list[tuple[str, str]]:
    """The messages of the model's last chat request, as (role, content)."""
    bodies = [r["body"] for r in fake_llm.requests() if r["path"].endswith("/chat/completions")]
    return [(m["role"], m["content"]) for m in bodies[-1]["messages"]]


def answered(page: Any, count: int) -> None:
    answers = page.locator("#messages article.message-item[data-role=assistant]")
    expect(answers).to_have_count(count, timeout=STREAMING)
    expect(answers.last).to_have_attribute("data-status", "ok", timeout=STREAMING)


def test_it_regenerates_an_answer_and_switches_versions(
    signed_in_page: Any, fake_llm: Any, screenshot
) -> None:
    page = signed_in_page
    fake_llm.reset()
    fake_llm.configure(reply="Paris is the capital of France.", delay=0.01)
    page.goto("/ask/")
    ask(page, "What is the capital of France?")
    answered(page, 1)

    answer = page.locator("#messages article[data-role=assistant]").last
    page.locator("#version-settings summary").click()
    page.locator("#version-settings input[name=temperature]").fill("0.2")
    fake_llm.configure(reply="It is Paris, on the Seine, since the 10th century.", delay=0.05)
    page.evaluate("window.notReloaded = true")
    answer.locator(".regenerate-button").click()

    answer = page.locator("#messages article[data-role=assistant]").last
    expect(answer).to_contain_text("on the Seine", timeout=STREAMING)
    expect(answer.locator(".version-count")).to_have_text("2/2", timeout=STREAMING)
    assert chat_messages(fake_llm) == [("user", "What is the capital of France?")]
    answer.locator("details.version-table summary").click()
    table = answer.locator("table.versions")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").last).to_contain_text("t 0.2")
    screenshot(page, "versions-regenerate")

    answer.locator(".version-prev").click()
    answer = page.locator("#messages article[data-role=assistant]").last
    expect(answer.locator(".version-count")).to_have_text("1/2")
    expect(answer).to_contain_text("Paris is the capital of France.")
    expect(page.locator("#messages")).not_to_contain_text("on the Seine")
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "versions-switcher")

    fake_llm.configure(reply="About two million people.", delay=0.01)
    ask(page, "How many people live there?")
    answered(page, 2)
    assert chat_messages(fake_llm) == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital of France."),
        ("user", "How many people live there?"),
    ]


def test_it_edits_a_question_in_the_middle(signed_in_page: Any, fake_llm: Any, screenshot) -> None:
    page = signed_in_page
    fake_llm.reset()
    page.goto("/ask/")
    for n in (1, 2, 3):
        fake_llm.configure(reply=f"Answer {n}.", delay=0.01)
        ask(page, f"Question {n}?")
        answered(page, n)

    second = page.locator("#messages article[data-role=user]").nth(1)
    second.locator("details.edit-question summary").click()
    second.locator("textarea[name=question]").fill("Question 2, reworded?")
    fake_llm.configure(reply="Answer to the reworded question.", delay=0.02)
    second.locator(".edit-button").click()

    items = page.locator("#messages article.message-item")
    expect(items).to_have_count(4, timeout=STREAMING)
    expect(items.last).to_contain_text("Answer to the reworded question.", timeout=STREAMING)
    edited = page.locator("#messages article[data-role=user]").nth(1)
    expect(edited.locator(".version-count")).to_have_text("2/2", timeout=STREAMING)
    expect(edited).to_contain_text("Question 2, reworded?")
    assert chat_messages(fake_llm) == [
        ("user", "Question 1?"),
        ("assistant", "Answer 1."),
        ("user", "Question 2, reworded?"),
    ]
    screenshot(page, "versions-edit")

    edited.locator(".version-prev").click()
    expect(items).to_have_count(6)
    expect(page.locator("#messages")).to_contain_text("Answer 3.")
    expect(page.locator("#messages")).not_to_contain_text("reworded")
