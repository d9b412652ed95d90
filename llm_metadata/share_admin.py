"""Operators' view of share links: who shared what, and taking a link down (delete).

Snapshots are never edited here: a link shows what its owner published, or nothing.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from .share_models import ShareLink


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "created", "updated", "expires", "views")
    list_select_related = ("conversation__owner",)
    search_fields = ("title", "conversation__owner__username")
    list_filter = ("updated", "expires")
    fields = (
        "conversation",
        "token",
        "title",
        "owner_name",
        "system_prompt",
        "choices",
        "messages",
        "left_out",
        "created",
        "updated",
        "expires",
        "views",
    )
    readonly_fields = fields

    @admin.display(description="owner", ordering="conversation__owner__username")
    def owner(self, obj: ShareLink) -> AbstractBaseUser:
        return obj.conversation.owner

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
