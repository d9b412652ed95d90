"""The model catalogue: the endpoint, the models offered, and each one's profile.

The app side of the LLM package: it reads settings and the database (ModelProfile: display
name, enabled, context length, defaults, prices) and hands `llm` plain values.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from . import llm
from .llm import demo
from .models import ModelProfile

logger = logging.getLogger(__name__)

# The original app's three models, offered when neither API_MODELS nor the endpoint name any.
FALLBACK_MODELS = ["llama3.3:70b-instruct-q8_0", "qwen3:32b-q8_0", "phi4-reasoning:14b-plus-fp16"]
LIST_CACHE_SECONDS = 300
LIST_FAILURE_CACHE_SECONDS = 30


def endpoint() -> llm.Endpoint:
    """The configured endpoint (API_URL, API_KIND, API_KEY, API_TIMEOUT), as a plain value."""
    return llm.Endpoint(
        url=settings.API_URL,
        kind=settings.API_KIND,
        key=settings.API_KEY,
        timeout=settings.API_TIMEOUT,
    )


def is_demo() -> bool:
    """True when no endpoint is configured and the offline demo model answers."""
    return not settings.API_URL


def available_models() -> tuple[list[str], str]:
    """(names, source): API_MODELS, else the endpoint's list (cached), else the fallback three."""
    if is_demo():
        return [demo.NAME], "demo"
    if settings.API_MODELS:
        return list(settings.API_MODELS), "API_MODELS"
    target = endpoint()
    key = (
        "llm-models:"
        + hashlib.sha256(f"{target.kind} {target.url} {target.key}".encode()).hexdigest()
    )
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        names = llm.list_models(target)
    except llm.LLMError as exc:
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


def default_model() -> str:
    """The first model offered (API_MODELS' order, or the endpoint's)."""
    offered = offered_models()
    return offered[0].name if offered else available_models()[0][0]


def profile_for(name: str) -> ModelProfile:
    """The saved profile of `name`, or an unsaved one with the defaults."""
    return ModelProfile.objects.filter(name=name).first() or ModelProfile(name=name)
