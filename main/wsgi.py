"""WSGI entry point, for hosts without ASGI (streaming then falls back to whole answers)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
application = get_wsgi_application()
