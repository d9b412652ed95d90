"""`manage.py create_api_key USERNAME --name NAME [--expires YYYY-MM-DD]`: prints the key alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...api_keys import create_key


class Command(BaseCommand):
    help = "Make a personal API key for the gateway and print it (only it) on standard output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the key is for")
        parser.add_argument("--expires", type=dt.date.fromisoformat, help="YYYY-MM-DD (UTC)")

    def handle(
        self, *args: Any, username: str, name: str, expires: dt.date | None, **_: Any
    ) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        moment = dt.datetime.combine(expires, dt.time.min, tzinfo=dt.UTC) if expires else None
        _, key = create_key(owner=user, name=name[:100], expires=moment)
        self.stdout.write(key)
