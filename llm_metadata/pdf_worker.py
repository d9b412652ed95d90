"""Reads a PDF's text in a process of its own (run by llm_metadata/pdf_text.py, as a script).

pypdf cannot be interrupted inside a page, and one page can hold megabytes of drawing
operators (a 15 MB content stream took 166 s and 460 MB in the server's process). Here the
process caps its own memory (RLIMIT_AS) and the parent kills it at its deadline, keeping the
pages already written. Input: the PDF on standard input; arguments: max pages, max characters,
seconds, memory bytes. Output: JSON lines, {"pages": n}, then {"text": ...} per page, or
{"error": "encrypted" | "damaged" | "memory"}. Imports nothing of Django's.
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time


def emit(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main() -> None:
    max_pages, max_chars = int(sys.argv[1]), int(sys.argv[2])
    deadline = time.monotonic() + float(sys.argv[3])
    memory = int(sys.argv[4])
    data = sys.stdin.buffer.read()
    import pypdf.filters
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    # Below the documented 75 MB (LZW: 1 GB): no page's text needs more.
    pypdf.filters.ZLIB_MAX_OUTPUT_LENGTH = 16 * 1024 * 1024
    pypdf.filters.LZW_MAX_OUTPUT_LENGTH = 16 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        reader = PdfReader(io.BytesIO(data))
        # An owner password alone (no password to open) still lets the text be read.
        if reader.is_encrypted and not reader.decrypt(""):
            emit(error="encrypted")
            return
        emit(pages=len(reader.pages))
        size = 0
        for number, page in enumerate(reader.pages):
            late = number > 0 and time.monotonic() > deadline  # the first page always
            if number == max_pages or size >= max_chars or late:
                return
            text = (page.extract_text() or "").strip()[: max_chars + 1]
            size += len(text) + (2 if number else 0)  # the parent joins pages with a blank line
            emit(text=text)
    except DependencyError:  # an encryption the installed crypto library cannot undo
        emit(error="encrypted")
    except MemoryError:
        emit(error="memory")
    except Exception:  # pypdf raises many types on damaged files
        emit(error="damaged")


if __name__ == "__main__":
    main()
