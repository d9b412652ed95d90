"""The JSON viewer (placeholder until the pages issue lands)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def json_viewer(request: HttpRequest) -> HttpResponse:
    return render(request, "llm_metadata/placeholder.html", {"page_title": "JSON viewer"})
