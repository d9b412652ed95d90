"""/account/keys/: the owner's personal API keys for the gateway: list, create, revoke.

A new key is shown once, in the answer to the POST that made it (never stored, never put in a
session or a URL); that page is not cached.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .. import api_keys as keys
from ..api_key_forms import ApiKeyForm
from ..keys_models import ApiKey


@never_cache
@login_required
def api_keys(request: HttpRequest) -> HttpResponse:
    """GET: the user's keys and the form. POST: make a key and show it, once."""
    form = ApiKeyForm(request.POST or None)
    new_key, status = "", 200
    if request.method == "POST":
        if form.is_valid():
            _, new_key = keys.create_key(
                owner=request.user,
                name=form.cleaned_data["name"],
                expires=form.cleaned_data["expires"],
            )
            form = ApiKeyForm()
        else:
            status = 400
    context = {
        "form": form,
        "new_key": new_key,
        "keys": ApiKey.objects.for_user(request.user),
        "base_url": request.build_absolute_uri("/v1"),
    }
    return render(request, "llm_metadata/api_keys.html", context, status=status)


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's keys."""
    keys.revoke(key=get_object_or_404(ApiKey.objects.for_user(request.user), pk=pk))
    return redirect("llm_metadata:api-keys")
