"""In the browser: share a conversation, open the link signed out in a fresh browser, check
what it shows (and that it runs under the policy with no violation), revoke it: 404."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import STREAMING, ask
from tests.e2e.test_csp_e2e import Watch

ANSWER = "Use this:\n\n```python\nprint(sorted([3, 1, 2]))\n```\n\nThen **run** it."
SECRET_QUESTION = "My config says password=hunter2-hunter2, is that fine?"


def _open_conversation(page: Any) -> str:
    page.goto("/conversation/")
    page.locator("a.conversation-title").first.click()
    page.wait_for_url(re.compile(r"/conversation/[0-9a-f-]{36}/$"))
    return page.url


def test_it_shares_opens_signed_out_and_revokes(
    signed_in_page: Any, browser: Any, live_server_url: str, fake_llm: Any, screenshot
) -> None:
    page = signed_in_page
    fake_llm.reset()
    fake_llm.configure(reply=ANSWER, delay=0.01)
    page.goto("/ask/")
    ask(page, "How do I sort a list in Python?")
    answer = page.locator("article.message-item[data-role=assistant]").last
    expect(answer).to_have_attribute("data-status", "ok", timeout=STREAMING)
    ask(page, SECRET_QUESTION)
    expect(page.locator("article.message-item[data-role=assistant]")).to_have_count(2)
    expect(page.locator("article.message-item[data-role=assistant]").last).to_have_attribute(
        "data-status", "ok", timeout=STREAMING
    )

    detail = _open_conversation(page)
    expect(page.locator("#id_model")).to_be_checked()
    page.locator("#id_usage").check()
    page.locator("#share-button").click()
    # The scan found the password: shown masked, nothing published until the owner answers.
    expect(page.locator("h1")).to_have_text("Check before sharing")
    expect(page.locator("#findings")).to_contain_text("credential")
    expect(page.locator("#findings")).not_to_contain_text("hunter2-hunter2")
    screenshot(page, "share-check")
    page.locator("#leave-out-button").click()
    page.wait_for_url(detail)
    expect(page.locator("main")).to_contain_text("Share link created.")
    share_url = page.locator("#share-url").get_attribute("href")
    assert re.search(r"/s/[\w-]{32}/$", share_url), share_url

    visitor_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        visitor = visitor_context.new_page()
        watch = Watch(visitor)
        response = visitor.goto(share_url)
        assert response is not None and response.status == 200
        assert response.headers["x-robots-tag"] == "noindex, nofollow"
        assert "script-src 'none'" in response.headers["content-security-policy"]
        main = visitor.locator("main")
        expect(main).to_contain_text("How do I sort a list in Python?")
        expect(main.locator("pre").first).to_contain_text("print(sorted([3, 1, 2]))")
        expect(main.locator("strong", has_text="run").first).to_be_visible()
        expect(main).to_contain_text("Prompt tokens")
        expect(main).not_to_contain_text("hunter2")
        expect(main).not_to_contain_text(page.username)
        expect(visitor.locator("#left-out")).to_contain_text("1 message left out")
        hrefs = visitor.locator("a").evaluate_all("links => links.map(a => a.pathname)")
        assert hrefs == ["/accounts/login/"]
        visitor.wait_for_timeout(200)
        assert watch.violations == []
        visitor.locator("article[data-role=assistant] details summary").first.click()
        screenshot(visitor, "share-page")

        page.goto("/account/shares/")
        row = page.locator("tr.share-row")
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(5)).to_have_text("1")
        screenshot(page, "share-links")
        row.get_by_role("button", name="Revoke").click()
        expect(page.locator("main")).to_contain_text("Share link revoked")
        expect(page.locator("#no-share-links")).to_be_visible()

        gone = visitor.goto(share_url)
        assert gone is not None and gone.status == 404
        expect(visitor.locator("body")).not_to_contain_text("How do I sort")
    finally:
        visitor_context.close()
