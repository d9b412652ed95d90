"""The share pages: share and share again, the scan's confirmation, the public page (signed
out, headers, nothing of the owner's beyond the snapshot), revoke, expiry, the account page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from llm_metadata.models import Conversation, Message
from llm_metadata.share_forms import PAGE_RENDERER, ShareForm
from llm_metadata.share_models import ShareLink
from tests.factories import make_conversation, make_turn

ANSWER = "Here:\n\n```python\nprint('hi')\n```\n\nand **bold**."


@pytest.fixture
def conversation(alice: User) -> Conversation:
    conversation = make_conversation(alice, title="Printing", system_prompt="Be terse.")
    _, answer = make_turn(conversation, question="How to print?", answer=ANSWER)
    answer.error = "endpoint http://internal-llm:8000 said no"
    answer.save()
    return conversation


def share_url(conversation: Conversation) -> str:
    return reverse("llm_metadata:conversation-share", args=[conversation.pk])


def revoke_url(conversation: Conversation) -> str:
    return reverse("llm_metadata:conversation-share-revoke", args=[conversation.pk])


def public_url(link: ShareLink) -> str:
    return reverse("llm_metadata:shared-conversation", args=[link.token])


def test_the_owner_shares_and_anyone_reads_it_signed_out(
    alice_client: Client, conversation: Conversation
) -> None:
    response = alice_client.post(share_url(conversation), {"model": "on"})
    assert response.status_code == 302
    link = ShareLink.objects.get(conversation=conversation)
    detail = alice_client.get(response["Location"]).text
    assert "Share link created." in detail and public_url(link) in detail
    page = Client().get(public_url(link))
    assert page.status_code == 200
    text = page.text
    assert "How to print?" in text and "<strong>bold</strong>" in text
    assert '<pre class="highlight">' in text or "<pre" in text
    assert "llama3" in text  # model and parameters: chosen
    assert "Be terse." not in text and "alice" not in text  # not chosen
    assert "internal-llm" not in text  # the error text is never shared
    assert "Prompt tokens" not in text


def test_the_public_page_sends_noindex_no_referrer_and_needs_no_script(
    alice_client: Client, conversation: Conversation
) -> None:
    alice_client.post(share_url(conversation), {"model": "on"})
    response = Client().get(public_url(ShareLink.objects.get()))
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"
    policy = response["Content-Security-Policy"]
    assert "script-src 'none'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    text = response.text
    assert '<meta name="robots" content="noindex, nofollow">' in text
    assert "<script" not in text and "<form" not in text and " style=" not in text
    links = set(re.findall(r'<a [^>]*href="([^"]*)"', text))
    assert links == {reverse("account_login")}


def test_the_owner_chooses_what_else_is_shown(
    alice: User, alice_client: Client, conversation: Conversation
) -> None:
    question = conversation.messages.get(role=Message.Role.USER)
    question.attachment_name = "notes.txt"
    question.save()
    choices = {name: "on" for name in ("usage", "system_prompt", "attachments", "owner_name")}
    alice_client.post(share_url(conversation), choices)
    text = Client().get(public_url(ShareLink.objects.get())).text
    assert "Be terse." in text and "notes.txt" in text and ">alice<" in text
    assert "Prompt tokens" in text and "Tokens per second" in text
    assert "llama3" not in text  # model and parameters: turned off


def test_sharing_again_updates_the_snapshot_under_the_same_link(
    alice_client: Client, conversation: Conversation
) -> None:
    alice_client.post(share_url(conversation), {"model": "on"})
    link = ShareLink.objects.get()
    make_turn(conversation, question="And in Rust?", answer="println!")
    assert "And in Rust?" not in Client().get(public_url(link)).text
    alice_client.post(share_url(conversation), {"model": "on"})
    assert ShareLink.objects.get().token == link.token
    assert "And in Rust?" in Client().get(public_url(link)).text
    detail = alice_client.get(reverse("llm_metadata:conversation-detail", args=[conversation.pk]))
    assert "Share link updated." in detail.text and "2 views" in detail.text


def test_another_user_can_neither_share_nor_revoke(
    alice_client: Client, bob_client: Client, conversation: Conversation
) -> None:
    assert bob_client.post(share_url(conversation)).status_code == 404
    assert not ShareLink.objects.exists()
    alice_client.post(share_url(conversation))
    link = ShareLink.objects.get()
    assert bob_client.post(share_url(conversation), {"usage": "on"}).status_code == 404
    assert bob_client.post(revoke_url(conversation)).status_code == 404
    assert ShareLink.objects.get().updated == link.updated


def test_revoking_ends_the_link_at_once(alice_client: Client, conversation: Conversation) -> None:
    alice_client.post(share_url(conversation))
    link = ShareLink.objects.get()
    assert Client().get(public_url(link)).status_code == 200
    response = alice_client.post(revoke_url(conversation))
    assert response.status_code == 302
    assert Client().get(public_url(link)).status_code == 404
    assert not ShareLink.objects.exists()


def test_an_expired_link_is_a_404(alice_client: Client, conversation: Conversation) -> None:
    today = timezone.localdate()
    alice_client.post(share_url(conversation), {"expires": today.isoformat()})
    link = ShareLink.objects.get()
    assert link.expires > timezone.now()
    assert Client().get(public_url(link)).status_code == 200
    ShareLink.objects.update(expires=timezone.now() - dt.timedelta(minutes=1))
    assert Client().get(public_url(link)).status_code == 404


def test_a_past_last_day_is_refused(alice_client: Client, conversation: Conversation) -> None:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    response = alice_client.post(share_url(conversation), {"expires": yesterday.isoformat()})
    assert response.status_code == 302 and not ShareLink.objects.exists()
    assert "The last day can be today" in alice_client.get(response["Location"]).text


def test_unknown_tokens_and_posts_to_the_page_are_refused(
    alice_client: Client, conversation: Conversation
) -> None:
    alice_client.post(share_url(conversation))
    link = ShareLink.objects.get()
    assert Client().get(public_url(link).replace(link.token, link.token[:-1])).status_code == 404
    assert Client().post(public_url(link)).status_code == 405


def test_secrets_are_shown_masked_and_publishing_waits_for_the_owner(
    alice: User, alice_client: Client
) -> None:
    conversation = make_conversation(alice, title="Keys")
    make_turn(conversation, question="Why does ghp_0123456789abcdefghijABCDEFGHIJ0123456789 fail?")
    make_turn(conversation, question="Unrelated", answer="Fine")
    response = alice_client.post(share_url(conversation), {"model": "on"})
    assert response.status_code == 200 and not ShareLink.objects.exists()
    text = response.text
    assert "GitHub token" in text and "ghp_01…89 (44 characters)" in text
    assert "abcdefghij" not in text
    digest = re.search(r'name="findings" value="([0-9a-f]+)"', text).group(1)
    stale = alice_client.post(
        share_url(conversation), {"model": "on", "secrets": "publish", "findings": "0" * 32}
    )
    assert stale.status_code == 200 and not ShareLink.objects.exists()  # asked again
    alice_client.post(
        share_url(conversation), {"model": "on", "secrets": "leave_out", "findings": digest}
    )
    link = ShareLink.objects.get()
    page = Client().get(public_url(link)).text
    assert "ghp_" not in page and "Unrelated" in page and "1 message left out" in page
    alice_client.post(
        share_url(conversation), {"model": "on", "secrets": "publish", "findings": digest}
    )
    assert "ghp_0123456789" in Client().get(public_url(link)).text


def test_the_account_page_lists_links_and_revokes_them(
    alice: User, alice_client: Client, bob_client: Client, django_assert_max_num_queries
) -> None:
    conversations = [make_conversation(alice, title=f"Shared {n}") for n in range(3)]
    for conversation in conversations:
        make_turn(conversation)
        alice_client.post(share_url(conversation))
    url = reverse("llm_metadata:account-shares")
    with django_assert_max_num_queries(6):
        text = alice_client.get(url).text
    assert all(f"Shared {n}" in text for n in range(3))
    assert all(public_url(link) in text for link in ShareLink.objects.all())
    assert "Shared 0" not in bob_client.get(url).text
    response = alice_client.post(revoke_url(conversations[0]), {"next": url})
    assert response["Location"] == url
    assert ShareLink.objects.count() == 2


def test_the_conversation_page_offers_the_form_with_defaults(
    alice_client: Client, conversation: Conversation, django_assert_max_num_queries
) -> None:
    url = reverse("llm_metadata:conversation-detail", args=[conversation.pk])
    text = alice_client.get(url).text
    assert 'name="model" class="form-check-input" id="id_model" checked' in text
    assert 'name="usage" class="form-check-input" id="id_usage">' in text
    assert "Revoke the link" not in text
    alice_client.post(share_url(conversation), {"usage": "on"})
    alice_client.get(url)  # the success message, shown once
    with django_assert_max_num_queries(6):  # the link comes with the conversation
        text = alice_client.get(url).text
    assert 'name="usage" class="form-check-input" id="id_usage" checked' in text
    assert f'id="share-url" href="http://testserver{public_url(ShareLink.objects.get())}"' in text
    assert "Revoke the link" in text


@pytest.mark.parametrize(
    "initial", [{}, {"model": False, "usage": True, "expires": dt.date(2027, 1, 31)}]
)
def test_the_page_renderer_prints_the_shown_fields_as_the_template_language_does(
    initial: dict,
) -> None:
    page, plain = ShareForm(initial=initial, renderer=PAGE_RENDERER), ShareForm(initial=initial)
    for shown, expected in zip(page, plain, strict=True):
        if shown.name != "secrets":  # the page leaves the scan's answer out
            assert str(shown) == str(expected)


def test_the_public_page_reads_the_snapshot_alone(
    alice: User, alice_client: Client, django_assert_max_num_queries
) -> None:
    conversation = make_conversation(alice)
    for n in range(30):
        make_turn(conversation, question=f"Question {n}", answer=f"Answer **{n}**")
    alice_client.post(share_url(conversation), {"model": "on", "usage": "on", "feedback": "on"})
    url = public_url(ShareLink.objects.get())
    with django_assert_max_num_queries(2):  # the link, its view count
        response = Client().get(url)
    assert response.text.count('class="mb-3 message-item"') == 60


def test_an_operator_takes_a_link_down_in_the_admin(
    admin_client: Client,
    alice_client: Client,
    conversation: Conversation,
    django_assert_max_num_queries,
) -> None:
    alice_client.post(share_url(conversation))
    link = ShareLink.objects.get()
    with django_assert_max_num_queries(8):
        changelist = admin_client.get(reverse("admin:llm_metadata_sharelink_changelist"))
    assert "Printing" in changelist.text and ">alice<" in changelist.text
    delete = reverse("admin:llm_metadata_sharelink_delete", args=[link.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert Client().get(public_url(link)).status_code == 404


def test_a_signed_in_visitor_sees_nothing_of_their_own_account_either(
    alice_client: Client, bob_client: Client, conversation: Conversation
) -> None:
    alice_client.post(share_url(conversation))
    text = bob_client.get(public_url(ShareLink.objects.get())).text
    assert "How to print?" in text
    assert "bob" not in text and "History" not in text and "csrfmiddlewaretoken" not in text
