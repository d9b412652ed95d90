"""Benchmarks only (BENCH_TIMING=1): a Server-Timing header with the request's time and queries.

`app;dur=<ms>` is the time spent inside Django's middleware chain and view; `db;dur=<ms>;
desc="<n> queries"` is the SQL run meanwhile, counted by an execute wrapper on every database
connection (the count is kept in a context variable, so it follows the request into the
threads that run its sync code).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from time import perf_counter
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse

_tally: ContextVar[list[float] | None] = ContextVar("bench_sql_tally", default=None)


def _count_queries(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
    tally = _tally.get()
    if tally is None:
        return execute(sql, params, many, context)
    started = perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        tally[0] += 1
        tally[1] += perf_counter() - started


def _install(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _count_queries not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_queries)


connection_created.connect(_install)


class ServerTimingMiddleware:
    """Adds `Server-Timing: app;dur=..., db;dur=...;desc="N queries"` to every response."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if iscoroutinefunction(self):
            return self.__acall__(request)  # type: ignore[return-value]
        tally = [0, 0.0]
        token = _tally.set(tally)
        started = perf_counter()
        try:
            response = self.get_response(request)
        finally:
            _tally.reset(token)
        return _stamp(response, started, tally)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        tally = [0, 0.0]
        token = _tally.set(tally)
        started = perf_counter()
        try:
            response = await self.get_response(request)
        finally:
            _tally.reset(token)
        return _stamp(response, started, tally)


def _stamp(response: HttpResponse, started: float, tally: list[float]) -> HttpResponse:
    app_ms = (perf_counter() - started) * 1000
    timing = f'app;dur={app_ms:.3f}, db;dur={tally[1] * 1000:.3f};desc="{int(tally[0])} queries"'
    own = response.get("Server-Timing")  # a view's own figure (the gateway's) is kept
    response["Server-Timing"] = f"{own}, {timing}" if own else timing
    return response
