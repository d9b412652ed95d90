"""A PDF's text, read by a worker process that cannot overrun its time or memory.

`read(data, ...)` runs llm_metadata/pdf_worker.py with the PDF on its standard input, the
address space capped at the upload's size plus `memory_bytes` (and the interpreter's base),
kills it at `seconds` and keeps the pages it wrote by then. Starting the worker costs about
0.1 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

WORKER = Path(__file__).with_name("pdf_worker.py")
BASE_MEMORY = 96 * 1024 * 1024  # the interpreter, pypdf and its crypto library
# The worker stops between pages this long before the hard deadline (a page can take a while).
MARGIN = 0.6


@dataclass
class PdfText:
    pages: list[str] = field(default_factory=list)
    total: int = 0  # pages in the document
    error: str = ""  # "encrypted", "damaged", "memory" or "time" (nothing read in time)
    timed_out: bool = False


def read(
    data: bytes, *, max_pages: int, max_chars: int, seconds: float, memory_bytes: int
) -> PdfText:
    limit = BASE_MEMORY + 2 * len(data) + memory_bytes
    command = [sys.executable, "-I", str(WORKER), str(max_pages), str(max_chars)]
    command += [str(max(seconds - MARGIN, 0.0)), str(limit)]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    result = PdfText()
    try:
        output, _ = process.communicate(data, timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        result.timed_out = True
    for line in output.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:  # a line cut short by the kill
            continue
        if "pages" in event:
            result.total = int(event["pages"])
        elif "text" in event:
            result.pages.append(str(event["text"]))
        elif "error" in event:
            result.error = str(event["error"])
    if not result.error and not result.total:
        # Killed before it could say anything, or died (a crash in a C library): no text.
        result.error = "time" if result.timed_out else "damaged"
    return result
