"""The offline demo model, used only when API_URL is unset: a short, clearly labelled reply."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from time import perf_counter

from .calls import Call
from .context import file_text_chars
from .endpoint import Endpoint
from .types import ChatRequest, ChatResult

KIND = "demo"
NAME = "demo"
LABEL = "Demo model (offline, no endpoint configured)"
DELAY = 0.03  # seconds per token, so that streaming can be seen
_PIECES = re.compile(r"\S+\s*")


def reply_for(request: ChatRequest) -> str:
    """What the demo model says: that it is the demo, and what it was asked and given."""
    files = file_text_chars(request.messages)
    return (
        "This is the demo model: no LLM endpoint is configured, so an offline stand-in answers. "
        f"You asked for model {request.model} with temperature {request.temperature:g}, "
        f"top_k {request.top_k}, top_p {request.top_p:g} and max_tokens {request.max_tokens}. "
        f"I received {len(request.messages)} messages and {files} characters of file text. "
        "To use a real model, set API_URL (with API_KIND and API_KEY where needed) and restart."
    )


async def stream(endpoint: Endpoint, request: ChatRequest) -> AsyncIterator[str | ChatResult]:
    """Streams the reply word by word; its tokens are those words, so it reports their count."""
    call = Call(KIND, endpoint, request)
    pieces = _PIECES.findall(reply_for(request))
    sent = pieces[: request.max_tokens]
    try:
        for piece in sent:
            await asyncio.sleep(DELAY)
            if call.first is None:
                call.first = perf_counter()
            call.parts.append(piece)
            yield piece
        yield call.result(
            model=NAME,
            completion_tokens=len(sent),
            finish_reason="length" if len(sent) < len(pieces) else "stop",
        )
    except BaseException as exc:
        raise call.failed(exc)  # noqa: B904 (exc itself, or an LLMError chained to it)
