"""A process of its own settings for tests/test_replica.py (DATABASE_URL, DATABASE_REPLICA_URL).

`python -m tests.workers.replica_probe seed MODEL TURNS`: user "ann" (created if missing) gets a
conversation of TURNS turns with MODEL. `python -m tests.workers.replica_probe probe`: prints as
JSON the models that the analytics page and the messages export show ann, and how many
conversations a new one brings in the primary and the replica.
"""

from __future__ import annotations

import json
import os
import sys

MODELS = ("primary-model", "replica-model")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment

    from llm_metadata.models import Conversation
    from tests.factories import make_conversation, make_turn

    if sys.argv[1] == "seed":
        model, turns = sys.argv[2], int(sys.argv[3])
        ann = User.objects.filter(username="ann").first() or User.objects.create_user("ann")
        conversation = make_conversation(ann)
        for _ in range(turns):
            make_turn(conversation, model_name=model)
        return
    setup_test_environment()
    settings = django.conf.settings
    # Pages render without a collectstatic run, as in the unit tests.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": plain}
    client = Client()
    client.force_login(User.objects.get(username="ann"))  # sessions: the primary
    page = client.get("/analytics/", {"period": "7"})
    export = client.get("/export/messages.csv")
    csv = b"".join(export.streaming_content).decode()
    databases = [
        alias for alias in ("default", "replica") if alias in django.conf.settings.DATABASES
    ]
    before = {alias: Conversation.objects.using(alias).count() for alias in databases}
    make_conversation(User.objects.get(username="ann"))
    after = {alias: Conversation.objects.using(alias).count() for alias in databases}
    print(
        json.dumps(
            {
                "analytics": sorted(row.model for row in page.context["report"].models),
                "answers": sum(row.answers for row in page.context["report"].models),
                "export_rows": csv.count("\n") - 1,
                "export_models": sorted(
                    {m for m in ("primary-model", "replica-model") if m in csv}
                ),
                "new_conversations": {a: after[a] - before[a] for a in databases},
            }
        )
    )


if __name__ == "__main__":
    main()
