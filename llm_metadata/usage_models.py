"""Roll-ups of the messages for the analytics page, one UTC day at a time (llm_metadata.rollups).

Every row is derived from the messages and feedback of one UTC day by `rollups.roll_day`; none
is ever edited by hand. `owner` NULL rows cover all owners together (the "everyone" view).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UsageQuarter(models.Model):
    """Sums over the messages of one owner, model, role and status in one quarter hour (UTC).

    Quarter hours: every local day of every time zone in use starts on one, so the per-day
    chart adds whole rows in the viewer's zone.
    """

    quarter = models.DateTimeField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )
    model_name = models.CharField(max_length=200)
    role = models.CharField(max_length=16)
    status = models.CharField(max_length=16)
    messages = models.PositiveIntegerField()
    prompt = models.BigIntegerField(help_text="prompt tokens")
    completion = models.BigIntegerField(help_text="completion tokens")
    tokens = models.BigIntegerField(help_text="total tokens (prompt + completion when unknown)")
    cost_sum = models.DecimalField(
        max_digits=20, decimal_places=8, null=True, help_text="none when no cost is known"
    )
    tps_sum = models.FloatField()
    tps_count = models.PositiveIntegerField()
    thumbs_up = models.PositiveIntegerField()
    thumbs_down = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["owner", "quarter"], name="usage_quarter_owner")]

    def __str__(self) -> str:
        return f"{self.quarter:%Y-%m-%d %H:%M} {self.model_name} {self.role} {self.status}"


class UsageBin(models.Model):
    """A latency histogram bin: how many answers of one owner, model and status on one UTC day
    had their elapsed time (metric "e") or time to first token ("t") in the bin, and the
    lowest and highest of those values."""

    day = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )
    model_name = models.CharField(max_length=200)
    status = models.CharField(max_length=16)
    metric = models.CharField(max_length=1)
    bin = models.IntegerField()
    count = models.PositiveIntegerField()
    low = models.FloatField()
    high = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["owner", "day"], name="usage_bin_owner")]

    def __str__(self) -> str:
        return f"{self.day} {self.model_name} {self.metric}{self.bin}: {self.count}"


class UsageConversation(models.Model):
    """A conversation had messages of this model and status on this UTC day, or (`every`) any
    messages that day: the distinct conversation count of a period, with or without filters."""

    day = models.DateField()
    every = models.BooleanField(default=False, help_text="any model and status")
    conversation = models.ForeignKey(
        "llm_metadata.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    model_name = models.CharField(max_length=200)
    status = models.CharField(max_length=16)

    class Meta:
        indexes = [
            models.Index(fields=["every", "day"], name="usage_conv_day"),
            models.Index(fields=["owner", "every", "day"], name="usage_conv_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.conversation_id}"


class RolledDay(models.Model):
    """A UTC day whose roll-ups exist, covering its messages created before `until` (the day's
    end, or for today a moment shortly before the roll): valid while nothing changed since
    (`changed` is set by every later write to a message or feedback of that part)."""

    day = models.DateField(primary_key=True)
    until = models.DateTimeField()
    rolled = models.DateTimeField()
    changed = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return str(self.day)
