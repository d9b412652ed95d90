"""Where a form goes after its POST: the `next` it carries when that stays on this site."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def next_or(request: HttpRequest, fallback: str, *, method: str = "POST") -> str:
    """The `next` URL (POSTed, or in the query with method="GET") if it stays on this host
    (HTTPS if the request is); else fallback."""
    target = (request.GET if method == "GET" else request.POST).get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
