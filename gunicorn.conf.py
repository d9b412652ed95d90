"""Production server settings (gunicorn with uvicorn workers; see Procfile).

Each uvicorn worker is one event loop that relays many streaming answers at once, so a
worker per core is enough; a long LLM answer never holds a worker the way a sync worker would.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
# uvicorn's worker, cancelling (and so storing as cancelled) the streams still running shortly
# before graceful_timeout ends (main/gunicorn_worker.py).
worker_class = "main.gunicorn_worker.UvicornWorker"
# Streams may legitimately run for minutes: the worker heartbeat, not the request, is timed.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "300"))
# On SIGTERM: stop accepting, let running requests finish for this long (seconds).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
accesslog = "-" if os.environ.get("ACCESS_LOG", "1") == "1" else None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker: object) -> None:
    """Move what start-up loaded (Django, the app's modules, the URLconf) out of the garbage
    collector's sight: a full collection no longer walks those ~100,000 long-lived objects, about
    2 ms a page of 50 messages (README, Performance)."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports the URLconf and every view module)
    gc.freeze()
