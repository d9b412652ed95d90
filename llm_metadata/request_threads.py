"""Django's ASGI handler with request threads kept for the next request, not made for each one.

Under ASGI, Django runs each request's synchronous code (the middleware chain, a sync view) in a
thread of the request's own: Django's handler makes a one-thread executor for every request, and
on the way out asgiref joins that thread from yet another new thread. Starting a thread from the
event loop waits until the new thread has run, which under load means waiting for the GIL: the
loop stops accepting connections and relaying tokens meanwhile. In a burst of 300 chats the loop
made 600 threads in a few seconds.

`ThreadReusingASGIHandler` lends each request a thread from a small pool of idle ones (making one
only when none is idle) and takes it back when the request ends, as a WSGI server's thread pool
does. A thread is lent to one request at a time, so a request's synchronous code still runs in
one thread, as Django's thread-sensitive mode requires; a thread still busy when its request ends
(sync code left running by a cancelled request) is not kept but left to finish and exit.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import django
from asgiref.sync import SyncToAsync, ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

KEEP_IDLE = 64  # idle threads a worker keeps for the next requests


class RequestThread(ThreadPoolExecutor):
    """One thread, lent to one request at a time; it knows whether work is still in it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self._pending = 0
        self._pending_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._pending_lock:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future) -> None:
        with self._pending_lock:
            self._pending -= 1

    @property
    def idle(self) -> bool:
        return self._pending == 0


class RequestThreads:
    """Idle request threads, lent and taken back on the event loop."""

    def __init__(self, keep: int = KEEP_IDLE) -> None:
        self.keep = keep
        self._idle: list[RequestThread] = []

    def lend(self) -> RequestThread:
        while True:
            try:
                thread = self._idle.pop()
            except IndexError:
                return RequestThread()
            if thread.idle:
                return thread
            thread.shutdown(wait=False)

    def give_back(self, thread: RequestThread) -> None:
        if thread.idle and len(self._idle) < self.keep:
            self._idle.append(thread)
        else:  # still running a cancelled request's code, or enough kept: it exits when done
            thread.shutdown(wait=False)


class ThreadReusingASGIHandler(ASGIHandler):
    """Django's ASGIHandler, each request's synchronous code in a thread lent from a pool."""

    threads = RequestThreads()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with lent_thread(self.threads):
            await self.handle(scope, receive, send)


@asynccontextmanager
async def lent_thread(threads: RequestThreads) -> AsyncIterator[RequestThread]:
    """A thread from `threads` for the thread-sensitive calls made inside the block.

    The thread is taken off the block's context before the context exits, so asgiref does not
    shut it down, and given back. A task that outlives the block (a stream's shielded ending)
    then gets a thread of its own from asgiref, as without this handler; a context given its
    executor through `ThreadSensitiveContext(executor=...)` would refuse its calls instead.
    """
    thread = threads.lend()
    context = ThreadSensitiveContext()
    try:
        async with context:
            SyncToAsync.context_to_thread_executor[context] = thread
            try:
                yield thread
            finally:
                SyncToAsync.context_to_thread_executor.pop(context, None)
    finally:
        threads.give_back(thread)


def get_asgi_application() -> ThreadReusingASGIHandler:
    """`django.core.asgi.get_asgi_application`, with the handler above."""
    django.setup(set_prefix=False)
    return ThreadReusingASGIHandler()
