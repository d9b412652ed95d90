"""The HTTP chokepoint: one pooled async httpx client per endpoint, failures mapped to LLMError.

httpx clients are bound to the event loop that first used them, so the pool is kept per running
loop (the ASGI server's loop in production; each test and each sync `chat()` call has its own).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from time import perf_counter
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

import httpx
import orjson

from .endpoint import Endpoint
from .errors import LLMError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
MAX_RETRIES = 2  # for HTTP 429 only
RETRY_BASE_DELAY = 0.5
RETRY_AFTER_CAP = 10.0

_Pool = dict[Endpoint, httpx.AsyncClient]
_pools: WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = WeakKeyDictionary()
_private_pool: ContextVar[_Pool | None] = ContextVar("llm_private_pool", default=None)
_MODEL_MISSING = re.compile(
    r"model.{0,200}(not found|does not exist|not exist|unknown|not available|no such)"
    r"|(unknown|invalid|no such) model",
    re.IGNORECASE | re.DOTALL,
)
_DNS_HINTS = (
    "name or service not known",
    "name resolution",
    "nodename nor servname",
    "getaddrinfo",
)


def endpoint_headers(endpoint: Endpoint) -> dict[str, str]:
    """Headers every call carries; the key goes only here, never into a log line."""
    headers = {"User-Agent": "llm-metadata"}
    if endpoint.key:
        headers["Authorization"] = f"Bearer {endpoint.key}"
    return headers


def timeout(endpoint: Endpoint) -> httpx.Timeout:
    """`endpoint.timeout` bounds the wait for the first byte and every stall between chunks
    (and no wait is longer than the whole answer may take)."""
    seconds = min(endpoint.timeout, endpoint.max_duration)
    return httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT))


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: building one loads the CA bundle (30 ms a client)."""
    return httpx.create_ssl_context()


def get_client(endpoint: Endpoint) -> httpx.AsyncClient:
    """The shared client for `endpoint` on the running event loop."""
    pool = _private_pool.get()
    if pool is None:
        loop = asyncio.get_running_loop()
        pool = _pools.get(loop)
        if pool is None:
            pool = _pools[loop] = {}
    client = pool.get(endpoint)
    if client is None or client.is_closed:
        client = pool[endpoint] = httpx.AsyncClient(
            base_url=endpoint.base_url,
            auth=endpoint.auth,
            params=endpoint.params,
            headers=endpoint_headers(endpoint),
            timeout=timeout(endpoint),
            limits=httpx.Limits(
                max_connections=endpoint.max_connections, max_keepalive_connections=50
            ),
            verify=ssl_context(),
        )
    return client


async def aclose_clients() -> None:
    """Close the clients of the running event loop; tests and benchmarks call it between runs."""
    pool = _pools.pop(asyncio.get_running_loop(), {})
    for client in pool.values():
        await client.aclose()


@asynccontextmanager
async def private_clients() -> AsyncIterator[None]:
    """Give the calls inside their own clients, closed on exit (for the sync entry point)."""
    pool: _Pool = {}
    token = _private_pool.set(pool)
    try:
        yield
    finally:
        _private_pool.reset(token)
        for client in pool.values():
            await client.aclose()


@asynccontextmanager
async def open_stream(
    endpoint: Endpoint, path: str, body: bytes, *, model: str, deadline: float
) -> AsyncIterator[httpx.Response]:
    """POST `body` to the endpoint and hand over a 2xx streaming response.

    HTTP 429 is retried twice, unless waiting would pass `deadline` (a perf_counter time).
    """
    client = get_client(endpoint)
    headers = {"Content-Type": "application/json"}
    attempt = 0
    while True:
        try:
            response = await client.send(
                client.build_request("POST", path, content=body, headers=headers), stream=True
            )
        except httpx.HTTPError as exc:
            raise map_exception(endpoint, exc) from exc
        if response.status_code != 429 or attempt >= MAX_RETRIES:
            break
        delay = retry_delay(response, attempt)
        if perf_counter() + delay > deadline:
            break
        await response.aclose()
        logger.debug("llm endpoint answered 429; retry %d in %.2fs", attempt + 1, delay)
        await asyncio.sleep(delay)
        attempt += 1
    try:
        if response.status_code >= 400:
            raise await status_error(endpoint, response, model=model)
        yield response
    finally:
        await response.aclose()


def retry_delay(response: httpx.Response, attempt: int) -> float:
    """Retry-After when the endpoint gives one (capped), else exponential backoff."""
    try:
        return min(max(float(response.headers["retry-after"]), 0.0), RETRY_AFTER_CAP)
    except (KeyError, ValueError):
        return RETRY_BASE_DELAY * 2**attempt


async def status_error(endpoint: Endpoint, response: httpx.Response, *, model: str) -> LLMError:
    """The LLMError for an HTTP error status of a streamed response."""
    try:
        raw = await response.aread()
    except httpx.HTTPError:
        raw = b""
    return error_for_status(endpoint, response.status_code, raw, response.request, model=model)


def error_for_status(
    endpoint: Endpoint, status: int, raw: bytes, request: httpx.Request, *, model: str = ""
) -> LLMError:
    """Map a status and the endpoint's own error text (if any) to a message for the user."""
    path = request.url.path
    detail, code = error_detail(endpoint, raw)
    if status in (401, 403):
        hint = "" if endpoint.key else " (no API_KEY is set)"
        return LLMError(f"The endpoint refused the API key{hint} (HTTP {status}).")
    if status in (400, 404, 422) and (code == "model_not_found" or _MODEL_MISSING.search(detail)):
        return LLMError(f"Model {model} is not available at the endpoint.")
    suffix = f": {detail}" if detail else ""
    if status == 404:
        return LLMError(f"The endpoint has no {path} (HTTP 404); check API_URL and API_KIND.")
    if status == 429:
        return LLMError(
            f"The endpoint is rate-limiting requests (HTTP 429) after {MAX_RETRIES} retries; "
            "try again in a moment.",
            retryable=True,
        )
    if status >= 500:
        return LLMError(f"The endpoint failed (HTTP {status}{suffix}).", retryable=True)
    return LLMError(f"The endpoint rejected the request (HTTP {status}{suffix}).")


def error_detail(endpoint: Endpoint, raw: bytes) -> tuple[str, str]:
    """(message, code) out of an `{"error": ...}` body; ("", "") for anything else (HTML)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    error = data.get("error", data.get("detail", data.get("message")))
    if isinstance(error, dict):
        message, code = error.get("message") or "", error.get("code") or ""
    else:
        message, code = error or "", ""
    return endpoint.redact(str(message))[:300], str(code)


def map_exception(endpoint: Endpoint, exc: Exception, *, during_answer: bool = False) -> LLMError:
    """The LLMError for a transport failure (refused, DNS, timeout, cut connection)."""
    where = endpoint.where
    seconds = f"{min(endpoint.timeout, endpoint.max_duration):g}"
    if isinstance(exc, httpx.ConnectTimeout):
        return LLMError(f"Cannot connect to the endpoint at {where}: timed out.", retryable=True)
    if isinstance(exc, httpx.PoolTimeout):
        return LLMError("Too many calls to the endpoint are in progress.", retryable=True)
    if isinstance(exc, httpx.TimeoutException):
        if during_answer:
            return LLMError(
                f"The endpoint stopped sending for more than {seconds} s; the answer is cut off.",
                retryable=True,
            )
        return LLMError(f"The endpoint did not answer within {seconds} s.", retryable=True)
    if isinstance(exc, httpx.ConnectError):
        if _is_dns_failure(exc):
            return LLMError(
                f"Cannot find the endpoint's host {urlsplit(endpoint.base_url).hostname} "
                "(DNS lookup failed); check API_URL."
            )
        if _in_chain(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
            return LLMError(
                f"Cannot connect to the endpoint at {where}: connection refused (is it running?).",
                retryable=True,
            )
        return LLMError(f"Cannot connect to the endpoint at {where}: {exc}.", retryable=True)
    if isinstance(exc, httpx.TransportError):
        if during_answer:
            return LLMError(
                "The connection to the endpoint was lost before the answer was complete.",
                retryable=True,
            )
        return LLMError("The endpoint closed the connection without answering.", retryable=True)
    return LLMError(f"The call to the endpoint failed: {type(exc).__name__}.", retryable=True)


def _in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_dns_failure(exc: httpx.ConnectError) -> bool:
    return _in_chain(exc, socket.gaierror) or any(h in str(exc).lower() for h in _DNS_HINTS)
