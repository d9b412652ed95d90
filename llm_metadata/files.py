"""The text of an uploaded file: UTF-8 text formats, .docx and .pdf, checked by content and name.

`extract_text(upload)` returns the text or raises FileRejected with a message fit for the form.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from .text import without_nul

TEXT_SUFFIXES = (".txt", ".md", ".csv", ".json")
SUFFIXES = (*TEXT_SUFFIXES, ".docx", ".pdf")
ACCEPT = ",".join(SUFFIXES)
LABEL = " ".join(SUFFIXES)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office (.doc, .xls) compound file
ZIP_MAGIC = b"PK\x03\x04"
PDF_MAGIC = b"%PDF-"
# A .docx inflating past this many times the upload limit is refused (a zip bomb, not a letter).
MAX_INFLATION = 10


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
    data = upload.read()
    upload.seek(0)
    if suffix == ".doc" or data.startswith(OLE_MAGIC):
        raise FileRejected(
            f"{name} is a legacy Word (.doc) file, which cannot be read. "
            "Save it as .docx or PDF, or as plain text, and upload that."
        )
    if suffix not in SUFFIXES:
        raise FileRejected(
            f"{name}: this type of file is not supported. Upload one of: {', '.join(SUFFIXES)}."
        )
    if not data:
        raise FileRejected(f"{name} is empty.")
    if suffix == ".pdf":
        text = _pdf_text(name, data)
    elif suffix == ".docx":
        text = _docx_text(name, data)
    else:
        text = _plain_text(name, suffix, data)
    # A PDF's text layer can hold NUL (a glyph without a Unicode mapping): nothing a reader
    # sees, and PostgreSQL cannot store it. A text file with NUL was refused as binary above.
    text = without_nul(text)
    if not text.strip():
        raise FileRejected(f"{name} contains no text that could be read.")
    return text


def _plain_text(name: str, suffix: str, data: bytes) -> str:
    # NUL anywhere, not only near the start: UTF-8 text never holds it (UTF-16 and binary
    # formats do), and a file should not pass or fail by where its first NUL happens to be.
    if data.startswith((ZIP_MAGIC, PDF_MAGIC)) or b"\x00" in data:
        raise FileRejected(
            f"{name} is named {suffix} but holds binary data, not text. "
            "Upload the file under its real extension (.docx, .pdf) or as UTF-8 text."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected(
            f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}). "
            "Save it with UTF-8 encoding and upload it again."
        ) from None
    if suffix == ".json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise FileRejected(
                f"{name} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
    return text


def _docx_text(name: str, data: bytes) -> str:
    import docx  # python-docx; imported here as only .docx uploads need it

    not_docx = FileRejected(f"{name} is not a valid .docx document.")
    if not data.startswith(ZIP_MAGIC):
        raise not_docx
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
        if inflated > MAX_INFLATION * limit_bytes():
            raise FileRejected(f"{name} expands to too much data to read.")
        document = docx.Document(io.BytesIO(data))
    except FileRejected:
        raise
    except Exception:  # python-docx raises many types (KeyError, ValueError, lxml errors)
        raise not_docx from None
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _pdf_text(name: str, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if PDF_MAGIC not in data[:1024]:
        raise FileRejected(f"{name} is named .pdf but is not a PDF document.")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise FileRejected(f"{name} is password-protected; upload an unprotected copy.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except FileRejected:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError):
        raise FileRejected(f"{name} is a damaged or unreadable PDF.") from None
    text = "\n\n".join(page.strip() for page in pages)
    if not text.strip():
        raise FileRejected(
            f"{name} has no text layer (a scan?); upload a PDF with selectable text."
        )
    return text
