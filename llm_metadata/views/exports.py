"""Downloads of the record (one conversation, or all messages streamed) and JSON import."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from .. import downloads, exports, imports
from ..models import Conversation
from ..page_forms import ImportForm, MessageExportFilter
from .data_owner import data_owner

CONVERSATION_FORMATS = {"json": exports.conversation_json, "md": exports.conversation_markdown}
STREAM_FORMATS = ("csv", "jsonl")


@login_required
def conversation_export(request: HttpRequest, pk: UUID, fmt: str) -> HttpResponse:
    """One of the user's conversations as JSON, Markdown or CSV: every version (the tree), or
    with `?active=1` the active path only (the Markdown transcript always is)."""
    conversation = get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)
    active_only = request.GET.get("active") == "1"
    name = f"conversation-{conversation.pk}.{fmt}"
    if fmt == "csv":
        selected = conversation.messages.all()
        batches = exports.iter_batches(selected.filter(active=True) if active_only else selected)
        return downloads.streaming_response(request, exports.csv_chunks(batches), name)
    if fmt == "json":
        return downloads.file_response(exports.conversation_json(conversation, active_only), name)
    if fmt not in CONVERSATION_FORMATS:
        raise Http404("Unknown export format.")
    return downloads.file_response(CONVERSATION_FORMATS[fmt](conversation), name)


@login_required
def messages_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The user's messages streamed as CSV/JSONL; see `data_owner` for picking another user."""
    if fmt not in STREAM_FORMATS:
        raise Http404("Unknown export format.")
    form = MessageExportFilter(request.GET)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    data = form.cleaned_data
    selected = exports.messages_for_export(
        owner=data_owner(request, data["user"]),
        model=data["model"],
        since=data["since"],
        until=data["until"],
        active_only=data["active"],
        source=data["source"],
        api_key=data["key"],
    )
    batches = exports.iter_batches(selected)
    chunks = exports.csv_chunks(batches) if fmt == "csv" else exports.jsonl_chunks(batches)
    return downloads.streaming_response(request, chunks, f"messages.{fmt}")


@login_required
@require_POST
def conversation_import(request: HttpRequest) -> HttpResponse:
    """Import an exported JSON file (field `json_file`) into the user's own account."""
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, form.error_text())
        return redirect("llm_metadata:conversation-list")
    upload = form.cleaned_data["json_file"]
    try:
        created = imports.import_conversations(owner=request.user, raw=upload.read())
    except imports.ImportFileError as exc:
        messages.error(request, f"Could not import {upload.name}: {exc}")
        return redirect("llm_metadata:conversation-list")
    count = len(created)
    messages.success(request, f"Imported {count} conversation{'s' if count != 1 else ''}.")
    if count == 1:
        return redirect("llm_metadata:conversation-detail", pk=created[0].pk)
    return redirect("llm_metadata:conversation-list")
