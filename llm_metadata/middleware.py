"""Show dates in the browser's time zone (cookie `tz` set by static/js/timezone.js)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import lru_cache

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


@lru_cache(maxsize=512)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def request_zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    name = request.COOKIES.get("tz", "")
    return _zone(name) if name and len(name) < 64 else None


class UserTimezoneMiddleware:
    """Activates the time zone named by the `tz` cookie; UTC when absent or unknown.

    Synchronous only, and last in MIDDLEWARE, on purpose: Django then runs the whole middleware
    chain in the request's thread and hops to the event loop once, for the view. With an
    async-capable middleware innermost, the chain runs on the loop, and each of Django's own
    middleware runs its request and response halves in the thread one hop at a time (15 thread
    hops a request, 1 ms of CPU; README, Performance).
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = request_zone(request)
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)
