"""POST /compare/stream/ and /compare/<uuid>/stream/ through Django's ASGI handler, against the
fake OpenAI server: the columns' answers interleave as they arrive, each ends with its own done
or error, follow-ups keep each model's own thread, and a client that hangs up stops them all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.urls import reverse

from llm_metadata.compare_models import Comparison
from llm_metadata.models import Message
from tests.test_chat_stream import Exchange
from tests.test_chat_stream import post as post_stream

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("llm_clients")]
STREAM = reverse("llm_metadata:compare-stream")
REPLIES = {"fake-small": "Small says Paris.", "fake-large": "Large says Paris, France."}


def form(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "question": "Capital of France?",
        "models": ["fake-small", "fake-large"],
        "temperature": "0.7",
        "top_k": "40",
        "top_p": "0.9",
        "max_tokens": "600",
    }
    data.update(changes)
    return data


async def post(
    user: User,
    path: str,
    data: dict[str, object],
    hang_up_when: Callable[[bytes], bool] | None = None,
) -> Exchange:
    """POST `data` as multipart to `path` as `user`; hang up once `hang_up_when(body so far)`."""
    return await post_stream(user, data, hang_up_when, path=path)


def column_text(exchange: Exchange, column: int) -> str:
    return "".join(
        data["text"]
        for name, data in exchange.events()
        if name == "delta" and data["column"] == column
    )


@sync_to_async
def answers() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in Message.objects.filter(role="assistant").order_by("created", "id"):
        found.setdefault(message.model_name, []).append(message.status)
    return found


async def test_the_answers_stream_side_by_side(alice: User, fake_openai) -> None:
    fake_openai.state.replies = REPLIES
    fake_openai.state.delay = 0.05
    exchange = await post(alice, STREAM, form())
    assert exchange.status == 200
    names = exchange.names()
    assert names[0] == "meta" and names[-1] == "end"
    assert sorted(names[1:-1]) == ["delta"] * (len(names) - 4) + ["done", "done"]
    meta = exchange.events()[0][1]
    comparison = await sync_to_async(Comparison.objects.get)()
    assert meta["comparison_id"] == str(comparison.pk)
    assert [c["label"] for c in meta["columns"]] == ["fake-small", "fake-large"]
    assert "Capital of France?" in meta["columns"][0]["question_html"]
    assert column_text(exchange, 0) == REPLIES["fake-small"]
    assert column_text(exchange, 1) == REPLIES["fake-large"]
    columns = [data["column"] for name, data in exchange.events() if name == "delta"]
    first_of_1, last_of_0 = columns.index(1), len(columns) - 1 - columns[::-1].index(0)
    assert first_of_1 < last_of_0, "the second column streams while the first still does"
    done = [data for name, data in exchange.events() if name == "done"]
    assert {d["column"] for d in done} == {0, 1}
    assert all("fake-" in d["html"] and d["status"] == "ok" for d in done)
    assert exchange.events()[-1][1]["url"] == f"/compare/{comparison.pk}/"
    assert await answers() == {"fake-small": ["ok"], "fake-large": ["ok"]}


async def test_blind_streams_hide_the_names(alice: User, fake_openai) -> None:
    exchange = await post(alice, STREAM, form(blind="on"))
    body = bytes(exchange.body).decode()
    assert "fake-small" not in body and "fake-large" not in body
    labels = [c["label"] for c in exchange.events()[0][1]["columns"]]
    assert labels == ["Model A", "Model B"]


async def test_a_streamed_follow_up_keeps_each_model_s_own_thread(alice: User, fake_openai) -> None:
    fake_openai.state.replies = REPLIES
    await post(alice, STREAM, form())
    comparison = await sync_to_async(Comparison.objects.get)()
    fake_openai.state.requests.clear()
    path = reverse("llm_metadata:comparison-stream", args=[comparison.pk])
    exchange = await post(alice, path, {"question": "And of Italy?"})
    assert exchange.names()[-1] == "end"
    sent = {
        r["body"]["model"]: r["body"]["messages"]
        for r in fake_openai.state.requests
        if r["path"].endswith("/chat/completions")
    }
    assert sent["fake-small"][1] == {"role": "assistant", "content": REPLIES["fake-small"]}
    assert sent["fake-large"][1] == {"role": "assistant", "content": REPLIES["fake-large"]}
    assert all(len(messages) == 3 for messages in sent.values())


async def test_one_failing_column_does_not_stop_the_other(alice: User, fake_openai) -> None:
    fake_openai.state.models = ["fake-small", "fake-large"]
    await post(alice, STREAM, form())
    comparison = await sync_to_async(Comparison.objects.get)()
    fake_openai.state.models = ["fake-small"]
    path = reverse("llm_metadata:comparison-stream", args=[comparison.pk])
    exchange = await post(alice, path, {"question": "Again?"})
    finals = {data["column"]: name for name, data in exchange.events() if name in ("done", "error")}
    assert finals == {0: "done", 1: "error"}
    assert await answers() == {"fake-small": ["ok", "ok"], "fake-large": ["ok", "error"]}


async def test_hanging_up_stores_every_column_as_cancelled(alice: User, fake_openai) -> None:
    fake_openai.state.mode = "stall"
    exchange = await post(
        alice, STREAM, form(), hang_up_when=lambda body: body.count(b"delta") >= 4
    )
    assert "end" not in exchange.names()
    for _ in range(100):
        if sum(len(v) for v in (await answers()).values()) == 2:
            break
        await asyncio.sleep(0.05)
    assert await answers() == {"fake-small": ["cancelled"], "fake-large": ["cancelled"]}


async def test_a_bad_form_is_400_with_the_errors(alice: User, fake_openai) -> None:
    exchange = await post(alice, STREAM, form(models=["fake-small"]))
    assert exchange.status == 400
    assert b"Pick 2 to 4 different models." in bytes(exchange.body)
    assert not await sync_to_async(Comparison.objects.exists)()
