"""Request threads are lent one request at a time and kept for the next, never while busy."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from llm_metadata.request_threads import (
    RequestThread,
    RequestThreads,
    ThreadReusingASGIHandler,
    lent_thread,
)


def current_thread_id() -> int:
    return threading.get_ident()


async def run_request(threads: RequestThreads, work: Any) -> Any:
    """What the handler does around one request: lend, run thread-sensitive work, give back."""
    async with lent_thread(threads):
        return await work()


async def test_requests_one_after_another_run_in_the_same_kept_thread() -> None:
    threads = RequestThreads(keep=4)

    async def work() -> tuple[int, int]:
        first = await sync_to_async(current_thread_id)()
        second = await sync_to_async(current_thread_id)()
        return first, second

    one = await run_request(threads, work)
    two = await run_request(threads, work)
    assert one[0] == one[1], "a request's sync code ran in two threads"
    assert two == one, "the second request did not reuse the first one's thread"
    assert threading.get_ident() not in one  # never the event loop's thread


async def test_requests_at_the_same_time_get_threads_of_their_own() -> None:
    threads = RequestThreads(keep=8)
    inside = threading.Barrier(3, timeout=5)

    def meet() -> int:
        inside.wait()  # all three are in their sync code at once
        return threading.get_ident()

    async def work() -> int:
        return await sync_to_async(meet)()

    idents = await asyncio.gather(*(run_request(threads, work) for _ in range(3)))
    assert len(set(idents)) == 3
    assert len(threads._idle) == 3


async def test_a_thread_still_busy_when_its_request_ends_is_not_lent_again() -> None:
    threads = RequestThreads(keep=4)
    release = threading.Event()
    busy_in: list[int] = []

    def stuck() -> None:
        busy_in.append(threading.get_ident())
        release.wait(5)

    async def cancelled_work() -> None:
        task = asyncio.ensure_future(sync_to_async(stuck)())
        while not busy_in:
            await asyncio.sleep(0.001)
        task.cancel()  # as when a client goes away: the sync code keeps running in its thread
        with pytest.raises(asyncio.CancelledError):
            await task

    await run_request(threads, cancelled_work)
    assert threads._idle == []

    async def work() -> int:
        return await sync_to_async(current_thread_id)()

    try:
        other = await asyncio.wait_for(run_request(threads, work), timeout=2)
    finally:
        release.set()
    assert other != busy_in[0]


def test_at_most_keep_threads_are_kept() -> None:
    threads = RequestThreads(keep=2)
    lent = [threads.lend() for _ in range(3)]
    for thread in lent:
        threads.give_back(thread)
    assert len(threads._idle) == 2
    assert lent[2]._shutdown  # the third was let go


def test_a_thread_counts_its_pending_work() -> None:
    thread = RequestThread()
    gate = threading.Event()
    future = thread.submit(gate.wait, 5)
    assert not thread.idle
    gate.set()
    future.result(timeout=5)
    thread.shutdown(wait=True)
    assert thread.idle


@pytest.mark.django_db(transaction=True)
async def test_the_site_handler_serves_requests_with_kept_threads() -> None:
    handler = ThreadReusingASGIHandler()
    handler.threads = RequestThreads(keep=4)  # its own pool, so the count below is this test's
    for _ in range(3):
        sent = await get(handler, "/healthz")
        assert sent[0]["status"] == 200
    assert len(handler.threads._idle) == 1  # one thread served all three, and is kept


async def get(handler: ThreadReusingASGIHandler, path: str) -> list[dict]:
    """One GET through the handler; the messages it sent."""
    sent: list[dict] = []
    bodies = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # the client stays until the response is sent
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }
    await handler(scope, receive, send)
    return sent
