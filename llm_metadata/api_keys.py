"""Personal API keys: made, checked and revoked here; the key itself is never stored or logged.

A key is `lmd_` + `secrets.token_urlsafe(24)` (192 random bits). The database keeps its SHA-256
(a fast hash is right for random keys: there is nothing to guess) and its first characters for
display. `authenticate` turns an `Authorization` header into the key's row or a refusal whose
message never repeats what was sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .keys_models import ApiKey

PREFIX = "lmd_"
RANDOM_BYTES = 24
SHOWN_CHARS = len(PREFIX) + 6  # "lmd_" and six of the random characters
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used is written at most this often per key


@dataclass(frozen=True)
class KeyRefusal:
    """Why a bearer key was not accepted (a message fit for the caller; never the key)."""

    message: str
    code: str


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(RANDOM_BYTES)


def create_key(
    *, owner: AbstractBaseUser, name: str, expires: dt.datetime | None = None
) -> tuple[ApiKey, str]:
    """Make a key for `owner`: (its row, the key itself, to show once)."""
    key = new_key()
    row = ApiKey.objects.create(
        owner=owner, name=name, prefix=key[:SHOWN_CHARS], digest=digest(key), expires=expires
    )
    return row, key


def revoke(*, key: ApiKey) -> None:
    """Revoke a key (kept, marked revoked, so the record can still name it)."""
    if key.revoked is None:
        key.revoked = timezone.now()
        key.save(update_fields=["revoked"])


def bearer(header: str) -> str:
    """The token of an `Authorization: Bearer <token>` header ("" for any other header)."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authenticate(header: str) -> ApiKey | KeyRefusal:
    """The active key an `Authorization` header carries (owner joined), or why not."""
    token = bearer(header)
    if not token:
        return KeyRefusal(
            "No API key: send it as `Authorization: Bearer <key>` (make one at /account/keys/).",
            "missing_api_key",
        )
    found = ApiKey.objects.select_related("owner").filter(digest=digest(token)).order_by()[:1]
    row = next(iter(found), None)
    if row is None or not row.owner.is_active:
        return KeyRefusal("Incorrect API key provided.", "invalid_api_key")
    if row.revoked is not None:
        return KeyRefusal(f"The API key named {row.name!r} was revoked.", "revoked_api_key")
    now = timezone.now()
    if row.expires is not None and row.expires <= now:
        return KeyRefusal(f"The API key named {row.name!r} has expired.", "expired_api_key")
    if row.last_used is None or now - row.last_used >= TOUCH_EVERY:
        ApiKey.objects.filter(pk=row.pk).update(last_used=now)
        row.last_used = now
    return row
