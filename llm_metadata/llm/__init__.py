"""The one place that talks to LLM endpoints: OpenAI-compatible (SSE), Ollama (NDJSON), demo.

async for item in astream_chat(request):   # str deltas, then one ChatResult
result = await achat(request)              # the same stream, collected
result = chat(request)                     # sync callers
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

from asgiref.sync import async_to_sync
from django.conf import settings

from . import demo, ollama, openai
from .context import FittedMessages, estimate_tokens, fit_messages
from .errors import LLMError
from .registry import (
    OfferedModel,
    available_models,
    default_model,
    endpoint_models,
    is_demo,
    model_choices,
    offered_models,
    profile_for,
)
from .transport import aclose_clients, private_clients
from .types import ChatRequest, ChatResult

__all__ = [
    "ChatRequest",
    "ChatResult",
    "FittedMessages",
    "LLMError",
    "OfferedModel",
    "achat",
    "aclose_clients",
    "astream_chat",
    "available_models",
    "chat",
    "default_model",
    "endpoint_models",
    "estimate_tokens",
    "fit_messages",
    "is_demo",
    "model_choices",
    "offered_models",
    "profile_for",
]


def astream_chat(request: ChatRequest) -> AsyncIterator[str | ChatResult]:
    """Text deltas as they arrive, then exactly one ChatResult; failures raise LLMError.

    Closing the iterator (aclose, or cancelling the task) closes the upstream request.
    """
    if not settings.API_URL:
        return demo.stream(request)
    if settings.API_KIND == "ollama":
        return ollama.stream(request)
    return openai.stream(request)


async def achat(request: ChatRequest) -> ChatResult:
    """The whole answer as one ChatResult (the same streamed call, collected)."""
    result = None
    async for item in astream_chat(request):
        if isinstance(item, ChatResult):
            result = item
    if result is None:  # pragma: no cover - every backend yields a result or raises
        raise LLMError("The call ended without a result.", retryable=True)
    return result


def chat(request: ChatRequest) -> ChatResult:
    """Sync entry point. Called from a request thread under the ASGI server, the call runs on
    the server's event loop (the main thread's) with its pooled client; otherwise on a loop that
    async_to_sync makes for it, with a client of its own closed with it."""
    return async_to_sync(_achat_sync_entry)(request)


async def _achat_sync_entry(request: ChatRequest) -> ChatResult:
    if threading.current_thread() is threading.main_thread():
        return await achat(request)  # a new client per call cost 1-2 ms of CPU a turn
    async with private_clients():
        return await achat(request)
