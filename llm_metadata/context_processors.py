from django.conf import settings
from django.http import HttpRequest


def llm_endpoint(request: HttpRequest) -> dict[str, bool]:
    """`llm_demo` is true when no endpoint is configured and the offline demo model answers."""
    return {"llm_demo": not settings.API_URL}


def signup(request: HttpRequest) -> dict[str, bool]:
    """`signup_open` is false when only admins create accounts (ACCOUNT_SIGNUP=closed)."""
    return {"signup_open": settings.ACCOUNT_SIGNUP == "open"}
