"""The recording gateway's relay: an OpenAI chat-completions call forwarded to the endpoint.

    relay = Relay(endpoint, body, stream=True)
    await relay.start()                  # RelayError (status, OpenAI code) if no 2xx answer
    async for data in relay.chunks(): …  # OpenAI SSE bytes for the client
    body = await relay.whole()           # or, not streamed: the completion's JSON bytes
    relay.record                         # a Relayed: text, usage, timings, how it ended

The body goes on unchanged to an OpenAI-compatible endpoint (a stream also asks for usage),
translated for Ollama, or answered by the offline demo model. A failure after the stream
began reaches the client as an OpenAI error event; a stream closed early ends "cancelled".
Like the rest of the package it reads no settings and no database; the key is never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from time import perf_counter
from typing import Any

import httpx
import orjson

from . import demo, relay_ollama, relay_openai
from .calls import PROTOCOL_ERRORS
from .endpoint import Endpoint
from .errors import PastDeadline
from .relay_record import CANCELLED, ERROR, OK, Relayed, RelayError
from .transport import _MODEL_MISSING, error_detail, error_for_status, get_client, map_exception
from .types import ChatRequest

logger = logging.getLogger(__name__)
JSON_HEADERS = {"Content-Type": "application/json"}
DEFAULT_RETRY_AFTER = 1.0


class Relay:
    """One relayed call; see the module's docstring."""

    def __init__(self, endpoint: Endpoint, body: dict[str, Any], *, stream: bool) -> None:
        self.endpoint = endpoint
        self.body = body
        self.stream = stream
        self.wire = relay_openai if endpoint.kind == "openai" and not endpoint.is_demo else None
        self.wire = self.wire or relay_ollama
        options = body.get("stream_options") or {}
        self.include_usage = stream and bool(options.get("include_usage"))
        self.record = Relayed(body["model"])
        self.deadline = self.record.started + endpoint.max_duration
        self._response: httpx.Response | None = None

    async def start(self) -> None:
        """Send the request; RelayError (and the record ends "error") unless the answer is 2xx."""
        if self.endpoint.is_demo:
            return
        client = get_client(self.endpoint)
        content = self.wire.upstream_body(self.body, self.stream)
        request = client.build_request(
            "POST", self.wire.PATH, content=content, headers=JSON_HEADERS
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._fail(transport_failure(self.endpoint, exc)) from None
        if response.status_code >= 400:
            try:
                raw = await response.aread()
            except httpx.HTTPError:
                raw = b""
            finally:
                await response.aclose()
            failure = status_failure(self.endpoint, response, raw, self.record.model)
            raise self._fail(failure)
        self._response = response

    async def whole(self) -> bytes:
        """The non-streamed answer as an OpenAI completion; RelayError when it fails."""
        try:
            if self._response is None:
                raw = b"".join([line async for line in _demo_lines(self.body, stream=False)])
            else:
                raw = await self._response.aread()
            out = self.wire.read_whole(raw, self.record)
        except asyncio.CancelledError:
            self.record.end(CANCELLED)
            log(self.record)
            raise
        except Exception as exc:
            raise self._fail(self._failure(exc)) from None
        finally:
            await self._close()
        self.record.end(OK)
        log(self.record)
        return out

    async def chunks(self) -> AsyncIterator[bytes]:
        """The answer as OpenAI SSE bytes; a failure becomes a last `{"error": …}` event."""
        reader = self.wire.StreamReader(self.record, self.include_usage)
        source = (
            _demo_lines(self.body, stream=True)
            if self._response is None
            else self._response.aiter_raw()
        )
        deadline = self.deadline
        try:
            try:
                async for chunk in source:
                    if perf_counter() > deadline:
                        raise PastDeadline
                    out = reader.feed(chunk)
                    if out:
                        yield out
                tail = reader.end()
            except (GeneratorExit, asyncio.CancelledError):
                raise
            except BaseException as exc:
                failure = self._fail(self._failure(exc))
                yield b"data: " + failure.body() + b"\n\n"
                return
            self.record.end(OK)
            if tail:
                yield tail
        finally:
            await self._close()
            if not self.record.ended:
                self.record.end(CANCELLED)
                log(self.record)
            elif self.record.status == OK:
                log(self.record)

    def _failure(self, exc: BaseException) -> RelayError:
        if isinstance(exc, RelayError):
            return exc
        if isinstance(exc, PastDeadline):
            seconds = f"{self.endpoint.max_duration:g}"
            return RelayError(
                f"The answer took longer than {seconds} s; it is cut off.", status=504
            )
        if isinstance(exc, httpx.HTTPError):
            return transport_failure(
                self.endpoint, exc, during_answer=self.record.first is not None
            )
        if isinstance(exc, PROTOCOL_ERRORS):
            return RelayError("The endpoint sent a malformed answer.")
        logger.error("gateway relay failed: %s", type(exc).__name__, exc_info=exc)
        return RelayError("Something went wrong while relaying the answer.")

    def _fail(self, failure: RelayError) -> RelayError:
        failure.message = self.endpoint.redact(failure.message)
        self.record.end(ERROR, failure.message)
        log(self.record)
        return failure

    async def _close(self) -> None:
        if self._response is not None:
            await self._response.aclose()


def status_failure(
    endpoint: Endpoint, response: httpx.Response, raw: bytes, model: str
) -> RelayError:
    """The client's error for an endpoint's HTTP error status."""
    status = response.status_code
    detail, code = error_detail(endpoint, raw)
    if status == 429:
        return RelayError(
            f"The endpoint is rate-limiting requests (HTTP 429){': ' + detail if detail else ''}.",
            status=429,
            type_="rate_limit_error",
            code="upstream_rate_limited",
            retry_after=_retry_after(response),
        )
    if status in (400, 404, 422) and (code == "model_not_found" or _MODEL_MISSING.search(detail)):
        return RelayError(
            f"Model {model} is not available at the endpoint.",
            status=404,
            type_="invalid_request_error",
            code="model_not_found",
        )
    if status in (400, 422):
        return RelayError(
            f"The endpoint rejected the request (HTTP {status}){': ' + detail if detail else ''}.",
            status=400,
            type_="invalid_request_error",
            code="upstream_rejected",
        )
    message = error_for_status(endpoint, status, raw, response.request, model=model).message
    return RelayError(message, status=502)


def transport_failure(
    endpoint: Endpoint, exc: httpx.HTTPError, *, during_answer: bool = False
) -> RelayError:
    """The client's error for a refused, cut or timed-out connection: 504 for a timeout."""
    message = map_exception(endpoint, exc, during_answer=during_answer).message
    timed_out = isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.PoolTimeout)
    return RelayError(
        message,
        status=504 if timed_out else 502,
        code="upstream_timeout" if timed_out else "upstream_error",
    )


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers["retry-after"]), 0.0)
    except (KeyError, ValueError):
        return DEFAULT_RETRY_AFTER


def log(record: Relayed) -> None:
    """One INFO line per relayed call (no prompt, no answer, no key)."""
    logger.info(
        "gateway call model=%s outcome=%s prompt_tokens=%s completion_tokens=%s latency=%.3fs%s",
        record.model,
        record.status,
        record.prompt_tokens,
        record.completion_tokens,
        record.elapsed,
        f" error={record.error!r}" if record.error else "",
    )


async def _demo_lines(body: dict[str, Any], *, stream: bool) -> AsyncIterator[bytes]:
    """The offline demo model's answer, as Ollama would send it (so one translation serves)."""
    messages = [
        {"role": str(m.get("role", "")), "content": str(m.get("content") or "")}
        for m in body["messages"]
    ]
    request = ChatRequest(
        model=body["model"],
        messages=messages,
        temperature=float(body.get("temperature", 1.0)),
        top_k=int(body.get("top_k", 40)),
        top_p=float(body.get("top_p", 1.0)),
        max_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 600),
        context_length=8192,
    )
    pieces = demo.pieces(demo.reply_for(request))
    sent = pieces[: request.max_tokens]
    final = {
        "model": demo.NAME,
        "message": {"role": "assistant", "content": "" if stream else "".join(sent)},
        "done": True,
        "done_reason": "length" if len(sent) < len(pieces) else "stop",
        "eval_count": len(sent),
    }
    if stream:
        for piece in sent:
            await asyncio.sleep(demo.DELAY)
            line = {"model": demo.NAME, "message": {"role": "assistant", "content": piece}}
            yield orjson.dumps(line) + b"\n"
    yield orjson.dumps(final) + b"\n"
