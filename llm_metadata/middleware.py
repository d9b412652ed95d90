"""Show dates in the browser's time zone (cookie `tz` set by static/js/timezone.js)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import lru_cache

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
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
    """Activates the time zone named by the `tz` cookie; UTC when absent or unknown."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if iscoroutinefunction(self):
            return self.__acall__(request)  # type: ignore[return-value]
        self._activate(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        self._activate(request)
        return await self.get_response(request)

    @staticmethod
    def _activate(request: HttpRequest) -> None:
        zone = request_zone(request)
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
