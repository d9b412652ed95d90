"""The endpoint's own model list: `GET {url}/models` (OpenAI) or `GET {url}/api/tags` (Ollama)."""

from __future__ import annotations

import httpx

from .endpoint import Endpoint
from .errors import LLMError
from .transport import endpoint_headers, error_for_status, map_exception, ssl_context

LIST_TIMEOUT = 5.0  # seconds; a list is small, and a slow one should not hold its caller long


def list_models(endpoint: Endpoint) -> list[str]:
    """The model names the endpoint lists, in its order (a blocking call); LLMError on failure."""
    try:
        return _list_models(endpoint)
    except LLMError as exc:  # its message may name what the endpoint said: no credentials
        raise LLMError(endpoint.redact(exc.message), retryable=exc.retryable) from exc


def _list_models(endpoint: Endpoint) -> list[str]:
    path = "/api/tags" if endpoint.kind == "ollama" else "/models"
    try:
        with httpx.Client(
            base_url=endpoint.base_url,
            auth=endpoint.auth,
            params=endpoint.params,
            headers=endpoint_headers(endpoint),
            timeout=min(endpoint.timeout, LIST_TIMEOUT),
            verify=ssl_context(),
        ) as client:
            response = client.get(path)
    except httpx.HTTPError as exc:
        raise map_exception(endpoint, exc) from exc
    if response.status_code >= 400:
        raise error_for_status(endpoint, response.status_code, response.content, response.request)
    try:
        data = response.json()
        if endpoint.kind == "ollama":
            return [str(item["name"]) for item in data["models"]]
        return [str(item["id"]) for item in data["data"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise LLMError(
            f"The endpoint's model list at {path} is not in the expected form; "
            "check API_URL and API_KIND."
        ) from exc
