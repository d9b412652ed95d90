"""The offline demo model, used only when no URL is set: a short, clearly labelled reply."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator

from .calls import Call
from .context import file_text_chars
from .types import CANCELLED, ChatRequest

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


def pieces(text: str) -> list[str]:
    """The demo's tokens: the words of its reply, each with the space after it."""
    return _PIECES.findall(text)


async def stream(call: Call) -> AsyncGenerator[str, None]:
    """Streams the reply word by word; its tokens are those words, so it reports their count."""
    pieces = _PIECES.findall(reply_for(call.request))
    sent = pieces[: call.request.max_tokens]
    try:
        for piece in sent:
            await asyncio.sleep(DELAY)
            yield call.got(piece)
        call.finish(
            model=NAME,
            completion_tokens=len(sent),
            finish_reason="length" if len(sent) < len(pieces) else "stop",
        )
    except BaseException as exc:
        if call.end(exc).status == CANCELLED:
            raise
