"""Hostile inputs against every parser: time, peak memory and output, next to the goals.

    .venv/bin/python bench/parsers.py [--quick] [--only docx-bomb,json-new-keys,...]

Each case runs in a child process of its own (the app's settings, DEBUG off): the input is
written to a file first, the child loads it as Django would hand it to the app (in memory up
to 5 MB, else a temporary file), warms the code on a small input, resets the kernel's peak-RSS
mark (/proc/self/clear_refs) and then times the call. "Extra MB" is the peak RSS during the call
above the RSS before it, plus, for a PDF, the worker process's peak RSS above its interpreter's
("worker MB" is that peak whole). JSON viewer cases go through the view itself (POST
/json-viewer/ with a signed-in user), so the page size is what a browser would receive.

Goals (issue 11): a JSON viewer page <= 2 MB and <= 1 s for any upload within its 4 MB cap;
a file's text read in <= 2 s and <= 100 MB of extra memory, cut or refused with a clear message.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

PAGE_GOAL_MB, PAGE_GOAL_S = 2.0, 1.0
FILE_GOAL_S, FILE_GOAL_MB = 2.0, 100.0
WORKER_BASE_MB = 35.0  # RSS of the PDF worker's interpreter with pypdf imported, before reading
W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


# --- Inputs ---------------------------------------------------------------------------------


def _zip(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _docx(body: str) -> bytes:
    xml = f'<?xml version="1.0"?><w:document {W_NS}><w:body>{body}</w:body></w:document>'
    return _zip({"word/document.xml": xml})


def docx_bomb() -> bytes:
    """The issue's case: about 0.18 MB that inflates to 42 MB of XML (23.6 M characters)."""
    run = "<w:r><w:t>All work and no play makes Jack a dull boy. </w:t></w:r>"
    return _docx("<w:p>" + run * 650_000 + "</w:p>")


def docx_flood() -> bytes:
    """Tens of megabytes of empty elements: nothing to keep, everything to parse."""
    return _docx("<w:p>" + "<w:r/>" * 8_000_000 + "</w:p>")


def docx_many_parts() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", f"<w:document {W_NS}/>")
        for index in range(200_000):
            archive.writestr(f"p/{index}", b"")
    return buffer.getvalue()


def docx_long_text(megabytes: int) -> bytes:
    """A document of ordinary paragraphs, hard to compress, near the upload limit."""
    words = [os.urandom(6).hex() for _ in range(4000)]
    paragraphs, size, index = [], 0, 0
    while size < megabytes * 1024 * 1024:
        text = " ".join(words[(index + k) % len(words)] for k in range(40))
        paragraphs.append(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>")
        size += len(text) // 2
        index += 7
    return _docx("".join(paragraphs))


def text_file(megabytes: int) -> bytes:
    line = "Ünïcödé text, a line of a large upload that the app will cut.\n".encode()
    return line * (megabytes * 1024 * 1024 // len(line))


def json_file(megabytes: int) -> bytes:
    return json.dumps([{"id": i, "text": "x" * 40} for i in range(megabytes * 16_000)]).encode()


def _pdf(pages: int, content: bytes, compress: bool) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import (
        ContentStream,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
    )

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(content)
    page.replace_contents(ContentStream(stream, writer))
    if compress:
        page.compress_content_streams()
    for _ in range(pages - 1):
        writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_many_pages() -> bytes:
    return _pdf(5000, b"BT /F1 12 Tf 72 712 Td (A page of a very long report.) Tj ET", False)


def pdf_heavy_page() -> bytes:
    """One page whose content stream inflates to 15 MB of text operators."""
    ops = b"BT /F1 9 Tf 72 712 Td (word word word word) Tj ET\n"
    return _pdf(1, ops * (15 * 1024 * 1024 // len(ops)), True)


def pdf_encrypted() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf(3, b"BT ET", False))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")  # noqa: S106
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def json_new_keys(rows: int) -> bytes:
    """The issue's viewer case: every row brings a new key (13 KB gave a 30 MB page)."""
    return json.dumps([{f"k{i}": i} for i in range(rows)], separators=(",", ":")).encode()


def json_wide(megabytes: float) -> bytes:
    row = {f"column_{j}": j for j in range(200)}
    count = int(megabytes * 1024 * 1024 / (len(json.dumps(row)) + 12))
    return json.dumps([dict(row, id=i) for i in range(count)]).encode()


def json_long_keys() -> bytes:
    return json.dumps([{("k" * 4000) + str(i): '"<&>' * 500} for i in range(450)]).encode()


def json_numbers() -> bytes:
    return ("[" + ",".join(["0"] * 1_900_000) + "]").encode()


def json_one_string() -> bytes:
    return json.dumps({"text": '"<>&' * 780_000}).encode()


# (name, kind, input maker, quick) — kind "file:<name>" or "viewer"
CASES: list[tuple[str, str, Callable[[], bytes], bool]] = [
    ("docx-bomb (issue: 0.18 MB -> 42 MB XML)", "file:bomb.docx", docx_bomb, True),
    ("docx-flood of empty elements", "file:flood.docx", docx_flood, True),
    ("docx with 200,000 zip entries", "file:parts.docx", docx_many_parts, False),
    ("docx, 29 MB of ordinary text", "file:long.docx", lambda: docx_long_text(29), False),
    ("txt, 29 MB", "file:big.txt", lambda: text_file(29), True),
    ("json attachment, 29 MB", "file:big.json", lambda: json_file(29), False),
    ("pdf, 5,000 pages", "file:pages.pdf", pdf_many_pages, True),
    ("pdf, one page of 15 MB content", "file:heavy.pdf", pdf_heavy_page, False),
    ("pdf, password-protected", "file:locked.pdf", pdf_encrypted, True),
    ("viewer: 1,000 rows, a new key each (issue)", "viewer", lambda: json_new_keys(1000), True),
    ("viewer: 4,000 rows, a new key each", "viewer", lambda: json_new_keys(4000), True),
    ("viewer: 3.9 MB, 200 columns", "viewer", lambda: json_wide(3.9), True),
    ("viewer: long keys and escapes", "viewer", json_long_keys, False),
    ("viewer: 1.9 M numbers", "viewer", json_numbers, False),
    ("viewer: one 3.6 MB string of escapes", "viewer", json_one_string, False),
]


# --- The child: one call, measured ----------------------------------------------------------

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
import django
django.setup()
from django.conf import settings
# The page's static URLs without collectstatic's manifest (the tests do the same).
settings.STORAGES = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from llm_metadata import files

kind, path = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

def upload(name, data):
    if len(data) <= 5 * 1024 * 1024:
        return SimpleUploadedFile(name, data)
    spooled = TemporaryUploadedFile(name, "application/octet-stream", len(data), None)
    spooled.write(data)
    spooled.seek(0)
    return spooled

if kind == "viewer":
    from django.contrib.auth.models import User
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.test import RequestFactory
    from llm_metadata.views.json_viewer import json_viewer

    def call(data):
        form = {"json_file": SimpleUploadedFile("x.json", data)}
        request = RequestFactory().post("/json-viewer/", form)
        request.user = User(username="bench")
        request._messages = CookieStorage(request)
        response = json_viewer(request)
        errors = "form error" if b"invalid-feedback" in response.content else "page"
        return f"{errors}, {len(response.content) / 1048576:.2f} MB page", len(response.content)
    call(b'[{"a": 1}]')
else:
    name = kind.split(":", 1)[1]
    def call(data):
        try:
            text = files.extract_text(upload(name, data))
        except files.FileRejected as exc:
            return "refused: " + exc.message, 0
        note = "cut" if files.was_cut(text) else "whole"
        return f"{note}, {len(text):,} chars", len(text)
    call(b"warm up")
    if name.endswith(".docx"):
        from llm_metadata import docx_text  # noqa: F401

prepared = upload("x", raw) if kind != "viewer" else None
base = rss_mb()
try:
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak-RSS mark
    exact = True
except OSError:
    exact = False
started = time.perf_counter()
result, size = call(raw)
seconds = time.perf_counter() - started
worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"result": result, "seconds": seconds, "extra_mb": peak_mb() - base,
                  "worker_mb": worker_mb, "output": size, "exact_peak": exact}))
"""


def measure(kind: str, data: bytes) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".bin") as handle:
        handle.write(data)
        handle.flush()
        env = {**os.environ, "SECRET_KEY": "bench-parsers", "DEBUG": "0"}
        env.pop("DATABASE_URL", None)
        done = subprocess.run(
            [common.PY, "-c", CHILD, kind, handle.name],
            cwd=common.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if done.returncode:
        return {"result": f"child failed: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False, only: str = "") -> dict[str, Any]:
    """All cases (`quick`: the small ones); prints the table, saves bench/results/parsers.json."""
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    rows, cases = [], []
    for name, kind, make, in_quick in CASES:
        if (quick and not in_quick) or (wanted and not any(w in name for w in wanted)):
            continue
        data = make()
        figures = measure(kind, data)
        viewer = kind == "viewer"
        seconds, worker = figures.get("seconds"), figures.get("worker_mb", 0.0)
        # A PDF is read in a worker process: its memory above the interpreter's counts too.
        extra = figures.get("extra_mb")
        if extra is not None:
            extra += max(worker - WORKER_BASE_MB, 0.0)
        goal = (
            f"<= {PAGE_GOAL_S:g} s, page <= {PAGE_GOAL_MB:g} MB"
            if viewer
            else (f"<= {FILE_GOAL_S:g} s, <= {FILE_GOAL_MB:g} MB")
        )
        met = seconds is not None and (
            (seconds <= PAGE_GOAL_S and figures["output"] <= PAGE_GOAL_MB * 2**20)
            if viewer
            else (seconds <= FILE_GOAL_S and extra <= FILE_GOAL_MB)
        )
        cases.append({"case": name, "input_bytes": len(data), **figures, "goal_met": met})
        rows.append(
            [
                name,
                round(len(data) / 2**20, 2),
                figures["result"][:70],
                None if seconds is None else round(seconds, 2),
                None if extra is None else round(extra, 1),
                round(worker, 1) if worker else None,
                goal,
                "yes" if met else "NO",
            ]
        )
        print(f"  {name}: done", flush=True)
    print(
        common.table(
            "Parsers against hostile inputs (each in a fresh process; extra MB = peak RSS above "
            f"the RSS before the call, plus a PDF worker's peak RSS above {WORKER_BASE_MB:g} MB)",
            ["case", "input MB", "result", "s", "extra MB", "worker MB", "goal", "met"],
            rows,
        )
    )
    common.save("parsers", {"cases": cases, "load_average": os.getloadavg()})
    print(f"load average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return {"cases": cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the cases marked quick only")
    parser.add_argument("--only", default="", help="comma list of case-name fragments")
    args = parser.parse_args()
    run(quick=args.quick, only=args.only)


if __name__ == "__main__":
    main()
