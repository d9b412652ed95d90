"""The JSON viewer: an uploaded file (or one of the user's conversations) as a tree and a table."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import exports, json_view
from ..models import Conversation
from ..page_forms import JsonUploadForm, viewer_max_bytes


def download_name(name: str) -> str:
    """A safe file name for the formatted download: `<stem>-formatted.json`."""
    stem = re.sub(r"[^\w.-]+", "_", PurePath(name).stem).strip("._") or "data"
    return f"{stem[:80]}-formatted.json"


def _render(
    request: HttpRequest,
    form: JsonUploadForm,
    data: Any = None,
    name: str = "",
    *,
    download_url: str = "",
    download_text: str = "",
) -> HttpResponse:
    """The page; with a document, its tree, table and download (a link, or the text posted back)."""
    context: dict[str, Any] = {"form": form, "max_mb": viewer_max_bytes() // 1048576}
    if name:
        context.update(
            name=name,
            view=json_view.build_view(data),
            download_url=download_url,
            download_text=download_text,
            download_name=download_name(name),
        )
    return render(request, "llm_metadata/json_viewer.html", context)


@login_required
def json_viewer(request: HttpRequest) -> HttpResponse:
    """GET: the upload form, or `?conversation=<uuid>` of one's own; POST: view the upload."""
    if request.method == "POST":
        form = JsonUploadForm(request.POST, request.FILES)
        if form.is_valid():
            name = form.cleaned_data["json_file"].name
            text = json_view.form_text(form.raw, form.document, form.compact)
            if not json_view.fits_in_page(text):
                text = ""  # the page offers the upload form's own download button instead
            return _render(request, form, form.document, name, download_text=text)
        return _render(request, form)
    form = JsonUploadForm()
    if "conversation" in request.GET:
        try:
            pk = UUID(request.GET["conversation"])
        except ValueError:
            raise Http404("No such conversation.") from None
        conversation = get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)
        data = exports.conversation_dict(conversation)
        # The app's own export is the download: a long conversation would not fit in a form.
        export = reverse("llm_metadata:conversation-export", args=[conversation.pk, "json"])
        name = f"conversation-{conversation.pk}.json"
        return _render(request, form, data, name, download_url=export)
    return _render(request, form)


@login_required
@require_POST
def json_download(request: HttpRequest) -> HttpResponse:
    """The document formatted, as a download: posted back by the page (one line of JSON in
    `data`), or uploaded straight from the form (`json_file`; an invalid one shows the page)."""
    if "json_file" in request.FILES:
        form = JsonUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return _render(request, form)
        return _download(form.document, form.cleaned_data["json_file"].name)
    try:
        data = json_view.decode(request.POST.get("data", "").encode())
    except json_view.JsonInputError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    return _download(data, request.POST.get("name", "data.json"))


def _download(data: Any, name: str) -> HttpResponse:
    response = HttpResponse(json_view.pretty(data), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{download_name(name)}"'
    return response
