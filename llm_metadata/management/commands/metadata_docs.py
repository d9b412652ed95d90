"""`manage.py metadata_docs [--check]`: the field table of docs/metadata.md, from the record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from llm_metadata import record


class Command(BaseCommand):
    help = "Write the record's field table into docs/metadata.md (or --check that it is current)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="fail if the file is stale")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.BASE_DIR) / "docs" / "metadata.md"
        text = path.read_text(encoding="utf-8")
        updated = record.docs_with_table(text)
        if options["check"]:
            if updated != text:
                raise CommandError(f"{path} is stale: run `manage.py metadata_docs`.")
            self.stdout.write(f"{path} is current.")
            return
        path.write_text(updated, encoding="utf-8")
        self.stdout.write(f"Wrote the field table of {path}.")
