"""The model catalogue: the endpoint, the models offered, and each one's profile.

The app side of the LLM package: it reads settings and the database (ModelProfile: display
name, enabled, context length, defaults, prices) and hands `llm` plain values.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.cache import cache
from django.db import connections

from . import llm
from .llm import demo
from .models import ModelProfile

logger = logging.getLogger(__name__)

# The original app's three models, offered when neither API_MODELS nor the endpoint name any.
FALLBACK_MODELS = ["llama3.3:70b-instruct-q8_0", "qwen3:32b-q8_0", "phi4-reasoning:14b-plus-fp16"]
LIST_FRESH_SECONDS = 300  # an older list is served while a background refresh replaces it
LIST_RETRY_SECONDS = 30  # after a failed refresh, the next one waits this long
LIST_KEEP_SECONDS = 7 * 24 * 3600  # the last good list outlives any outage shorter than this
FIRST_LIST_WAIT = 2.0  # seconds a request waits for the very first list before the fallback
REFRESH_LOCK_SECONDS = 30  # a refresh that died without unlocking blocks others this long

_refreshing = threading.Lock()  # one refresh at a time in this process
_refresher: threading.Thread | None = None


def endpoint() -> llm.Endpoint:
    """The configured endpoint as a plain value: the one place the API_* settings are read."""
    return llm.Endpoint(
        url=settings.API_URL,
        kind=settings.API_KIND,
        key=settings.API_KEY,
        timeout=settings.API_TIMEOUT,
        max_duration=settings.API_MAX_DURATION,
        max_connections=settings.API_MAX_CONNECTIONS,
    )


def is_demo() -> bool:
    """True when no endpoint is configured and the offline demo model answers."""
    return not settings.API_URL


def available_models() -> tuple[list[str], str]:
    """(names, source): API_MODELS, else the endpoint's list, else the fallback three.

    The endpoint's list comes from the cache and is refreshed off the request path: a list
    older than LIST_FRESH_SECONDS is still served while a background thread fetches the next
    one, and kept when that fails. With nothing cached yet (a fresh cache), the caller fetches
    the first list itself, waiting at most FIRST_LIST_WAIT; an endpoint slower than that gets
    the fallback now and its list from a background fetch.
    """
    if is_demo():
        return [demo.NAME], "demo"
    if settings.API_MODELS:
        return list(settings.API_MODELS), "API_MODELS"
    target = endpoint()
    key = _list_key(target)
    entry = cache.get(key)
    if entry is None:
        entry = _first_list(target, key)
    elif entry["fresh_until"] <= time.time():
        _start_refresh(target, key, entry)
    return list(entry["names"]), entry["source"]


def join_refresh(timeout: float | None = None) -> None:
    """Wait for this process's model-list refresh, if one runs (for tests and commands)."""
    if _refresher is not None:
        _refresher.join(timeout)


def _list_key(target: llm.Endpoint) -> str:
    digest = hashlib.sha256(f"{target.kind} {target.url} {target.key}".encode()).hexdigest()
    return f"llm-model-list:{digest}"


def _listed(names: list[str]) -> dict:
    """The cache entry for a list the endpoint gave (the fallback when it names no model)."""
    return {
        "names": names or FALLBACK_MODELS,
        "source": "endpoint" if names else "fallback",
        "fresh_until": time.time() + LIST_FRESH_SECONDS,
    }


def _unlisted(exc: llm.LLMError, previous: dict | None) -> dict:
    """The cache entry after a failed fetch: the last good list (or the fallback), retried soon."""
    kept = previous["names"] if previous else FALLBACK_MODELS
    source = previous["source"] if previous else "fallback"
    logger.warning("llm model list unavailable, offering the %s list: %s", source, exc)
    return {"names": kept, "source": source, "fresh_until": time.time() + LIST_RETRY_SECONDS}


def _first_list(target: llm.Endpoint, key: str) -> dict:
    """The first list, fetched by the caller within FIRST_LIST_WAIT and cached by it."""
    quick = replace(target, timeout=min(target.timeout, FIRST_LIST_WAIT))
    try:
        entry = _listed(llm.list_models(quick))
    except llm.LLMError as exc:
        if exc.retryable:  # slow or unreachable: keep trying in the background, full timeout
            _start_refresh(target, key, None)
            return {"names": FALLBACK_MODELS, "source": "fallback", "fresh_until": 0.0}
        entry = _unlisted(exc, None)  # refused outright: the fallback, asked again later
    cache.set(key, entry, LIST_KEEP_SECONDS)
    return entry


def _start_refresh(target: llm.Endpoint, key: str, previous: dict | None) -> None:
    """Start fetching the list in a thread, unless a refresh already runs (here or elsewhere)."""
    global _refresher
    if not _refreshing.acquire(blocking=False):
        return
    # Processes sharing the cache (several workers, REDIS_URL) take turns too.
    if not cache.add(f"{key}:refreshing", True, REFRESH_LOCK_SECONDS):
        _refreshing.release()
        return
    _refresher = threading.Thread(
        target=_refresh, args=(target, key, previous), name="llm-model-list", daemon=True
    )
    _refresher.start()


def _refresh(target: llm.Endpoint, key: str, previous: dict | None) -> None:
    """In the refresh thread: fetch the list and cache it; whatever fails, unlock and tidy up."""
    try:
        try:
            entry = _listed(llm.list_models(target))
        except llm.LLMError as exc:
            entry = _unlisted(exc, previous)
        cache.set(key, entry, LIST_KEEP_SECONDS)
        cache.delete(f"{key}:refreshing")
    except Exception:  # a thread's failure must not leave the refresh locked in this process
        logger.exception("llm model list refresh could not be stored")
    finally:
        cache.close()  # this thread's own cache connection (Redis), not the requests'
        connections.close_all()  # and its database connection (the cache table, profiles)
        _refreshing.release()


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
