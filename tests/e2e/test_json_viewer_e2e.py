"""In the browser: sign up, log out and in; the JSON viewer's sortable table, its parse errors."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD

ROWS = [
    {"model": "llama3", "tokens": 120, "meta": {"ok": True}},
    {"model": "mistral", "tokens": 9},
    {"model": "qwen", "tokens": 45, "note": "<b>not bold</b>"},
]


def _upload(page: Any, name: str, content: bytes) -> None:
    page.goto("/json-viewer/")
    page.set_input_files(
        "input[name=json_file]",
        files=[{"name": name, "mimeType": "application/json", "buffer": content}],
    )
    page.get_by_role("button", name="View").click()


def _column(page: Any, index: int) -> list[str]:
    return page.locator(f"#json-table tbody tr td:nth-child({index})").all_inner_texts()


def test_it_signs_up_logs_out_and_logs_back_in(signed_in_page: Any) -> None:
    page = signed_in_page
    page.goto("/conversation/")
    expect(page.locator("nav")).to_contain_text(page.username)

    page.goto("/accounts/logout/")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("nav")).not_to_contain_text(page.username)

    page.goto("/accounts/login/")
    page.fill("input[name=login]", page.username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.goto("/conversation/")
    expect(page.locator("nav")).to_contain_text(page.username)


def test_it_shows_tabular_json_as_a_sortable_table(signed_in_page: Any, screenshot) -> None:
    page = signed_in_page
    _upload(page, "usage.json", json.dumps({"rows": ROWS}).encode())

    table = page.locator("#json-table")
    expect(table).to_be_visible()
    headings = table.locator("thead th").all_inner_texts()
    assert [h.strip() for h in headings] == ["model", "tokens", "meta", "note"]
    assert _column(page, 1) == ["llama3", "mistral", "qwen"]
    assert _column(page, 3)[0] == '{"ok":true}'
    expect(table.locator("td", has_text="<b>not bold</b>")).to_be_visible()

    table.get_by_role("button", name="tokens").click()
    assert _column(page, 2) == ["9", "45", "120"]
    table.get_by_role("button", name="tokens").click()
    assert _column(page, 2) == ["120", "45", "9"]

    tree = page.locator(".json-tree")
    expect(tree).to_contain_text('"mistral"')
    tree.locator("summary").first.click()
    expect(tree.locator("details").first).not_to_have_attribute("open", "")
    tree.locator("summary").first.click()
    screenshot(page, "json-viewer")

    with page.expect_download() as download_info:
        page.locator("#json-download").click()
    download = download_info.value
    assert download.suggested_filename == "usage-formatted.json"
    assert json.loads(download.path().read_text(encoding="utf-8")) == {"rows": ROWS}


def test_it_shows_the_parser_error_with_line_and_column(signed_in_page: Any) -> None:
    page = signed_in_page
    _upload(page, "broken.json", b'[\n  {"a": 1},\n  {"a": 2,,}\n]')

    error = page.locator(".json-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("line 3, column 11")
    expect(page.locator("#json-table")).to_have_count(0)
