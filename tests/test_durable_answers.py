"""An answer survives a database fault while it is stored, or the reader is told it was not kept.

The retry loop is checked with a failing `save_answer` (the boundary), on either database; on
PostgreSQL the app's connections are terminated (`pg_terminate_backend`) while an answer streams,
and new connections refused for a while, the way a restart or failover looks to the app.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse

from llm_metadata import services
from llm_metadata.models import Message
from tests.test_chat_stream import form, messages, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("llm_clients")]


@pytest.fixture
def quick_retries(monkeypatch) -> None:
    monkeypatch.setattr(services, "STORE_RETRY_DELAYS", (0.0, 0.01, 0.01))


@pytest.fixture
def failing_saves(monkeypatch) -> Iterator[list[int]]:
    """`save_answer` raises OperationalError for the first `failures[0]` calls, then works."""
    failures = [10**6]
    real = services.save_answer

    def save_answer(**kwargs):
        if failures[0] > 0:
            failures[0] -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(services, "save_answer", save_answer)
    yield failures


async def test_a_passing_fault_is_retried_and_the_answer_kept(
    alice: User, fake_openai, quick_retries, failing_saves, llm_log
) -> None:
    failing_saves[0] = 2
    with llm_log.at_level(logging.WARNING, logger="llm_metadata.services"):
        exchange = await post(alice, form())
    assert exchange.names()[-1] == "done"
    _asked, answered = await messages()
    assert answered.content == "The capital of France is Paris." and answered.status == "ok"
    retries = [r for r in llm_log.records if "trying again" in r.getMessage()]
    assert len(retries) == 2 and all(r.levelno == logging.WARNING for r in retries)


async def test_a_lasting_fault_ends_the_stream_with_an_error_and_an_error_log(
    alice: User, fake_openai, quick_retries, failing_saves, llm_log
) -> None:
    with llm_log.at_level(logging.WARNING, logger="llm_metadata.services"):
        exchange = await post(alice, form())
    assert exchange.text() == "The capital of France is Paris."  # the reader has the text
    name, error = exchange.events()[-1]
    assert name == "error" and error["id"] is None
    assert error["message"] == services.AnswerNotStored.message
    (asked,) = await messages()  # the question is kept
    assert asked.role == "user"
    final = [r for r in llm_log.records if r.levelno == logging.ERROR]
    assert len(final) == 1 and str(asked.conversation_id) in final[0].getMessage()
    assert "4 attempts" in final[0].getMessage()


def test_the_plain_form_says_so_and_keeps_the_question(
    alice_client: Client, fake_openai, quick_retries, failing_saves, llm_log
) -> None:
    data = {**form(question="Will this be kept?")}
    with llm_log.at_level(logging.ERROR, logger="llm_metadata.services"):
        response = alice_client.post(reverse("llm_metadata:ask"), data)
    assert response.status_code == 503
    page = response.content.decode()
    assert "The answer could not be stored" in page
    assert "Will this be kept?</textarea>" in page
    stored = [r for r in llm_log.records if r.name == "llm_metadata.services"]
    assert [r.levelno for r in stored] == [logging.ERROR]
    assert list(Message.objects.values_list("role", flat=True)) == ["user"]


# --- PostgreSQL: the app's connections terminated while an answer streams --------------------


def _outage(seconds: float, started: threading.Event) -> threading.Thread:
    """Refuse new connections to the test database, terminate the app's, restore after
    `seconds`; runs on a connection of its own, outside Django."""
    settings = connection.settings_dict
    dsn = f"host={settings['HOST']} port={settings['PORT'] or 5432} user={settings['USER']}"
    name = settings["NAME"]

    def run() -> None:
        with psycopg.connect(f"{dsn} dbname=postgres", autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    [name],
                )
                started.set()
                time.sleep(seconds)
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    thread = threading.Thread(target=run, daemon=True)
    return thread


@pytest.fixture
def outage_survivor(transactional_db) -> Iterator[None]:
    """After the test, before the database is flushed: this thread's connection, terminated with
    the others, is dropped, and the pool checks its idle ones."""
    yield
    if connection.connection is not None and not connection.is_usable():
        connection.close()
    connection.pool.check()


async def _stream_through_outage(user: User, seconds: float) -> tuple:
    """Stream an answer of ~1 s; once its first delta is out, the database goes away."""
    started = threading.Event()
    outage = _outage(seconds, started)

    def first_delta(body: bytes) -> bool:
        if b"event: delta" in body and not outage.is_alive() and not started.is_set():
            outage.start()
            started.wait(5)
        return False

    exchange = await post(user, form(), hang_up_when=first_delta)
    await asyncio.to_thread(outage.join)
    # The pool's idle connections were terminated too: let it drop them before the asserts.
    await sync_to_async(connection.pool.check)()
    return exchange


@pytest.mark.postgresql
async def test_postgresql_terminated_connections_are_replaced_and_the_answer_kept(
    alice: User, fake_openai, llm_log, outage_survivor
) -> None:
    fake_openai.state.tokens, fake_openai.state.delay = 10, 0.1
    with llm_log.at_level(logging.WARNING, logger="llm_metadata.services"):
        exchange = await _stream_through_outage(alice, seconds=1.5)
    assert exchange.names()[-1] == "done"
    _asked, answered = await messages()
    assert answered.status == "ok" and answered.completion_tokens == 10
    assert answered.content == "".join(fake_openai.state.pieces())
    assert any("trying again" in r.getMessage() for r in llm_log.records)


@pytest.mark.postgresql
async def test_postgresql_an_outage_longer_than_the_retries_is_reported(
    alice: User, fake_openai, llm_log, outage_survivor
) -> None:
    fake_openai.state.tokens, fake_openai.state.delay = 10, 0.1
    outage = services.STORE_RETRY_WINDOW + 8  # past the window and one pool timeout
    with llm_log.at_level(logging.WARNING, logger="llm_metadata.services"):
        exchange = await _stream_through_outage(alice, seconds=outage)
    name, error = exchange.events()[-1]
    assert name == "error" and error["message"] == services.AnswerNotStored.message
    assert exchange.text() == "".join(fake_openai.state.pieces())
    (asked,) = await sync_to_async(list)(Message.objects.all())
    final = [r for r in llm_log.records if r.levelno == logging.ERROR]
    assert len(final) == 1 and str(asked.conversation_id) in final[0].getMessage()


async def test_a_reader_cancelled_while_the_answer_is_stored_does_not_drop_it(
    alice: User, fake_openai, monkeypatch
) -> None:
    """The request's task is cancelled (the reader left just as the answer ended) before the
    store has begun: the store runs on by itself."""
    real = services.astore_answer
    waiting = asyncio.Event()

    async def store_after_a_wait(**kwargs):  # a store that waits, as for a pooled connection
        waiting.set()
        await asyncio.sleep(0.3)
        return await real(**kwargs)

    monkeypatch.setattr(services, "astore_answer", store_after_a_wait)
    ask = services.Ask(
        user=alice,
        conversation=None,
        question="Kept?",
        model="fake-small",
        temperature=0.5,
        top_k=40,
        top_p=0.9,
        max_tokens=100,
    )
    turn = await sync_to_async(services.start_turn)(ask=ask)

    async def read() -> None:
        async for _ in services.stream_answer(turn):
            pass

    reader = asyncio.ensure_future(read())
    await asyncio.wait_for(waiting.wait(), 10)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    for _ in range(100):
        stored = await sync_to_async(list)(Message.objects.filter(role="assistant"))
        if stored:
            break
        await asyncio.sleep(0.05)
    assert [m.content for m in stored] == ["The capital of France is Paris."]
