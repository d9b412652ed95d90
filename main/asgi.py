"""ASGI entry point: the production server (gunicorn + uvicorn workers) and `make run` use it.

The application is wrapped so that a request body over the upload limit is refused with 413
before Django reads it into a temporary file (llm_metadata/body_limit.py), and /v1/ goes to a
handler without the site's middleware chain (llm_metadata/gateway_asgi.py).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
django_application = get_asgi_application()

from llm_metadata.body_limit import BodyLimitASGI  # noqa: E402 - needs the settings loaded
from llm_metadata.gateway_asgi import GatewayRouter  # noqa: E402 - likewise

# /v1/ (the recording gateway) skips the site's synchronous middleware chain.
application = BodyLimitASGI(GatewayRouter(django_application))
