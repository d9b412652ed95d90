"""The recording gateway: `GET /v1/models` and `POST /v1/chat/completions`, OpenAI's wire format.

Bearer keys, not sessions (so no CSRF); errors in OpenAI's shape. The views are async: the call
to the endpoint waits on the server's event loop, so a slow answer holds up no other request.
Every response carries `Server-Timing: gateway;dur=<ms>` (the gateway's own time, the
endpoint's excluded) and, once the call is accepted, `X-Conversation-Id`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import aclosing
from time import perf_counter

import orjson
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from .. import api_keys, catalog, gateway
from ..llm.relay import Relay
from ..llm.relay_record import Relayed, RelayError

JSON = "application/json"
_recording: set[asyncio.Task] = set()  # recordings under way (tasks are held weakly otherwise)


class Clock:
    """The gateway's own time: the whole request less the waits on the endpoint; and its
    steps (`check`: key, body, model, conversation; `record`: the database write)."""

    __slots__ = ("started", "steps", "waited")

    def __init__(self) -> None:
        self.started = perf_counter()
        self.waited = 0.0
        self.steps: list[tuple[str, float]] = []

    def since(self, name: str, started: float) -> None:
        self.steps.append((name, perf_counter() - started))

    def header(self) -> str:
        own = (perf_counter() - self.started - self.waited) * 1000
        parts = [f"gateway;dur={own:.2f}"]
        parts += [f"gateway-{name};dur={seconds * 1000:.2f}" for name, seconds in self.steps]
        return ", ".join(parts)


class RecordedStream(StreamingHttpResponse):
    """A stream that closes its source when the client goes away. Django's handler closes only
    its own wrappers around the source, which is then closed whenever the garbage collector
    gets to it; the relay records the call as it closes, so it must close at once."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async with aclosing(self._iterator) as parts:
            async for part in parts:
                yield part


def error_response(
    failure: RelayError, clock: Clock, call: gateway.GatewayCall | None = None
) -> HttpResponse:
    """The failure in OpenAI's error shape, with `Retry-After` for a 429."""
    response = HttpResponse(failure.body(), status=failure.status, content_type=JSON)
    if failure.retry_after is not None:
        response["Retry-After"] = str(max(0, math.ceil(failure.retry_after)))
    return _stamped(response, clock, call)


def _stamped(
    response: HttpResponse, clock: Clock, call: gateway.GatewayCall | None
) -> HttpResponse:
    if call is not None:
        response["X-Conversation-Id"] = str(call.conversation_id)
    response["Server-Timing"] = clock.header()
    return response


async def _record(call: gateway.GatewayCall, result: Relayed) -> None:
    """Store the call. Shielded: when the client goes away as the answer ends, Django cancels
    the request's task, and the call must still be recorded (an unshielded wait on the thread
    that writes was dropped before the write began)."""
    task = asyncio.ensure_future(sync_to_async(gateway.record_call)(call=call, result=result))
    _recording.add(task)
    task.add_done_callback(_recording.discard)
    await asyncio.shield(task)


def _model_list(authorization: str) -> bytes:
    key = api_keys.authenticate(authorization)
    if isinstance(key, api_keys.KeyRefusal):
        raise gateway.error(401, key.message, key.code)
    data = [
        {"id": m.name, "object": "model", "created": 0, "owned_by": "llm-metadata"}
        for m in catalog.offered_models()
    ]
    return orjson.dumps({"object": "list", "data": data})


@csrf_exempt
async def models(request: HttpRequest) -> HttpResponse:
    """The models offered, as OpenAI lists them."""
    clock = Clock()
    if request.method != "GET":
        return error_response(gateway.error(405, "Use GET.", "method_not_allowed"), clock)
    try:
        body = await sync_to_async(_model_list)(request.headers.get("Authorization", ""))
    except RelayError as failure:
        return error_response(failure, clock)
    return _stamped(HttpResponse(body, content_type=JSON), clock, None)


@csrf_exempt
async def chat_completions(request: HttpRequest) -> HttpResponse:
    """Relay one chat completion to the endpoint (streamed or not) and record it."""
    clock = Clock()
    if request.method != "POST":
        return error_response(gateway.error(405, "Use POST.", "method_not_allowed"), clock)
    started = perf_counter()
    try:
        call = await sync_to_async(gateway.prepare)(
            authorization=request.headers.get("Authorization", ""),
            conversation_header=request.headers.get("X-Conversation-Id"),
            raw=request.body,
        )
    except RelayError as failure:
        return error_response(failure, clock)
    clock.since("check", started)
    relay = Relay(call.endpoint, call.body, stream=call.stream)
    try:
        waited = perf_counter()
        try:
            await relay.start()
            body = None if call.stream else await relay.whole()
        finally:
            clock.waited += perf_counter() - waited
    except RelayError as failure:
        await _record(call, relay.record)
        return error_response(failure, clock, call)
    if body is not None:
        started = perf_counter()
        await _record(call, relay.record)
        clock.since("record", started)
        return _stamped(HttpResponse(body, content_type=JSON), clock, call)
    response = RecordedStream(
        _relayed(call, relay), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return _stamped(response, clock, call)


async def _relayed(call: gateway.GatewayCall, relay: Relay) -> AsyncIterator[bytes]:
    """The relayed stream; however it ends (done, failed, client gone), the call is recorded."""
    try:
        async with aclosing(relay.chunks()) as chunks:
            async for data in chunks:
                yield data
    finally:
        await _record(call, relay.record)
