"""Whose messages a report or export covers: one's own, unless allowed to read everyone's."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404, HttpRequest

EVERYONE = "*"
READ_ANY = "llm_metadata.view_message"


def can_read_any(request: HttpRequest) -> bool:
    """Staff holding the permission to view messages (superusers have it) may pick any user."""
    return request.user.is_staff and request.user.has_perm(READ_ANY)


def data_owner(request: HttpRequest, username: str) -> AbstractBaseUser | None:
    """The user named by `?user=` (None for '*', everyone), else the requester.

    Without the permission the name is ignored, so it tells nothing about which users exist;
    with it, an unknown name is a 404.
    """
    if not username or not can_read_any(request):
        return request.user
    if username == EVERYONE:
        return None
    try:
        return get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise Http404("No such user.") from None
