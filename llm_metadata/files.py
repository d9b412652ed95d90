"""The text of an uploaded file: UTF-8 text formats, .docx and .pdf, checked by content and name.

`extract_text(upload)` returns the text or raises FileRejected with a message fit for the form.
Every reader is bounded in time, memory and output (bench/parsers.py measures the hostile
cases): text past MAX_FILE_TEXT_CHARS, PDF pages past MAX_PDF_PAGES and reading past
READ_SECONDS (PDF_SECONDS, in a worker process) are left out, and the text then ends with a
note that says so (`was_cut`).
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from . import docx_text, pdf_text
from .text import without_nul

TEXT_SUFFIXES = (".txt", ".md", ".csv", ".json")
SUFFIXES = (*TEXT_SUFFIXES, ".docx", ".pdf")
ACCEPT = ",".join(SUFFIXES)
LABEL = " ".join(SUFFIXES)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office (.doc, .xls) compound file
ZIP_MAGIC = b"PK\x03\x04"
PDF_MAGIC = b"%PDF-"
CHUNK = 1024 * 1024
MAX_PDF_PAGES = 500
READ_SECONDS = 1.5  # a .docx still being read after this keeps what was read
# A PDF is read by a worker process (llm_metadata/pdf_text.py) killed after this long, and
# allowed this much memory beyond the interpreter and the file itself.
PDF_SECONDS = 1.8
PDF_MEMORY_BYTES = 100 * 1024 * 1024
# XML of a .docx read at most, per character of text kept: Word writes 5 to 30 bytes of XML a
# character, and a flood of empty elements costs about 1 µs each to skip.
DOCX_XML_BYTES_PER_CHAR = 12
DOCX_MIN_XML_BYTES = 4 * 1024 * 1024
CUT_MARK = "\n\n[Cut here: "


@dataclass(frozen=True)
class Attachment:
    """An uploaded file that passed the checks, with its text."""

    upload: UploadedFile
    name: str
    text: str


class FileRejected(Exception):
    """An upload that cannot be used; `message` says why and what to do instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def limit_bytes() -> int:
    return settings.MAX_UPLOAD_MB * 1024 * 1024


def limit_chars() -> int:
    return settings.MAX_FILE_TEXT_CHARS


def was_cut(text: str) -> bool:
    """Whether an extracted text ends with the note that the file was cut."""
    return CUT_MARK in text[-400:]


def _cut(text: str, name: str, reason: str) -> str:
    """The text kept, then a note the model and the reader both see."""
    return f"{text.rstrip()}{CUT_MARK}{name} is longer; {reason}.]"


def _chars_reason() -> str:
    return f"only its first {limit_chars():,} characters of text are used (MAX_FILE_TEXT_CHARS)"


def extract_text(upload: UploadedFile) -> str:
    """The file's text; FileRejected for a wrong, oversize, empty or unreadable file."""
    name = PurePath(upload.name or "file").name
    suffix = PurePath(name.lower()).suffix
    if upload.size is not None and upload.size > limit_bytes():
        size = upload.size / (1024 * 1024)
        raise FileRejected(
            f"{name} is {size:.1f} MB; files can be at most {settings.MAX_UPLOAD_MB} MB."
        )
    upload.seek(0)
    head = upload.read(len(OLE_MAGIC))
    upload.seek(0)
    if suffix == ".doc" or head.startswith(OLE_MAGIC):
        raise FileRejected(
            f"{name} is a legacy Word (.doc) file, which cannot be read. "
            "Save it as .docx or PDF, or as plain text, and upload that."
        )
    if suffix not in SUFFIXES:
        raise FileRejected(
            f"{name}: this type of file is not supported. Upload one of: {', '.join(SUFFIXES)}."
        )
    if not head:
        raise FileRejected(f"{name} is empty.")
    try:
        if suffix == ".pdf":
            text = _pdf_text(name, upload)
        elif suffix == ".docx":
            text = _docx_text(name, upload)
        else:
            text = _plain_text(name, suffix, upload)
    finally:
        upload.seek(0)
    # A PDF's text layer can hold NUL (a glyph without a Unicode mapping): nothing a reader
    # sees, and PostgreSQL cannot store it. A text file with NUL was refused as binary above.
    text = without_nul(text)
    if not text.strip():
        raise FileRejected(f"{name} contains no text that could be read.")
    return text


def _plain_text(name: str, suffix: str, upload: UploadedFile) -> str:
    """UTF-8 text read 1 MB at a time: the whole file is checked, the first characters kept."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    kept: list[str] = []
    size = 0
    offset = 0
    for chunk in upload.chunks(CHUNK):
        # NUL anywhere, not only near the start: UTF-8 text never holds it (UTF-16 and binary
        # formats do), and a file should not pass or fail by where its first NUL happens to be.
        if (offset == 0 and chunk.startswith((ZIP_MAGIC, PDF_MAGIC))) or b"\x00" in chunk:
            raise FileRejected(
                f"{name} is named {suffix} but holds binary data, not text. "
                "Upload the file under its real extension (.docx, .pdf) or as UTF-8 text."
            )
        piece = _decode(decoder, chunk, offset, name)
        offset += len(chunk)
        if size <= limit_chars():
            kept.append(piece)
            size += len(piece)
    kept.append(_decode(decoder, b"", offset, name))
    text = "".join(kept)
    if len(text) > limit_chars():
        return _cut(text[: limit_chars()], name, _chars_reason())
    if suffix == ".json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise FileRejected(
                f"{name} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        except (RecursionError, ValueError):
            raise FileRejected(f"{name} is JSON nested too deeply to be read.") from None
    return text


def _decode(decoder: codecs.IncrementalDecoder, chunk: bytes, offset: int, name: str) -> str:
    """The next piece of text (the whole input decoded when `chunk` is empty); FileRejected
    naming the first byte that is not UTF-8 and its position in the file."""
    pending = decoder.getstate()[0]
    try:
        return decoder.decode(chunk, final=not chunk)
    except UnicodeDecodeError as exc:
        byte, position = (pending + chunk)[exc.start], offset - len(pending) + exc.start
        raise FileRejected(
            f"{name} is not UTF-8 text (byte 0x{byte:02x} at position {position}). "
            "Save it with UTF-8 encoding and upload it again."
        ) from None


def _docx_text(name: str, upload: UploadedFile) -> str:
    xml_bytes = max(DOCX_MIN_XML_BYTES, DOCX_XML_BYTES_PER_CHAR * limit_chars())
    try:
        result = docx_text.read(
            upload.file, max_chars=limit_chars(), max_xml_bytes=xml_bytes, seconds=READ_SECONDS
        )
    except docx_text.DocxError as exc:
        if exc.reason == "too-large":
            raise FileRejected(f"{name} holds too many parts to be a document.") from None
        raise FileRejected(f"{name} is not a valid .docx document.") from None
    reasons = {
        "chars": _chars_reason(),
        "xml": f"only the first {xml_bytes // 1048576} MB of its XML are read",
        "time": f"reading stopped after {READ_SECONDS:g} s",
    }
    return _cut(result.text, name, reasons[result.stopped]) if result.stopped else result.text


def _pdf_text(name: str, upload: UploadedFile) -> str:
    data = upload.read()
    if PDF_MAGIC not in data[:1024]:
        raise FileRejected(f"{name} is named .pdf but is not a PDF document.")
    result = pdf_text.read(
        data,
        max_pages=MAX_PDF_PAGES,
        max_chars=limit_chars(),
        seconds=PDF_SECONDS,
        memory_bytes=PDF_MEMORY_BYTES,
    )
    refusals = {
        "encrypted": f"{name} is password-protected; upload an unprotected copy.",
        "damaged": f"{name} is a damaged or unreadable PDF.",
        "memory": f"{name} is too complex to read (it needs too much memory).",
        "time": f"{name} took too long to read (over {PDF_SECONDS:g} s).",
    }
    if result.error:
        raise FileRejected(refusals[result.error])
    text = "\n\n".join(result.pages)
    unread = len(result.pages) < min(result.total, MAX_PDF_PAGES)
    if not text.strip():
        if result.timed_out or unread:
            raise FileRejected(refusals["time"])
        raise FileRejected(
            f"{name} has no text layer (a scan?); upload a PDF with selectable text."
        )
    if len(text) > limit_chars() or (unread and len(text) >= limit_chars()):
        return _cut(text[: limit_chars()], name, _chars_reason())
    if unread:
        reason = f"reading stopped after {PDF_SECONDS:g} s, at page {len(result.pages) + 1}"
        return _cut(text, name, reason)
    if len(result.pages) < result.total:
        reason = f"only its first {MAX_PDF_PAGES} of {result.total} pages are read"
        return _cut(text, name, reason)
    return text
