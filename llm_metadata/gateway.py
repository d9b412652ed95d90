"""The recording gateway's app side: a call checked before it goes out, and recorded after.

`prepare` authenticates the bearer key, parses and checks the body, the model and the
`X-Conversation-Id`, and applies the per-user limits (`admission`); it writes nothing but a
key's last-used time. `record_call` stores the call in the key owner's data, in one
transaction: the request's messages (those a continued conversation does not already hold)
and the answer with its metadata, source "api", the key's name and the call's parameters.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from . import api_keys, catalog, limits, llm
from .keys_models import ApiKey
from .llm.relay_record import Relayed, RelayError
from .models import Conversation, Message, ModelProfile
from .services import conversation_for, title_for
from .text import without_nul

ROLES = ("system", "developer", "user", "assistant", "tool")
UNTITLED = "API call"
SAMPLING = ("temperature", "top_k", "top_p")


@dataclass
class GatewayCall:
    """A checked call: who makes it (the key), what to send, where it is recorded."""

    key: ApiKey
    body: dict[str, Any]
    stream: bool
    conversation: Conversation | None
    conversation_id: uuid.UUID
    endpoint: llm.Endpoint
    profile: ModelProfile


def error(status: int, message: str, code: str, type_: str = "invalid_request_error") -> RelayError:
    return RelayError(message, status=status, type_=type_, code=code)


def limit_error(message: str, retry_after: float) -> RelayError:
    """A per-user limit's refusal (issue 11's `Refusal.message`, `.retry_after` seconds) as the
    429 the client gets, in OpenAI's shape, with `Retry-After` in whole seconds (at least 1)."""
    return RelayError(
        message,
        status=429,
        type_="rate_limit_error",
        code="rate_limit_exceeded",
        retry_after=max(1, math.ceil(retry_after)),
    )


def admission(user: Any) -> RelayError | None:
    """The one place the per-user limits (rate and token budgets) apply to the gateway: a call
    over a limit is refused with OpenAI's 429 and `Retry-After`, before anything is written or
    sent. Calls from scripts carry no browser time zone: their day and month are UTC's."""
    refusal = limits.admit(user, calls=1)
    return None if refusal is None else limit_error(refusal.message, refusal.retry_after)


def prepare(*, authorization: str, conversation_header: str | None, raw: bytes) -> GatewayCall:
    """The call to make, or RelayError: 401 key, 400 body, 404 model or conversation, 429."""
    key = api_keys.authenticate(authorization)
    if isinstance(key, api_keys.KeyRefusal):
        raise error(401, key.message, key.code)
    body = parse_body(raw)
    model = body["model"]
    offered = next((m for m in catalog.offered_models() if m.name == model), None)
    if offered is None:
        raise error(404, f"The model `{model}` does not exist.", "model_not_found")
    conversation = None
    if conversation_header is not None:
        conversation = conversation_for(key.owner, conversation_header)
        if conversation is None:
            raise error(404, "No such conversation (X-Conversation-Id).", "conversation_not_found")
    refusal = admission(key.owner)
    if refusal is not None:
        raise refusal
    return GatewayCall(
        key=key,
        body=body,
        stream=bool(body.get("stream")),
        conversation=conversation,
        conversation_id=conversation.pk if conversation else uuid.uuid4(),
        endpoint=catalog.endpoint(),
        profile=offered.profile,
    )


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON body, checked where the gateway relies on it; RelayError 400 otherwise."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise error(400, "The request body is not valid JSON.", "invalid_json") from None
    if not isinstance(body, dict):
        raise error(400, "The request body must be a JSON object.", "invalid_request")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise error(400, "`model` is required: a model id from GET /v1/models.", "missing_model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise error(400, "`messages` must be a non-empty list.", "invalid_messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise error(
                400,
                f"messages[{index}] needs a role: one of {', '.join(ROLES)}.",
                "invalid_messages",
            )
        if not isinstance(message.get("content"), str | list | None):
            raise error(400, f"messages[{index}].content must be text.", "invalid_messages")
    if not isinstance(body.get("stream", False), bool):
        raise error(400, "`stream` must be true or false.", "invalid_request")
    return body


def stored_form(message: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
    """(role, content, extra) of one request message as a row stores it."""
    role, content = message["role"], message.get("content")
    extra = {k: v for k, v in message.items() if k not in ("role", "content")}
    if role == "developer":
        role, extra["role"] = Message.Role.SYSTEM, "developer"
    if isinstance(content, list):
        text = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if any(not isinstance(p, dict) or p.get("type") != "text" for p in content):
            extra["content"] = content
        content = text
    return role, without_nul(content or ""), without_nul(extra) or None


def _new_messages(
    conversation: Conversation | None, forms: list[tuple[str, str, Any]]
) -> list[tuple[str, str, Any]]:
    """The request's messages less those a continued conversation already holds, in order."""
    if conversation is None:
        return forms
    stored = conversation.messages.order_by("created", "id").values_list("role", "content")
    same = 0
    for (role, content), form in zip(stored, forms, strict=False):
        if (role, content) != form[:2]:
            break
        same += 1
    return forms[same:]


def _numbers(body: dict[str, Any]) -> dict[str, Any]:
    """The sampling parameters the chat's columns hold, when the call gave them as numbers."""
    out = {}
    for name in SAMPLING:
        value = body.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            out[name] = int(value) if name == "top_k" else float(value)
    tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0:
        out["max_tokens"] = tokens
    return out


def record_call(*, call: GatewayCall, result: Relayed) -> Message:
    """Store the call in the key owner's data (see the module's docstring); the answer."""
    body, now = call.body, timezone.now()
    forms = [stored_form(m) for m in body["messages"]]
    common = {
        "source": Message.Source.API,
        "model_name": body["model"],
        "api_key_name": call.key.name,
        **_numbers(body),
    }
    with transaction.atomic():
        conversation = call.conversation
        new = _new_messages(conversation, forms)
        if conversation is None:
            last_user = next((c for r, c, _ in reversed(forms) if r == "user" and c), "")
            conversation = Conversation.objects.create(
                id=call.conversation_id,
                owner=call.key.owner,
                title=title_for(last_user) or UNTITLED,
                updated=now,
            )
        rows = [
            Message(conversation=conversation, role=r, content=c, message_extra=x, **common)
            for r, c, x in new
        ]
        prompt, completion = result.prompt_tokens, result.completion_tokens
        answer = Message(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            content=without_nul(result.text),
            message_extra={"tool_calls": without_nul(result.tool_calls)}
            if result.tool_calls
            else None,
            request_params=without_nul({k: v for k, v in body.items() if k != "messages"}),
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=result.total_tokens,
            elapsed_time=result.elapsed,
            time_to_first_token=result.time_to_first_token,
            status=result.status,
            error=without_nul(result.error),
            finish_reason=without_nul(result.finish_reason or ""),
            raw_usage=without_nul(result.raw_usage),
            cost=call.profile.cost_for(prompt, completion),
            **common,
        )
        # No HTML rendered here (bulk_create leaves it stale): a page renders and keeps it when
        # first shown, off the call's path.
        Message.objects.bulk_create([*rows, answer])
        if call.conversation is not None:
            Conversation.objects.filter(pk=conversation.pk).update(updated=timezone.now())
    return answer
