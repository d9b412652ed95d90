"""Share links: a read-only snapshot of a conversation at /s/<token>/ (llm_metadata.sharing).

The snapshot is a copy made when the owner shares (the allow-listed fields of record.FIELDS
under the owner's choices): the public page shows this row alone, never the conversation,
its messages or its owner (whose account it only checks is active).

The token is stored as it is: it is a link the owner hands out and must be able to see again
on the account page, and whoever can read this table can read the snapshot beside it anyway
(unlike a personal API key, the link grants nothing but this page).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ShareLinkQuerySet(models.QuerySet["ShareLink"]):
    def live(self) -> ShareLinkQuerySet:
        """Links that still open: no expiry or one still ahead, and the owner's account active
        (an operator who deactivates an account stops its links too)."""
        now = timezone.now()
        unexpired = models.Q(expires__isnull=True) | models.Q(expires__gt=now)
        return self.filter(unexpired, conversation__owner__is_active=True)

    def for_owner(self, user: models.Model) -> ShareLinkQuerySet:
        """The links of the user's own conversations (none for a visitor)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(conversation__owner=user)


class ShareLink(models.Model):
    """One conversation's public snapshot; revoking deletes the row, so the token dies with it."""

    conversation = models.OneToOneField(
        "llm_metadata.Conversation", on_delete=models.CASCADE, related_name="share_link"
    )
    token = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=200, blank=True)
    system_prompt = models.TextField(blank=True, help_text="empty unless the owner shows it")
    owner_name = models.CharField(max_length=150, blank=True, help_text="empty unless shown")
    choices = models.JSONField(default=dict, help_text="what the owner chose to show")
    messages = models.JSONField(default=list, help_text="the copied, allow-listed messages")
    left_out = models.PositiveIntegerField(default=0, help_text="messages left out for secrets")
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)
    views = models.PositiveIntegerField(default=0)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-updated"]

    def __str__(self) -> str:
        return self.title or self.token[:8]

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()
