"""ASGI entry point: the production server (gunicorn + uvicorn workers) and `make run` use it."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
application = get_asgi_application()
