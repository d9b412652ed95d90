"""Comparisons: one question put to two to four models, each in a conversation of its own, and
the owner's votes on two-model comparisons (llm_metadata.compare, llm_metadata.ranking).

Every answer of a comparison is an ordinary message (source "compare") of its column's
conversation, so history, search, exports and analytics include it; a column's conversation
replays only that column's own earlier turns, so each model sees only its own answers.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from .models import Conversation


class ComparisonQuerySet(models.QuerySet["Comparison"]):
    def for_user(self, user: models.Model) -> ComparisonQuerySet:
        """The only way views reach comparisons: those the user owns."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(owner=user)


class Comparison(models.Model):
    """One question to several models with the same parameters; blind hides the names until
    the first vote, and its columns' order was shuffled when it was made."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comparisons"
    )
    question = models.TextField(help_text="the first question")
    temperature = models.FloatField()
    top_k = models.PositiveIntegerField()
    top_p = models.FloatField()
    max_tokens = models.PositiveIntegerField()
    blind = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    objects = ComparisonQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["owner", "-created"], name="comparison_owner_created")]

    def __str__(self) -> str:
        return self.question[:80]


class ComparisonColumn(models.Model):
    """One model's side: shown at `position` (0 is the left, answer "a"), with its own thread."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="columns")
    position = models.PositiveSmallIntegerField()
    model_name = models.CharField(max_length=200)
    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="comparison_column"
    )

    class Meta:
        ordering = ["comparison", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["comparison", "position"], name="comparison_column_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_name} at {self.position}"

    @property
    def letter(self) -> str:
        """The column's name in votes and blind pages: A, B, C, D from the left."""
        return "ABCD"[self.position]


class Vote(models.Model):
    """A vote on a two-model comparison; it may be changed by voting again: the latest counts."""

    class Choice(models.TextChoices):
        A = "a", "A is better"
        B = "b", "B is better"
        TIE = "tie", "tie"
        BOTH_BAD = "both_bad", "both are bad"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="votes")
    choice = models.CharField(max_length=16, choices=Choice.choices)
    blind = models.BooleanField(help_text="cast on a blind comparison")
    flagged = models.BooleanField(
        default=False, help_text="a blind vote whose answers name a model or vendor"
    )
    flag_reason = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["comparison", "-created", "-id"]
        indexes = [models.Index(fields=["comparison", "-created"], name="vote_comparison_created")]

    def __str__(self) -> str:
        return f"{self.choice} on {self.comparison_id}"
