"""The JSON viewer: an uploaded file (or one of the user's conversations) as a tree and a table."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any
from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import exports, files, json_view
from ..models import Conversation

# The page carries the document for the download button, which posts it back as a text field of
# a multipart form. Django counts such a field (a file part it does not) against
# DATA_UPLOAD_MAX_MEMORY_SIZE (5 MB), at its raw size: URL-encoded, punctuation would take three
# bytes. `json_view.form_text` is never longer than the upload, so this cap keeps the post under
# that limit. It is below MAX_UPLOAD_MB also because a parsed document takes 5 to 16 times its
# size in memory. The tree and table are capped separately.
VIEWER_MAX_BYTES = 4 * 1024 * 1024


def max_bytes() -> int:
    return min(files.limit_bytes(), VIEWER_MAX_BYTES)


def download_name(name: str) -> str:
    """A safe file name for the formatted download: `<stem>-formatted.json`."""
    stem = re.sub(r"[^\w.-]+", "_", PurePath(name).stem).strip("._") or "data"
    return f"{stem[:80]}-formatted.json"


class JsonUploadForm(forms.Form):
    """Validates the upload's size and JSON; the parsed document is left in `document`."""

    json_file = forms.FileField(label="JSON file")
    document: Any = None
    raw = b""

    def clean_json_file(self) -> Any:
        upload = self.cleaned_data["json_file"]
        if upload.size > max_bytes():
            raise forms.ValidationError(
                f"The file is {upload.size / 1048576:.1f} MB; the viewer takes up to "
                f"{max_bytes() // 1048576} MB."
            )
        self.raw = upload.read()
        try:
            self.document = json_view.decode(self.raw)
        except json_view.JsonInputError as exc:
            raise forms.ValidationError(exc.message) from None
        return upload


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
    context: dict[str, Any] = {"form": form, "max_mb": max_bytes() // 1048576}
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
            text = json_view.form_text(form.raw, form.document)
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
    """The document the page posted back (one line of JSON), formatted, as a download."""
    try:
        data = json_view.decode(request.POST.get("data", "").encode())
    except json_view.JsonInputError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(json_view.pretty(data), content_type="application/json; charset=utf-8")
    name = download_name(request.POST.get("name", "data.json"))
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
