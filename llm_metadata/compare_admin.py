"""Operators' view of comparisons (with their columns and votes) and of the votes."""

from __future__ import annotations

from django.contrib import admin

from .compare_models import Comparison, ComparisonColumn, Vote


class ColumnInline(admin.TabularInline):
    model = ComparisonColumn
    extra = 0
    can_delete = False
    fields = ("position", "model_name", "conversation")
    readonly_fields = fields
    show_change_link = False


class VoteInline(admin.TabularInline):
    model = Vote
    extra = 0
    fields = ("created", "choice", "blind", "flagged", "flag_reason")
    readonly_fields = fields


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ("question", "owner", "blind", "created")
    list_filter = ("blind", "created")
    list_select_related = ("owner",)
    search_fields = ("question", "owner__username")
    raw_id_fields = ("owner",)
    inlines = (ColumnInline, VoteInline)
    date_hierarchy = "created"


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("comparison", "choice", "blind", "flagged", "created")
    list_filter = ("choice", "flagged", "blind")
    list_select_related = ("comparison",)
    raw_id_fields = ("comparison",)
    readonly_fields = ("created",)
