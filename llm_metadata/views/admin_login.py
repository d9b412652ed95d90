"""The admin's login is the site's login: one form, one rate limit (allauth's)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from .redirects import next_or


def admin_login(request: HttpRequest) -> HttpResponse:
    """/admin/login/: a visitor goes to allauth's login, then back to `next` (the admin still
    lets in only active staff); a signed-in user the admin turned away is told why (sending
    them to the login page would bounce them straight back here)."""
    target = next_or(request, reverse("admin:index"), method="GET")
    if not request.user.is_authenticated:
        return redirect(f"{reverse('account_login')}?{urlencode({'next': target})}")
    if request.user.is_active and request.user.is_staff:
        return redirect(target)
    return render(request, "admin/login_denied.html", {"next": target}, status=403)
