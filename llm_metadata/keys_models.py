"""Personal API keys for the recording gateway (/v1/): only a hash and a display prefix stored.

The key itself (`lmd_` + 192 random bits) is shown once, when it is made (llm_metadata.api_keys).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def for_user(self, user: models.Model) -> ApiKeyQuerySet:
        """The only way views reach keys: those the user owns."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(owner=user)


class ApiKey(models.Model):
    """One personal key: its owner, a name the owner chose, and its life (expiry, revocation)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="the key's first characters")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key, hex")
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked is None and not self.is_expired
