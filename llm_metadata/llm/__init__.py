"""The one place that talks to LLM endpoints: OpenAI-compatible (SSE), Ollama (NDJSON), demo.

It knows HTTP and nothing else: it takes plain values (an Endpoint, a ChatRequest that carries
the model's context length) and returns plain results; it reads no settings and no database.
The app's catalogue (`llm_metadata/catalog.py`) decides the endpoint, models and defaults.

    stream = stream_chat(endpoint, request)
    async for text in stream: ...            # the answer's text deltas as they arrive
    result = await stream.aclose()           # a ChatResult: how the call ended, whatever happened

    result = await achat(endpoint, request)  # the same call, collected
    result = chat(endpoint, request)         # for sync callers
    names = list_models(endpoint)            # the endpoint's model list (blocking); LLMError

No call raises for a failure of the endpoint: the ChatResult says "ok", "error" (with a
message fit for the user, and the text that came before) or "cancelled" (closed early, or its
task cancelled; the upstream request is closed too). Endpoint.timeout bounds every wait for
bytes, Endpoint.max_duration the whole answer. One INFO log line per call; prompts and answers
only at DEBUG; the key never.
"""

from __future__ import annotations

import threading

from asgiref.sync import async_to_sync

from . import demo, ollama, openai
from .calls import Call, ChatStream
from .context import FittedMessages, estimate_tokens, fit_messages, message_tokens
from .endpoint import Endpoint
from .errors import LLMError
from .listing import list_models
from .transport import aclose_clients, private_clients
from .types import ChatRequest, ChatResult

__all__ = [
    "ChatRequest",
    "ChatResult",
    "ChatStream",
    "Endpoint",
    "FittedMessages",
    "LLMError",
    "achat",
    "aclose_clients",
    "chat",
    "estimate_tokens",
    "fit_messages",
    "list_models",
    "message_tokens",
    "stream_chat",
]


def stream_chat(endpoint: Endpoint, request: ChatRequest) -> ChatStream:
    """Start a call: its text deltas as they arrive, then (aclose) how it ended."""
    backend = demo if endpoint.is_demo else ollama if endpoint.kind == "ollama" else openai
    call = Call(backend.KIND, endpoint, request)
    return ChatStream(call, backend.stream(call))


async def achat(endpoint: Endpoint, request: ChatRequest) -> ChatResult:
    """The whole call as one ChatResult."""
    stream = stream_chat(endpoint, request)
    async for _ in stream:
        pass
    return await stream.aclose()


def chat(endpoint: Endpoint, request: ChatRequest) -> ChatResult:
    """Sync entry point. Called from a request thread under the ASGI server, the call runs on
    the server's event loop (the main thread's) with its pooled client; otherwise on a loop that
    async_to_sync makes for it, with a client of its own closed with it."""
    return async_to_sync(_achat_sync_entry)(endpoint, request)


async def _achat_sync_entry(endpoint: Endpoint, request: ChatRequest) -> ChatResult:
    if threading.current_thread() is threading.main_thread():
        return await achat(endpoint, request)  # a new client per call cost 1-2 ms of CPU a turn
    async with private_clients():
        return await achat(endpoint, request)
