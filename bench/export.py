"""Export benchmark: 200,000 messages as CSV and JSON Lines, through the export view (Django's test
client, and its ASGI handler as uvicorn calls it) and by the command.

    .venv/bin/python bench/export.py [--rows 200000] [--database-url postgres://...]

Each export runs in its own process, so the peak RSS printed belongs to that export alone;
"baseline" is the same process after start-up, before exporting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import message_data

PHASES = ("http-csv", "http-jsonl", "asgi-jsonl", "command-csv", "command-jsonl")


def _http(fmt: str) -> tuple[int, int]:
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="bench"))
    response = client.get(f"/export/messages.{fmt}")
    assert response.status_code == 200, response.status_code
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
    return lines - (fmt == "csv"), size


def _asgi(fmt: str) -> tuple[int, int]:
    from asgiref.sync import sync_to_async
    from django.contrib.auth.models import User
    from django.test import AsyncClient

    async def run() -> tuple[int, int]:
        client = AsyncClient()
        user = await sync_to_async(User.objects.get)(username="bench")
        await client.aforce_login(user)
        response = await client.get(f"/export/messages.{fmt}")
        size = lines = 0
        async for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        return lines, size

    return asyncio.run(run())


def _command(fmt: str) -> tuple[int, int]:
    from django.core.management import call_command

    with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as out:
        call_command("export_messages", "--format", fmt, "--output", out.name, stderr=sys.stderr)
        with open(out.name, "rb") as written:  # counted in blocks: the file may be large
            lines = sum(block.count(b"\n") for block in iter(lambda: written.read(1 << 20), b""))
        size = Path(out.name).stat().st_size
    return lines - (fmt == "csv"), size


def child(database_url: str, phase: str) -> None:
    message_data.configure(database_url)
    baseline = message_data.peak_rss_mb()
    kind, fmt = phase.split("-")
    started = time.perf_counter()
    rows, size = {"http": _http, "asgi": _asgi, "command": _command}[kind](fmt)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "phase": phase,
                "rows": rows,
                "mb": size / 2**20,
                "seconds": seconds,
                "baseline_mb": baseline,
                "peak_mb": message_data.peak_rss_mb(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child(args.database_url, args.phase)
        return
    with tempfile.TemporaryDirectory(prefix="llm-metadata-bench-") as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.sqlite3"
        here = str(Path(__file__).parent)
        script = (
            f"import sys; sys.path.insert(0, {here!r}); import message_data as d;"
            f"d.configure({url!r}); print(d.generate({args.rows}))"
        )
        generating = subprocess.run(
            [sys.executable, "-c", script],
            check=True,
            capture_output=True,
            text=True,
        )
        seconds = float(generating.stdout.split()[-1])
        if seconds:
            print(
                f"generate  {args.rows:>9,} rows  {seconds:7.1f} s"
                f"  {args.rows / seconds:>9,.0f} rows/s"
            )
        print(f"database  {url.split(':')[0]}")
        for phase in PHASES:
            out = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--database-url", url],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{r['phase']:<14} {r['rows']:>9,} rows  {r['mb']:6.1f} MB  {r['seconds']:6.1f} s"
                f"  {r['rows'] / r['seconds']:>8,.0f} rows/s  peak RSS {r['peak_mb']:5.0f} MB"
                f" (baseline {r['baseline_mb']:.0f} MB)"
            )


if __name__ == "__main__":
    main()
