"""/v1/ served by a Django handler of its own, without the site's middleware chain.

The gateway needs none of it (bearer keys: no session, CSRF token, messages, templates or time
zone), and the chain is synchronous on purpose (llm_metadata.middleware): every request through
it hops to a thread and back before the view runs. This handler keeps only the middleware that
is async-capable and useful to an API (security headers; the benchmarks' timing), so the async
gateway views run straight on the server's event loop. The URLs, views and settings are the
same; only the chain differs.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from .request_threads import ThreadReusingASGIHandler

PREFIX = "/v1/"
KEPT = (
    "llm_metadata.middleware_timing.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
)


class GatewayHandler(ThreadReusingASGIHandler):
    """Django's ASGI handler (request threads reused) with the middleware chain cut to KEPT."""

    def load_middleware(self, is_async: bool = False) -> None:
        site = settings.MIDDLEWARE
        settings.MIDDLEWARE = [name for name in site if name in KEPT]
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = site


class GatewayRouter:
    """Sends /v1/ to the GatewayHandler, everything else to the site's application."""

    def __init__(self, site: Any) -> None:
        self.site = site
        self.gateway = GatewayHandler()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await self.gateway(scope, receive, send)
        else:
            await self.site(scope, receive, send)
