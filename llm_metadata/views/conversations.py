"""History pages: a user's conversations, one conversation, renaming and deleting one."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import compare, selectors
from ..keys_models import ApiKey
from ..models import Conversation, Message, store_stale_html
from ..page_forms import HistoryFilterForm, RenameForm
from . import chat
from .redirects import next_or
from .shares import share_box

PAGE_SIZE = 50
MESSAGES_PAGE_SIZE = 50  # a long conversation renders in pages (about 0.7 ms a message)


def _get_conversation_for_user(request: HttpRequest, pk: UUID) -> Conversation:
    return get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)


@login_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    """The user's conversations under local-date headings, searchable and filterable."""
    form = HistoryFilterForm(request.GET)
    filters = form.filters()
    conversations = selectors.conversations_for(request.user, filters)
    page = Paginator(conversations, PAGE_SIZE).get_page(request.GET.get("page"))
    selectors.attach_model_names(page.object_list)
    compare.attach_comparisons(page.object_list)
    context = {
        "form": form,
        "filters": filters,
        "filtered": filters != selectors.HistoryFilters(),
        "page": page,
        "groups": selectors.group_by_day(page.object_list),
        "model_options": selectors.models_used_by(request.user),
        "source_options": Message.Source.choices,
        "key_options": ApiKey.objects.for_user(request.user).values_list("name", flat=True),
    }
    return render(request, "llm_metadata/conversation_list.html", context)


@login_required
def conversation_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    """Every message of one conversation in order, with all its metadata, a page at a time."""
    conversation = get_object_or_404(selectors.conversation_to_show(request.user), pk=pk)
    messages_in_order = selectors.conversation_messages(conversation)
    page = Paginator(messages_in_order, MESSAGES_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.thread(page.object_list, request.user, conversation)
    store_stale_html(page.object_list)
    context = {"conversation": conversation, "page": page, **share_box(request, conversation)}
    return render(request, "llm_metadata/conversation_detail.html", context)


@login_required
@require_POST
def conversation_rename(request: HttpRequest, pk: UUID) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    form = RenameForm(request.POST)
    if form.is_valid():
        conversation.title = form.cleaned_data["title"]
        conversation.save(update_fields=["title"])
        messages.success(request, "Conversation renamed.")
    else:
        messages.error(request, "A title needs 1 to 200 characters.")
    detail = reverse("llm_metadata:conversation-detail", args=[conversation.pk])
    return redirect(next_or(request, detail))


@login_required
@require_POST
def conversation_delete(request: HttpRequest, pk: UUID) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    conversation.delete()
    if request.session.get(chat.SESSION_KEY) == str(pk):  # the chat page's current one
        del request.session[chat.SESSION_KEY]
    messages.success(request, "Conversation deleted.")
    return redirect("llm_metadata:conversation-list")
