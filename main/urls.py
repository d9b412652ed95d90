from django.contrib import admin
from django.urls import include, path

from llm_metadata.views.admin_login import admin_login

urlpatterns = [
    # Before the admin's own URLs: its login form would bypass allauth's rate limit.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("llm_metadata.urls")),
]
