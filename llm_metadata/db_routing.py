"""Which database a query goes to: the primary, except the reads that may lag a little.

With `DATABASE_REPLICA_URL` set, analytics and bulk exports read from the replica (alias
`replica`), everything else from the primary; unset, they read from the primary too. Those
reads ask for `reporting_db()` explicitly, so a page never reads a row it has just written
from a replica that has not caught up.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

REPLICA = "replica"
PRIMARY = "default"


def reporting_db() -> str:
    """The alias for analytics and bulk exports: the replica when one is configured."""
    return REPLICA if REPLICA in settings.DATABASES else PRIMARY


class PrimaryRouter:
    """Reads go to the primary unless a query names the replica (or follows a row read from
    it); every write goes to the primary; the replica is never migrated from here
    (replication brings its schema)."""

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        return None  # Django's default: the related row's database, else the primary

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool:
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY
