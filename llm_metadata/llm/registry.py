"""Which models are offered, and each one's profile (defaults, context length, prices)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.cache import cache

from ..models import ModelProfile
from . import demo
from .errors import LLMError
from .transport import endpoint_headers, map_exception, status_error_sync

logger = logging.getLogger(__name__)

# The original app's three models, offered when neither API_MODELS nor the endpoint name any.
FALLBACK_MODELS = ["llama3.3:70b-instruct-q8_0", "qwen3:32b-q8_0", "phi4-reasoning:14b-plus-fp16"]
LIST_CACHE_SECONDS = 300
LIST_FAILURE_CACHE_SECONDS = 30
LIST_TIMEOUT = 5.0


def is_demo() -> bool:
    """True when no endpoint is configured and the offline demo model answers."""
    return not settings.API_URL


def endpoint_models() -> list[str]:
    """The endpoint's own model list (`GET /models` or `GET /api/tags`), uncached; LLMError."""
    path = "/api/tags" if settings.API_KIND == "ollama" else "/models"
    url = settings.API_URL + path
    try:
        response = httpx.get(
            url, headers=endpoint_headers(), timeout=min(settings.API_TIMEOUT, LIST_TIMEOUT)
        )
    except httpx.HTTPError as exc:
        raise map_exception(exc) from exc
    if response.status_code >= 400:
        raise status_error_sync(response, model="")
    try:
        data = response.json()
        if settings.API_KIND == "ollama":
            return [str(item["name"]) for item in data["models"]]
        return [str(item["id"]) for item in data["data"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise LLMError(f"The endpoint's model list at {url} is not in the expected form.") from exc


def available_models() -> tuple[list[str], str]:
    """(names, source): API_MODELS, else the endpoint's list (cached), else the fallback three."""
    if is_demo():
        return [demo.NAME], "demo"
    if settings.API_MODELS:
        return list(settings.API_MODELS), "API_MODELS"
    key = (
        "llm-models:"
        + hashlib.sha256(
            f"{settings.API_KIND} {settings.API_URL} {settings.API_KEY}".encode()
        ).hexdigest()
    )
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        names = endpoint_models()
    except LLMError as exc:
        logger.warning("llm model list unavailable, offering the fallback: %s", exc.message)
        found = (list(FALLBACK_MODELS), "fallback")
        cache.set(key, found, LIST_FAILURE_CACHE_SECONDS)
        return found
    found = (names, "endpoint") if names else (list(FALLBACK_MODELS), "fallback")
    cache.set(key, found, LIST_CACHE_SECONDS)
    return found


@dataclass(frozen=True)
class OfferedModel:
    """A model offered for chat: its name, the label shown, and its profile (unsaved if none)."""

    name: str
    label: str
    profile: ModelProfile


def offered_models() -> list[OfferedModel]:
    """The models offered, with their profiles (one query), less those disabled in the admin."""
    names, source = available_models()
    profiles = {p.name: p for p in ModelProfile.objects.filter(name__in=names)}
    if source == "demo":
        profile = profiles.get(demo.NAME) or ModelProfile(name=demo.NAME)
        return [OfferedModel(demo.NAME, demo.LABEL, profile)]
    offered = []
    for name in names:
        profile = profiles.get(name)
        if profile is None:
            offered.append(OfferedModel(name, name, ModelProfile(name=name)))
        elif profile.enabled:
            offered.append(OfferedModel(name, profile.display_name or name, profile))
    return offered


def model_choices() -> list[tuple[str, str]]:
    """(name, label) of the models offered."""
    return [(model.name, model.label) for model in offered_models()]


def default_model() -> str:
    """The first model offered (API_MODELS' order, or the endpoint's)."""
    choices = model_choices()
    return choices[0][0] if choices else available_models()[0][0]


def profile_for(name: str) -> ModelProfile:
    """The saved profile of `name`, or an unsaved one with the defaults."""
    return ModelProfile.objects.filter(name=name).first() or ModelProfile(name=name)
