"""The limits in the admin: each user's and each group's overrides (inlines), and each user's
tokens this day and month in the users list (read for the whole page at once)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from . import limits
from .limits_models import GroupLimit, UserLimit

User = get_user_model()


class UserLimitInline(admin.StackedInline):
    model = UserLimit
    can_delete = True
    verbose_name_plural = "limits (empty: the groups' or the settings'; 0: no limit)"
    readonly_fields = ("in_force",)

    @admin.display(description="in force now")
    def in_force(self, obj: UserLimit) -> str:
        return describe(limits.usage(obj.user)) if obj.pk else ""


class GroupLimitInline(admin.StackedInline):
    model = GroupLimit
    can_delete = True
    verbose_name_plural = "limits of the members (empty: the settings'; 0: no limit)"


def describe(usage: limits.Usage) -> str:
    """E.g. "30 calls a minute; tokens today 1,200 of 100,000; this month 5,000 (no budget)"."""
    rate = f"{usage.limits.rate:,} calls a minute" if usage.limits.rate else "no rate limit"
    parts = [rate]
    for label, spent, budget in (
        ("tokens today", usage.day, usage.limits.day),
        ("this month", usage.month, usage.limits.month),
    ):
        parts.append(
            f"{label} {spent:,} of {budget:,}" if budget else f"{label} {spent:,} (no budget)"
        )
    return "; ".join(parts)


class LimitsUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, UserLimitInline]

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list:
        """The add form stays Django's two-step one (name and password first); a user's limits
        are set on their change page."""
        return super().get_inlines(request, obj) if obj is not None else []

    list_display = (*UserAdmin.list_display, "tokens_today", "tokens_this_month")

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """The page's users get their use from one read of the counters."""
        changelist = super().get_changelist_instance(request)
        users = list(changelist.result_list)  # evaluated once; the template reuses these rows
        use = limits.use_of([user.pk for user in users])
        for user in users:
            user.limits_use = use[user.pk]
        return changelist

    @admin.display(description="tokens today")
    def tokens_today(self, obj: Any) -> str:
        return f"{getattr(obj, 'limits_use', (0, 0))[0]:,}"

    @admin.display(description="tokens this month")
    def tokens_this_month(self, obj: Any) -> str:
        return f"{getattr(obj, 'limits_use', (0, 0))[1]:,}"


class LimitsGroupAdmin(GroupAdmin):
    inlines = [*GroupAdmin.inlines, GroupLimitInline]


for model, model_admin in ((User, LimitsUserAdmin), (Group, LimitsGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
