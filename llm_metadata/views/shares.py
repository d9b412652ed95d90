"""Share links: share or update a conversation's snapshot, revoke it, the public page, the
owner's list of links."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import share_page, sharing
from ..models import Conversation
from ..share_forms import LEAVE_OUT, PUBLISH, ShareForm
from ..share_models import ShareLink
from .redirects import next_or

PAGE_SIZE = 50


def _get_conversation_for_user(request: HttpRequest, pk: UUID) -> Conversation:
    return get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)


def share_box(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    """The conversation page's share box: its link (read with the conversation by
    `selectors.conversation_to_show`, else one query), its address, the form."""
    try:
        link = conversation.share_link
    except ShareLink.DoesNotExist:
        link = None
    url = link and request.build_absolute_uri(
        reverse("llm_metadata:shared-conversation", args=[link.token])
    )
    return {"share_link": link, "share_url": url, "share_form": ShareForm.for_link(link)}


@login_required
@require_POST
def share_create(request: HttpRequest, pk: UUID) -> HttpResponse:
    """Snapshot the conversation under its link; first show the owner what the scan found."""
    conversation = _get_conversation_for_user(request, pk)
    detail = reverse("llm_metadata:conversation-detail", args=[conversation.pk])
    form = ShareForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(detail)
    snapshot = sharing.build_snapshot(conversation, form.choices())
    findings = sharing.scan(snapshot)
    digest = sharing.findings_digest(findings)
    answer = form.cleaned_data["secrets"]
    if findings and (answer not in (PUBLISH, LEAVE_OUT) or form.cleaned_data["findings"] != digest):
        context = {"conversation": conversation, "form": form, "findings": findings}
        context |= {"digest": digest, "publish": PUBLISH, "leave_out": LEAVE_OUT}
        return render(request, "llm_metadata/share_confirm.html", context)
    if findings and answer == LEAVE_OUT:
        snapshot = sharing.without(snapshot, findings)
    had_link = ShareLink.objects.filter(conversation=conversation).exists()
    sharing.publish(
        conversation=conversation,
        snapshot=snapshot,
        choices=form.choices(),
        expires=form.expires_at(),
    )
    messages.success(request, "Share link updated." if had_link else "Share link created.")
    return redirect(detail)


@login_required
@require_POST
def share_revoke(request: HttpRequest, pk: UUID) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    if sharing.revoke(conversation):
        messages.success(request, "Share link revoked: it no longer opens.")
    else:
        messages.info(request, "This conversation had no share link.")
    detail = reverse("llm_metadata:conversation-detail", args=[conversation.pk])
    return redirect(next_or(request, detail))


@require_GET
@csp_replace({"script-src": ["'none'"], "form-action": ["'none'"]})  # no script, no form
def shared_conversation(request: HttpRequest, token: str) -> HttpResponse:
    """The snapshot, for anyone with the link: no sign-in, nothing read but the snapshot."""
    link = sharing.open_link(token)
    if link is None:
        raise Http404("No such link")
    context = {"link": link, "shared_messages": share_page.render_messages(link)}
    response = render(request, "llm_metadata/share_page.html", context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"  # a revoked link must not live on in a cache
    return response


@login_required
@require_GET
def account_shares(request: HttpRequest) -> HttpResponse:
    """The user's share links with their dates, expiry and views, each revocable."""
    links = ShareLink.objects.for_owner(request.user).defer("messages", "system_prompt")
    page = Paginator(links, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "llm_metadata/account_shares.html", {"page": page})
