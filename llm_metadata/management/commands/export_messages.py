"""`manage.py export_messages`: all messages (or a filtered part) as CSV or JSON Lines."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from llm_metadata import exports

TEXT = {"encoding": "utf-8", "newline": ""}


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since must be a date like 2026-01-31, got {value!r}") from None


class Command(BaseCommand):
    help = "Export messages with their metadata as CSV or JSON Lines (streamed, flat memory)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
        parser.add_argument("--since", type=str, help="first day (UTC), e.g. 2026-01-31")
        parser.add_argument("--user", help="only this user's messages (username)")
        parser.add_argument("--model", default="", help="only this model's messages")
        parser.add_argument("--output", help="file to write (default: standard output)")
        parser.add_argument("--batch-size", type=int, default=exports.BATCH_SIZE)
        parser.add_argument(
            "--active-only",
            action="store_true",
            help="only the messages on their conversation's active path (no other versions)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = None
        if options["user"]:
            owner = get_user_model().objects.filter(username=options["user"]).first()
            if owner is None:
                raise CommandError(f"No user named {options['user']!r}.")
        since = None
        if options["since"]:
            since = dt.datetime.combine(_date(options["since"]), dt.time.min, dt.UTC)
        selected = exports.messages_for_export(
            owner=owner, model=options["model"], since=since, active_only=options["active_only"]
        )
        progress = tqdm(
            total=selected.count() if sys.stderr.isatty() else None,
            unit=" rows",
            disable=not sys.stderr.isatty(),
            file=sys.stderr,
        )
        batches = exports.iter_batches(selected, options["batch_size"])
        self.written = 0
        counted = self._count(batches, progress)
        if options["format"] == "jsonl":
            self._write(exports.jsonl_chunks(counted), options["output"], binary=True)
        else:
            self._write(exports.csv_chunks(counted), options["output"], binary=False)
        progress.close()
        if options["output"]:
            self.stderr.write(f"Wrote {self.written} messages to {options['output']}.")

    def _write(
        self, chunks: Iterator[str] | Iterator[bytes], path: str | None, binary: bool
    ) -> None:
        if not path:
            self.stdout.ending = ""
            for chunk in chunks:
                self.stdout.write(chunk.decode() if isinstance(chunk, bytes) else chunk)
            return
        with open(path, "wb" if binary else "w", **({} if binary else TEXT)) as out:  # type: ignore[call-overload]
            for chunk in chunks:
                out.write(chunk)

    def _count(self, batches: Iterator[list[tuple]], progress: tqdm) -> Iterator[list[tuple]]:
        for batch in batches:
            self.written += len(batch)
            progress.update(len(batch))
            yield batch
