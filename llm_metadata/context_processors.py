from django.conf import settings
from django.http import HttpRequest


def llm_endpoint(request: HttpRequest) -> dict[str, bool]:
    """`llm_demo` is true when no endpoint is configured and the offline demo model answers."""
    return {"llm_demo": not settings.API_URL}
