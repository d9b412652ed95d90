"""The chat page (placeholder until the pages issue lands)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST


@login_required
def ask(request: HttpRequest) -> HttpResponse:
    return render(request, "llm_metadata/placeholder.html", {"page_title": "Ask"})


@login_required
@require_POST
def new_conversation(request: HttpRequest) -> HttpResponse:
    request.session.pop("conversation_id", None)
    return redirect("llm_metadata:ask")
