"""History pages: a user's conversations, one conversation, deleting one."""

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ..models import Conversation


def _get_conversation_for_user(request: HttpRequest, pk: UUID) -> Conversation:
    return get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)


@login_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    conversations = Conversation.objects.for_user(request.user).annotate(
        message_count=Count("messages")
    )
    page = Paginator(conversations, 50).get_page(request.GET.get("page"))
    return render(request, "llm_metadata/conversation_list.html", {"page": page})


@login_required
def conversation_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    return render(
        request,
        "llm_metadata/conversation_detail.html",
        {"conversation": conversation, "messages_list": conversation.messages.all()},
    )


@login_required
@require_POST
def conversation_delete(request: HttpRequest, pk: UUID) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    conversation.delete()
    if request.session.get("conversation_id") == str(pk):
        del request.session["conversation_id"]
    messages.success(request, "Conversation deleted.")
    return redirect("llm_metadata:conversation-list")
