"""Shared set-up of the export and analytics benchmarks: a separate database, filled fast.

Never touches the developer's db.sqlite3: DATABASE_URL is set to a throw-away SQLite file
(or the PostgreSQL URL given with --database-url) before Django reads its settings.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("llama3.2:3b", "qwen2.5:7b", "gpt-4o-mini")
PARAMS = {"temperature": 0.7, "top_k": 40, "top_p": 0.9, "max_tokens": 600}


def configure(database_url: str) -> None:
    """Production-like settings on the bench database, then django.setup()."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-not-for-production",  # noqa: S106 - throw-away data
        ALLOWED_HOSTS="testserver,localhost,127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    for name in ("API_URL", "API_KEY", "API_MODELS"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
    import warnings

    import django
    from django.conf import settings

    warnings.filterwarnings("ignore", "No directory at", UserWarning)

    django.setup()
    # The pages render without a collectstatic run, as in the unit tests.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(
    rows: int, *, days: int = 30, per_conversation: int = 200, spread: bool = False
) -> float:
    """Create user 'bench' (staff) and `rows` messages over `days` days; returns seconds.

    Each conversation's messages share one moment: noon, or with `spread` a time of day that
    moves by 37 minutes from one conversation to the next (so every hour sees messages)."""
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from llm_metadata.models import Conversation, Feedback, Message

    call_command("migrate", verbosity=0)
    if Message.objects.count() >= rows:
        return 0.0
    started = time.perf_counter()
    user = User.objects.create_user("bench", is_staff=True)
    rng = random.Random(7)
    today = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    made = 0
    while made < rows:
        conversation = Conversation.objects.create(owner=user, title=f"Bench {made}")
        day = today - dt.timedelta(days=(made // per_conversation) % days)
        if spread:
            day += dt.timedelta(minutes=(made // per_conversation) * 37 % 1440 - 720)
        batch = []
        for i in range(min(per_conversation, rows - made)):
            model = MODELS[(made + i) // 2 % len(MODELS)]
            if i % 2 == 0:
                batch.append(
                    Message(
                        conversation=conversation,
                        role="user",
                        model_name=model,
                        content=f"Question {made + i}: why is the sky blue?",
                        **PARAMS,
                    )
                )
                continue
            elapsed = rng.lognormvariate(0.3, 0.6)
            failed = rng.random() < 0.02
            batch.append(
                Message(
                    conversation=conversation,
                    role="assistant",
                    model_name=model,
                    content="Rayleigh scattering of sunlight by the air. " * 8,
                    temperature=0.7,
                    top_k=40,
                    top_p=0.9,
                    max_tokens=600,
                    prompt_tokens=rng.randint(20, 400),
                    completion_tokens=rng.randint(10, 600),
                    elapsed_time=elapsed,
                    time_to_first_token=elapsed * rng.uniform(0.05, 0.3),
                    status="error" if failed else "ok",
                    finish_reason="stop",
                    raw_usage={"prompt_tokens": 1, "completion_tokens": 2},
                )
            )
        created = Message.objects.bulk_create(batch, batch_size=1000)
        Message.objects.filter(conversation=conversation).update(created=day)
        Feedback.objects.bulk_create(
            Feedback(message=m, user=user, rating=rng.choice((1, -1)))
            for m in created[1::10]
            if m.role == "assistant"
        )
        made += len(batch)
    from django.db import connection

    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would give later
        cursor.execute("ANALYZE")
    return time.perf_counter() - started
