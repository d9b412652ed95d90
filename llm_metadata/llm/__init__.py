"""The one place that talks to LLM endpoints: OpenAI-compatible (SSE), Ollama (NDJSON), demo.

It knows HTTP and nothing else: it takes plain values (an Endpoint, a ChatRequest that carries
the model's context length) and returns plain results; it reads no settings and no database.
The app's catalogue (`llm_metadata/catalog.py`) decides the endpoint, models and defaults.

    async for item in astream_chat(endpoint, request):   # str deltas, then one ChatResult
    result = await achat(endpoint, request)              # the same stream, collected
    result = chat(endpoint, request)                     # sync callers
    names = list_models(endpoint)                        # the endpoint's own list (blocking)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from asgiref.sync import async_to_sync

from . import demo, ollama, openai
from .context import FittedMessages, estimate_tokens, fit_messages
from .endpoint import Endpoint
from .errors import LLMError
from .listing import list_models
from .transport import aclose_clients, private_clients
from .types import ChatRequest, ChatResult

__all__ = [
    "ChatRequest",
    "ChatResult",
    "Endpoint",
    "FittedMessages",
    "LLMError",
    "achat",
    "aclose_clients",
    "astream_chat",
    "chat",
    "estimate_tokens",
    "fit_messages",
    "list_models",
]


def astream_chat(endpoint: Endpoint, request: ChatRequest) -> AsyncIterator[str | ChatResult]:
    """Text deltas as they arrive, then exactly one ChatResult; failures raise LLMError.

    Closing the iterator (aclose, or cancelling the task) closes the upstream request.
    """
    if endpoint.is_demo:
        return demo.stream(endpoint, request)
    if endpoint.kind == "ollama":
        return ollama.stream(endpoint, request)
    return openai.stream(endpoint, request)


async def achat(endpoint: Endpoint, request: ChatRequest) -> ChatResult:
    """The whole answer as one ChatResult (the same streamed call, collected)."""
    result = None
    async for item in astream_chat(endpoint, request):
        if isinstance(item, ChatResult):
            result = item
    if result is None:  # pragma: no cover - every backend yields a result or raises
        raise LLMError("The call ended without a result.", retryable=True)
    return result


def chat(endpoint: Endpoint, request: ChatRequest) -> ChatResult:
    """Sync entry point; uses its own short-lived client (it may run on a loop of its own)."""
    return async_to_sync(_achat_private)(endpoint, request)


async def _achat_private(endpoint: Endpoint, request: ChatRequest) -> ChatResult:
    async with private_clients():
        return await achat(endpoint, request)
