"""Who may do what: every named URL, for anonymous / owner / other user / staff without
permissions / superuser, by GET and by POST, against an explicit table of expected outcomes.

The URLs come from the resolver, so a URL added later has no entry here and the first test fails
naming it. Each request runs in a savepoint rolled back after it (a POST that deletes leaves the
world as it was); POSTs carry no data, so they show what a bare request reaches. The owner's
text must not appear in what anyone else receives, except where the table allows it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from llm_metadata.share_models import ShareLink
from tests.access_world import METHODS, PERSONAS, SECRET, World, body, named_urls, outcome

Cell = tuple[int | str, int | str]  # (GET, POST)
LOGIN: Cell = ("login", "login")
ADMIN_LOGIN: Cell = ("admin-login", "admin-login")


def row(
    *,
    anonymous: Cell,
    signed_in: Cell | None = None,
    owner: Cell | None = None,
    others: Cell | None = None,
    staff: Cell | None = None,
    superuser: Cell | None = None,
) -> dict[str, Cell]:
    """One URL's expectations; `signed_in` is every signed-in persona's unless given, and
    `others` the other user's, staff's and superuser's (the owner's objects are not theirs)."""
    other = others or signed_in
    return {
        "anonymous": anonymous,
        "owner": owner or signed_in,
        "other": other,
        "staff": staff or other,
        "superuser": superuser or other,
    }  # type: ignore[dict-item]


def everyone(cell: Cell) -> dict[str, Cell]:
    return dict.fromkeys(PERSONAS, cell)


def admin_site(*, staff: Cell, superuser: Cell | None = None) -> dict[str, Cell]:
    """An admin page: visitors and non-staff go to the admin's login (which sends them on)."""
    return row(anonymous=ADMIN_LOGIN, owner=ADMIN_LOGIN, others=ADMIN_LOGIN) | {
        "staff": staff,
        "superuser": superuser or staff,
    }


# The models registered in the admin, each with its five pages (changelist, add, history,
# delete, change): staff without permissions get 403, a superuser the page (a bare POST to add
# or change shows the form's errors; to delete, the confirmation).
ADMIN_MODELS = (
    "auth_group",
    "auth_user",
    "account_emailaddress",
    "socialaccount_socialapp",
    "socialaccount_socialtoken",
    "socialaccount_socialaccount",
    "llm_metadata_conversation",
    "llm_metadata_message",
    "llm_metadata_modelprofile",
    "llm_metadata_feedback",
    "llm_metadata_comparison",
    "llm_metadata_vote",
    "llm_metadata_sharelink",
)
ADMIN_MODEL_PAGES = ("changelist", "add", "history", "delete", "change")

EXPECTED: dict[str, dict[str, Cell]] = {
    # --- The app -------------------------------------------------------------------------
    "llm_metadata:home": row(anonymous=(200, 200), signed_in=("redirect", "redirect")),
    "llm_metadata:healthz": everyone((200, 405)),
    "llm_metadata:ask": row(anonymous=LOGIN, signed_in=(200, 400)),  # POST: "question required"
    "llm_metadata:ask-new": row(anonymous=LOGIN, signed_in=(405, "redirect")),
    "llm_metadata:ask-stream": row(anonymous=LOGIN, signed_in=(405, 400)),
    "llm_metadata:attachment-download": row(anonymous=LOGIN, owner=(200, 200), others=(404, 404)),
    "llm_metadata:conversation-list": row(anonymous=LOGIN, signed_in=(200, 200)),
    "llm_metadata:conversation-detail": row(anonymous=LOGIN, owner=(200, 200), others=(404, 404)),
    "llm_metadata:conversation-delete": row(
        anonymous=LOGIN, owner=(405, "redirect"), others=(405, 404)
    ),
    "llm_metadata:conversation-rename": row(
        anonymous=LOGIN, owner=(405, "redirect"), others=(405, 404)
    ),
    "llm_metadata:json-viewer": row(anonymous=LOGIN, signed_in=(200, 200)),
    "llm_metadata:json-viewer-download": row(anonymous=LOGIN, signed_in=(405, 400)),
    "llm_metadata:analytics": row(anonymous=LOGIN, signed_in=(200, 200)),
    "llm_metadata:message-feedback": row(
        anonymous=LOGIN, owner=(405, "redirect"), others=(405, 404)
    ),
    # Regenerate calls the (demo) model and redirects; an empty edit is a form error: redirect.
    "llm_metadata:message-regenerate": row(
        anonymous=LOGIN, owner=(405, "redirect"), others=(405, 404)
    ),
    "llm_metadata:message-edit": row(anonymous=LOGIN, owner=(405, "redirect"), others=(405, 404)),
    "llm_metadata:message-select": row(anonymous=LOGIN, owner=(405, "redirect"), others=(405, 404)),
    "llm_metadata:conversation-import": row(anonymous=LOGIN, signed_in=(405, "redirect")),
    "llm_metadata:conversation-export": row(anonymous=LOGIN, owner=(200, 200), others=(404, 404)),
    "llm_metadata:messages-export": row(anonymous=LOGIN, signed_in=(200, 200)),
    # A bare POST: "question required" (the form page, or the stream's JSON errors).
    "llm_metadata:compare": row(anonymous=LOGIN, signed_in=(200, 400)),
    "llm_metadata:compare-stream": row(anonymous=LOGIN, signed_in=(405, 400)),
    "llm_metadata:comparison-detail": row(anonymous=LOGIN, owner=(200, 400), others=(404, 404)),
    "llm_metadata:comparison-stream": row(anonymous=LOGIN, owner=(405, 400), others=(405, 404)),
    "llm_metadata:comparison-vote": row(anonymous=LOGIN, owner=(405, 400), others=(405, 404)),
    # Share links: only the owner shares or revokes; anyone with the link reads it.
    "llm_metadata:conversation-share": row(
        anonymous=LOGIN, owner=(405, "redirect"), others=(405, 404)
    ),
    "llm_metadata:conversation-share-revoke": row(
        anonymous=LOGIN, owner=(405, "redirect"), others=(405, 404)
    ),
    "llm_metadata:shared-conversation": everyone((200, 405)),
    "llm_metadata:account-shares": row(anonymous=LOGIN, signed_in=(200, 405)),
    # The gateway takes bearer keys, never sessions: everyone without a key is 401.
    "llm_metadata:gateway-models": everyone((401, 405)),
    "llm_metadata:gateway-chat-completions": everyone((405, 401)),
    "llm_metadata:api-keys": row(anonymous=LOGIN, signed_in=(200, 400)),  # POST: name required
    "llm_metadata:api-key-revoke": row(anonymous=LOGIN, owner=(405, "redirect"), others=(405, 404)),
    # --- The admin: its login is the site's (a 403 page for a signed-in non-staff user) -------
    "admin-login": row(anonymous=LOGIN, owner=(403, 403), others=(403, 403))
    | {"staff": ("redirect", "redirect"), "superuser": ("redirect", "redirect")},
    "admin:login": row(anonymous=LOGIN, owner=(403, 403), others=(403, 403))
    | {"staff": ("redirect", "redirect"), "superuser": ("redirect", "redirect")},
    "admin:logout": row(anonymous=("redirect", "redirect"), owner=("redirect", "redirect"))
    | {"other": ("redirect", "redirect"), "staff": (405, 200), "superuser": (405, 200)},
    "admin:index": admin_site(staff=(200, 200)),
    "admin:password_change": admin_site(staff=(200, 200)),
    "admin:password_change_done": admin_site(staff=(200, 405)),
    "admin:autocomplete": admin_site(staff=(403, 405)),  # no term: refused, for superusers too
    "admin:jsi18n": admin_site(staff=(200, 405)),
    "admin:view_on_site": admin_site(staff=(404, 404)),  # conversations have no public URL
    "admin:app_list": admin_site(staff=(404, 404), superuser=(200, 200)),
    "admin:auth_user_password_change": admin_site(staff=(403, 403), superuser=(200, 200)),
    **{
        f"admin:{model}_{page}": admin_site(staff=(403, 403), superuser=(200, 200))
        for model in ADMIN_MODELS
        for page in ADMIN_MODEL_PAGES
    },
    # Share links are view-and-delete in the admin: no add page, a read-only change page.
    "admin:llm_metadata_sharelink_add": admin_site(staff=(403, 403)),
    "admin:llm_metadata_sharelink_change": admin_site(staff=(403, 403), superuser=(200, 403)),
    # --- Accounts (django-allauth) ----------------------------------------------------------
    "account_login": row(anonymous=(200, 200), signed_in=("redirect", "redirect")),
    "account_logout": row(anonymous=("redirect", "redirect"), signed_in=(200, "redirect")),
    "account_inactive": everyone((200, 405)),
    "account_signup": row(anonymous=(200, 200), signed_in=("redirect", "redirect")),
    "account_reauthenticate": row(anonymous=LOGIN, signed_in=(200, 200)),
    "account_email": row(anonymous=LOGIN, signed_in=(200, "redirect")),
    "account_email_verification_sent": everyone((200, 405)),
    "account_change_password": row(anonymous=LOGIN, signed_in=(200, 200)),
    "account_set_password": row(anonymous=LOGIN, signed_in=("redirect", "redirect")),
    "account_reset_password": everyone((200, 200)),
    "account_confirm_login_code": row(anonymous=LOGIN, signed_in=("redirect", "redirect")),
    "account_confirm_email": everyone((200, 404)),  # an unknown key
    "account_reset_password_from_key_done": everyone((200, 405)),
    "account_reset_password_from_key": everyone((200, 200)),  # "bad token" page
    "account_reset_password_done": everyone((200, 405)),
    "socialaccount_login_cancelled": everyone((200, 405)),
    "socialaccount_login_error": everyone((401, 405)),
    "socialaccount_signup": everyone(LOGIN),  # no social login under way
    "socialaccount_connections": row(anonymous=LOGIN, signed_in=(200, 200)),
    # Google has no app here: its URLs are 404 (was a 500); GitHub has one in the world.
    "google_login": everyone((404, 404)),
    "google_callback": everyone((404, 404)),
    "google_login_by_token": everyone((404, 404)),
    "github_login": everyone((200, "redirect")),
    "github_callback": everyone((401, 401)),
}

# Where someone other than the owner may receive the owner's text: the superuser in the admin
# (deleting the owner's account lists the conversations that go with it).
SEES_OWNERS_DATA = {
    ("superuser", f"admin:{model}_{page}")
    for model in (
        "llm_metadata_conversation",
        "llm_metadata_message",
        "llm_metadata_feedback",
        "llm_metadata_comparison",
        "llm_metadata_vote",
        "llm_metadata_sharelink",
    )
    for page in ("changelist", "change", "delete", "history")
} | {("superuser", "admin:auth_user_delete")}
# The share link's page shows what the owner chose to publish, to anyone with the link.
SEES_OWNERS_DATA |= {
    (persona, "llm_metadata:shared-conversation") for persona in PERSONAS if persona != "owner"
}
ALL_URLS = named_urls()


def test_every_named_url_has_an_entry_and_every_entry_a_url() -> None:
    names = {named.name for named in ALL_URLS}
    missing = sorted(names - set(EXPECTED))
    assert not missing, (
        f"URLs with no entry in the access matrix (tests/test_access_matrix.py): {missing}"
    )
    stale = sorted(set(EXPECTED) - names)
    assert not stale, f"access matrix entries for URLs that no longer exist: {stale}"
    registered = {f"{m._meta.app_label}_{m._meta.model_name}" for m in admin.site._registry}
    assert registered == set(ADMIN_MODELS), "ADMIN_MODELS must list the admin's models"


@pytest.mark.django_db
@pytest.mark.parametrize("named", ALL_URLS, ids=lambda named: named.name)
def test_access(named, settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    world = World()
    url = world.url(named)
    expected = EXPECTED.get(named.name)
    assert expected is not None, f"{named.name} ({url}) has no entry in the access matrix"
    wrong = []
    for persona in PERSONAS:
        client = world.client(persona)
        for method, want in zip(METHODS, expected[persona], strict=True):
            cache.clear()  # allauth's rate limits count in the cache
            with transaction.atomic():
                response = getattr(client, method)(url)
                got = outcome(response)
                content = body(response) if response.status_code == 200 else b""
                transaction.set_rollback(True)
            if got != want:
                wrong.append(f"{persona} {method.upper()}: expected {want!r}, got {got!r}")
            leaks = persona != "owner" and (persona, named.name) not in SEES_OWNERS_DATA
            if leaks and SECRET.encode() in content:
                wrong.append(f"{persona} {method.upper()}: the owner's text is in the response")
    assert not wrong, f"{named.name} ({url}):\n" + "\n".join(wrong)


@pytest.mark.django_db
@pytest.mark.parametrize("end", ["revoked", "expired"])
def test_an_ended_share_link_is_a_404_for_everyone(end: str, settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    world = World()
    url = reverse("llm_metadata:shared-conversation", args=[world.share_link.token])
    if end == "revoked":
        world.client("owner").post(
            reverse("llm_metadata:conversation-share-revoke", args=[world.conversation.pk])
        )
    else:
        ShareLink.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))
    for persona in PERSONAS:
        response = world.client(persona).get(url)
        assert response.status_code == 404, persona
        assert SECRET.encode() not in response.content, persona
