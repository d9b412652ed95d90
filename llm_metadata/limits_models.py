"""Per-user and per-group overrides of the limits (llm_metadata.limits), edited in the admin.

Each field left empty inherits: a user's own row first, then the most generous of their groups'
rows, then the setting (RATE_LIMIT_PER_MINUTE, TOKEN_BUDGET_PER_DAY, TOKEN_BUDGET_PER_MONTH).
0 means no limit.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

EMPTY_INHERITS = "empty: inherit; 0: no limit"


class Limits(models.Model):
    """The three limits; None inherits."""

    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text=f"model calls a minute ({EMPTY_INHERITS})"
    )
    token_budget_per_day = models.PositiveBigIntegerField(
        null=True, blank=True, help_text=f"tokens a day in the user's time zone ({EMPTY_INHERITS})"
    )
    token_budget_per_month = models.PositiveBigIntegerField(
        null=True, blank=True, help_text=f"tokens a month ({EMPTY_INHERITS})"
    )

    class Meta:
        abstract = True


class UserLimit(Limits):
    """One user's own limits: they win over their groups' and the settings."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="limit"
    )

    def __str__(self) -> str:
        return f"limits of {self.user}"


class GroupLimit(Limits):
    """A group's limits: a member without their own gets the most generous of their groups'."""

    group = models.OneToOneField(
        Group, on_delete=models.CASCADE, primary_key=True, related_name="limit"
    )

    def __str__(self) -> str:
        return f"limits of group {self.group}"
