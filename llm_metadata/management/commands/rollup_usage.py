"""`manage.py rollup_usage`: roll up the analytics of every complete day that needs it.

Idempotent: a day already rolled and unchanged since is left alone (`--all` rolls every day
again). Run it from a scheduler (every hour, say); the analytics page is right without it, only
slower over days not rolled up.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from llm_metadata import rollups


class Command(BaseCommand):
    help = "Roll up the analytics of each complete UTC day not rolled up or changed since."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="roll every complete day again")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        days = rollups.days_to_roll(every=options["all"])
        for day in days:
            rollups.roll_day(day)
            if options["verbosity"] > 1:
                self.stdout.write(f"rolled {day}")
        elapsed = time.perf_counter() - started
        self.stdout.write(f"{len(days)} day(s) rolled up in {elapsed:.1f} s")
