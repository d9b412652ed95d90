"""ASGI entry point: the production server (gunicorn + uvicorn workers) and `make run` use it.

The application is wrapped so that a request body over the upload limit is refused with 413
before Django reads it into a temporary file (llm_metadata/body_limit.py).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
django_application = get_asgi_application()

from llm_metadata.body_limit import BodyLimitASGI  # noqa: E402 - needs the settings loaded

application = BodyLimitASGI(django_application)
