"""In the browser: every page works under the Content-Security-Policy with no violation.

Violations are caught two ways: the `securitypolicyviolation` event (reported through a binding
that survives navigation) and Chromium's console messages. A deliberate inline style first
proves that the watch sees a violation when there is one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import STREAMING, ask, sign_up

ANSWER = (
    "A table:\n\n| model | tokens |\n|:--|--:|\n| llama | 12 |\n\n"
    "```python\nprint('hi')\n```\nand **bold** text."
)
WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolation(`${event.violatedDirective} ${event.blockedURI} at ${location.pathname}`);
});
"""


class Watch:
    """Collects CSP violations and CSP console messages of one browser tab."""

    def __init__(self, page: Any) -> None:
        self.violations: list[str] = []
        page.expose_binding("cspViolation", lambda _source, text: self.violations.append(text))
        page.add_init_script(WATCH)
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if re.search(r"Content Security Policy|Refused to", message.text):
            self.violations.append(f"console: {message.text}")


def visit(page: Any, path: str) -> None:
    """Open a page, check that it carries the policy, and let its scripts run."""
    response = page.goto(path)
    assert response is not None and response.ok, (path, response and response.status)
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy, path
    page.wait_for_load_state("load")


def test_the_watch_sees_an_inline_style(page: Any) -> None:
    watch = Watch(page)
    visit(page, "/accounts/login/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color:red\">x</p>')")
    expect(page.locator("p", has_text="x").last).to_be_attached()
    page.wait_for_timeout(200)
    assert any("style-src" in violation for violation in watch.violations), watch.violations


def test_every_page_runs_without_a_csp_violation(page: Any, e2e_server: Any, fake_llm: Any) -> None:
    watch = Watch(page)
    for path in ("/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        visit(page, path)
    page.username = sign_up(page)
    e2e_server.shell(
        "from django.contrib.auth.models import User;"
        f"User.objects.filter(username={page.username!r})"
        ".update(is_staff=True, is_superuser=True)"
    )

    fake_llm.reset()
    fake_llm.configure(reply=ANSWER, delay=0.02)
    visit(page, "/ask/")
    ask(page, "Show me a table")
    answer = page.locator("article.message-item[data-role=assistant]").last
    expect(answer.locator("td.text-end")).to_have_text("12", timeout=STREAMING)
    expect(answer).to_have_attribute("data-status", "ok", timeout=STREAMING)
    expect(answer.locator("[data-copy=code]")).to_have_count(1)

    visit(page, "/conversation/")
    page.locator("a.conversation-title").first.click()
    page.wait_for_url(re.compile(r"/conversation/[0-9a-f-]{36}/$"))
    conversation = page.url.rstrip("/").rsplit("/", 1)[1]
    visit(page, f"/conversation/{conversation}/")
    expect(page.locator("td.text-end", has_text="12")).to_be_visible()

    visit(page, "/json-viewer/")
    rows = [{"model": "llama", "tokens": 12}, {"model": "qwen", "tokens": 3}]
    page.set_input_files(
        "input[name=json_file]",
        files=[
            {"name": "t.json", "mimeType": "application/json", "buffer": json.dumps(rows).encode()}
        ],
    )
    page.get_by_role("button", name="View").click()
    expect(page.locator("#json-table tbody tr")).to_have_count(2)
    page.locator("#json-table thead button").first.click()
    visit(page, f"/json-viewer/?conversation={conversation}")

    visit(page, "/analytics/")
    expect(page.locator("svg.chart").first).to_be_visible()

    for path in (
        "/accounts/email/",
        "/accounts/password/change/",
        "/admin/",
        "/admin/llm_metadata/message/",
        "/admin/llm_metadata/conversation/",
        f"/admin/llm_metadata/conversation/{conversation}/change/",
        "/admin/auth/user/add/",
    ):
        visit(page, path)
    page.wait_for_timeout(300)  # a late violation event still reaches the list

    assert watch.violations == []
