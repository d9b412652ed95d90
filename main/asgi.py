"""ASGI entry point: the production server (gunicorn + uvicorn workers) and `make run` use it.

The application is wrapped so that a request body over the upload limit is refused with 413
before Django reads it into a temporary file (llm_metadata/body_limit.py), /v1/ goes to a
handler without the site's middleware chain (llm_metadata/gateway_asgi.py), and a burst of
stream starts can be made to queue on the event loop, a few at a time
(llm_metadata/start_gate.py). Django's handler reuses its request threads
(llm_metadata/request_threads.py).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")

# Django's ASGI handler, with request threads reused (llm_metadata/request_threads.py).
from llm_metadata.request_threads import get_asgi_application

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402 - after the settings are loaded

from llm_metadata.body_limit import BodyLimitASGI  # noqa: E402 - needs the settings loaded
from llm_metadata.gateway_asgi import GatewayRouter  # noqa: E402 - likewise
from llm_metadata.start_gate import StartGate  # noqa: E402 - likewise

# /v1/ (the recording gateway) skips the site's synchronous middleware chain.
application = BodyLimitASGI(
    StartGate(GatewayRouter(django_application), settings.STREAM_STARTS_AT_ONCE)
)
