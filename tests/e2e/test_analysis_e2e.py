"""In the browser: a user chats with two models, rates two answers without a reload, finds the
stored tokens, latency percentiles, cost and votes on /analytics/, exports a conversation as JSON
and imports it again, and downloads all their messages as CSV."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import STREAMING, ask

SMALL, LARGE = "fake-small", "fake-large"  # the two models the fake LLM lists
PRICES = {"input_price_per_million": 1000, "output_price_per_million": 4000}  # for LARGE only
TURNS = (  # (model, question, what the fake answers)
    (SMALL, "Where is Paris?", {"reply": "Paris is in France, in Europe."}),
    (LARGE, "And Lima?", {"reply": "Lima is the capital of Peru, on the Pacific coast."}),
    (LARGE, "Tell me more.", {"tokens": 30}),
)
# Every stored message field except its keys and the stored file, and the owner's votes: what an
# export and import must carry over (read from the model, not from the exporter's own list).
HISTORY = """
import json
from llm_metadata.models import Conversation, Message
skip = {{"id", "conversation", "attachment"}}
names = [f.name for f in Message._meta.concrete_fields if f.name not in skip]
out = {{}}
for c in Conversation.objects.filter(owner__username={username!r}):
    messages = []
    for m in c.messages.prefetch_related("feedback").order_by("created", "id"):
        row = {{name: getattr(m, name) for name in names}}
        row["feedback"] = [(f.rating, f.comment) for f in m.feedback.all()]
        messages.append({{"id": m.pk, "fields": row}})
    out[str(c.pk)] = {{"title": c.title, "system_prompt": c.system_prompt, "created": c.created,
                      "updated": c.updated, "messages": messages}}
print(json.dumps(out, default=str))
"""


def history(e2e_server: Any, username: str) -> dict[str, Any]:
    """The user's conversations as stored: {id: {title, ..., messages: [{id, fields}]}}."""
    return json.loads(e2e_server.shell(HISTORY.format(username=username)))


@pytest.fixture
def priced_large_model(e2e_server: Any) -> Iterator[None]:
    """A price on LARGE's ModelProfile (none on SMALL), removed again after the test."""
    e2e_server.shell(
        "from llm_metadata.models import ModelProfile;"
        f"ModelProfile.objects.update_or_create(name={LARGE!r}, defaults={PRICES!r})"
    )
    yield
    e2e_server.shell(
        f"from llm_metadata.models import ModelProfile;ModelProfile.objects.filter(name={LARGE!r})"
        ".delete()"
    )


def chat_with_two_models(page: Any, fake_llm: Any) -> str:
    """Ask TURNS on /ask/ in one conversation, waiting for each streamed answer; its id."""
    page.goto("/ask/")
    answers = page.locator("article.message-item[data-role=assistant]")
    for count, (model, question, reply) in enumerate(TURNS, start=1):
        fake_llm.configure(**reply)
        page.select_option("#id_model", model)
        ask(page, question)
        expect(answers).to_have_count(count)
        expect(answers.last).to_have_attribute("data-status", "ok", timeout=STREAMING)
        expect(answers.last.locator(".message-metadata")).to_contain_text(model)
    return page.locator("#id_conversation").input_value()


def rate(page: Any, answer: Any, rating: str) -> None:
    """Click one thumb and check it was saved by a fetch call, with the page left in place."""
    page.evaluate("window.stillThisPage = true")
    url = page.url
    button = answer.get_by_role("button", name=f"Thumbs {rating}")
    with page.expect_response(lambda r: r.url.endswith("/feedback/")) as saved:
        button.click()
    assert saved.value.request.resource_type == "fetch"
    assert saved.value.json()["rating"] == rating
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(answer.locator(".feedback-status")).to_have_text("Saved.")
    assert page.url == url
    assert page.evaluate("window.stillThisPage") is True, "the page was reloaded"


def percentile(values: list[float], fraction: float) -> float:
    """percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    return low + (high - low) * (position - math.floor(position))


def number(text: str) -> float:
    return float(text.strip().lstrip("$").replace(",", "").rstrip("%"))


def model_rows(page: Any) -> dict[str, dict[str, str]]:
    """The analytics per-model table as {model: {column heading: cell text}}."""
    table = page.locator("#models")
    expect(table.locator("tbody tr")).to_have_count(2)
    headings = table.locator("thead th").all_inner_texts()
    rows = {}
    for row in table.locator("tbody tr").all():
        rows[row.get_attribute("data-model")] = dict(
            zip(headings, row.locator("td").all_inner_texts(), strict=True)
        )
    return rows


def check_model_row(shown: dict[str, str], answers: list[dict[str, Any]]) -> None:
    """One model's analytics row against its stored answers."""
    elapsed = [a["elapsed_time"] for a in answers]
    first_token = [a["time_to_first_token"] for a in answers]
    assert int(shown["Answers"]) == len(answers)
    assert number(shown["Prompt tokens"]) == sum(a["prompt_tokens"] for a in answers)
    assert number(shown["Completion tokens"]) == sum(a["completion_tokens"] for a in answers)
    assert number(shown["Tokens"]) == sum(a["total_tokens"] for a in answers)
    assert number(shown["p50 elapsed (s)"]) == pytest.approx(percentile(elapsed, 0.5), abs=6e-4)
    assert number(shown["p95 elapsed (s)"]) == pytest.approx(percentile(elapsed, 0.95), abs=6e-4)
    assert number(shown["p50 first token (s)"]) == pytest.approx(
        percentile(first_token, 0.5), abs=6e-4
    )
    assert number(shown["Error rate"]) == 0
    votes = [rating for a in answers for rating, _ in a["feedback"]]
    assert int(shown["Thumbs up"]) == votes.count(1)
    assert int(shown["Thumbs down"]) == votes.count(-1)


def check_analytics(page: Any, stored: list[dict[str, Any]]) -> None:
    """The analytics page against the stored messages of the one conversation."""
    answers = [m for m in stored if m["role"] == "assistant"]
    by_model = {name: [m for m in answers if m["model_name"] == name] for name in (SMALL, LARGE)}
    rows = model_rows(page)
    assert set(rows) == {SMALL, LARGE}
    for name in (SMALL, LARGE):
        check_model_row(rows[name], by_model[name])
    large_cost = sum(float(m["cost"]) for m in by_model[LARGE])
    assert large_cost > 0
    assert number(rows[LARGE]["Cost"]) == pytest.approx(large_cost, abs=6e-5)
    assert rows[SMALL]["Cost"] == "—"
    assert len({m["elapsed_time"] for m in by_model[LARGE]}) == 2
    assert rows[LARGE]["p95 elapsed (s)"] != rows[LARGE]["p50 elapsed (s)"]
    totals = page.locator("#totals")
    expect(totals.locator("tr", has_text="Messages").locator("td")).to_have_text(str(len(stored)))
    expect(totals.locator("tr", has_text="Completion tokens").locator("td")).to_have_text(
        str(sum(m["completion_tokens"] for m in answers))
    )


def export_and_import(page: Any, conversation_id: str, folder: Path) -> None:
    """Download the conversation's JSON export and import the file from the history page."""
    page.goto(f"/conversation/{conversation_id}/")
    title = page.locator("#conversation-title").inner_text()
    with page.expect_download() as download:
        page.locator(".export-links a:not(.export-active)").get_by_text("JSON", exact=True).click()
    exported = folder / download.value.suggested_filename
    download.value.save_as(exported)
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert document["conversation"]["id"] == conversation_id
    page.locator("#main-nav").get_by_role("link", name="History").click()
    page.set_input_files("#id_import_file", exported)
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(lambda url: "/conversation/" in url and conversation_id not in url)
    expect(page.locator(".alert-success")).to_contain_text("Imported 1 conversation.")
    expect(page.locator("#conversation-title")).to_have_text(title)
    expect(page.locator("article.message-item")).to_have_count(
        len(document["conversation"]["messages"])
    )


def check_csv(path: Path, saved: dict[str, Any], username: str) -> None:
    """Every stored message of the user is one row of the CSV download, with its fields."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        rows = {int(row["id"]): row for row in csv.DictReader(file)}
    messages = {
        m["id"]: (conversation, m["fields"])
        for conversation, data in saved.items()
        for m in data["messages"]
    }
    assert set(rows) == set(messages)
    ratings = {1: "up", -1: "down"}
    for pk, (conversation, fields) in messages.items():
        row = rows[pk]
        assert (row["conversation_id"], row["owner"]) == (conversation, username)
        for name in ("role", "content", "model_name", "status"):
            assert row[name] == fields[name], name
        tokens = fields["completion_tokens"]
        assert row["completion_tokens"] == ("" if tokens is None else str(tokens))
        assert row["feedback_rating"] == "".join(ratings[r] for r, _ in fields["feedback"])


def test_it_analyses_exports_and_reimports_a_two_model_history(
    signed_in_page: Any,
    fake_llm: Any,
    e2e_server: Any,
    priced_large_model: None,
    screenshot,
    tmp_path: Path,
) -> None:
    page = signed_in_page
    fake_llm.reset()
    fake_llm.configure(delay=0.02)
    conversation_id = chat_with_two_models(page, fake_llm)
    answers = page.locator("article.message-item[data-role=assistant]")
    rate(page, answers.nth(0), "up")  # SMALL's answer, on the chat page

    page.goto(f"/conversation/{conversation_id}/")
    rate(page, answers.nth(1), "down")  # LARGE's first answer, on the conversation page
    page.reload()
    expect(answers.nth(0).get_by_role("button", name="Thumbs up")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(answers.nth(1).get_by_role("button", name="Thumbs down")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(answers.nth(2).locator("button[aria-pressed=true]")).to_have_count(0)
    stored = [m["fields"] for m in history(e2e_server, page.username)[conversation_id]["messages"]]
    assert [(m["model_name"], m["feedback"]) for m in stored if m["role"] == "assistant"] == [
        (SMALL, [[1, ""]]),
        (LARGE, [[-1, ""]]),
        (LARGE, []),
    ]

    page.locator("#main-nav").get_by_role("link", name="Analytics").click()
    page.wait_for_url("**/analytics/")
    check_analytics(page, stored)
    screenshot(page, "analytics")

    export_and_import(page, conversation_id, tmp_path)
    saved = history(e2e_server, page.username)
    assert len(saved) == 2
    original = saved[conversation_id]
    copy = next(data for key, data in saved.items() if key != conversation_id)
    assert [m["fields"] for m in copy["messages"]] == [m["fields"] for m in original["messages"]]
    assert {m["id"] for m in copy["messages"]}.isdisjoint(m["id"] for m in original["messages"])
    for name in ("title", "system_prompt", "created", "updated"):
        assert copy[name] == original[name], name

    page.locator("#main-nav").get_by_role("link", name="History").click()
    with page.expect_download() as download:
        page.locator("#import-export a:not(.export-active)").get_by_text("CSV", exact=True).click()
    assert download.value.suggested_filename == "messages.csv"
    check_csv(download.value.path(), saved, page.username)
