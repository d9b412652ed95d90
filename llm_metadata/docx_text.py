"""The text of a .docx document, read as a stream so that no document can take much memory.

python-docx builds the whole XML tree first: a 0.18 MB file holding 42 MB of XML took 627 MB
and 12 s. Here the main document part is inflated and fed to lxml in 64 KB pieces with a parser
target that builds no tree, and reading stops when the text reaches its cap or the XML read its
byte cap or time runs out (lxml takes about 1 µs an element: a flood of empty elements is what
the time cap is for). `read(source, ...)` returns the text and why it stopped early, if it did;
it raises DocxError for anything that is not a readable .docx.
"""

from __future__ import annotations

import posixpath
import struct
import time
import zipfile
from dataclasses import dataclass
from typing import IO

from lxml import etree

CHUNK = 64 * 1024
RELS = "_rels/.rels"
MAX_RELS_BYTES = 256 * 1024
OFFICE_DOCUMENT = "/officeDocument"  # the end of the main part's relationship type
DEFAULT_PART = "word/document.xml"
END_OF_DIRECTORY = b"PK\x05\x06"
END_SEARCH = 65_557  # the end record (22 bytes) and the longest zip comment
MAX_ENTRIES = 10_000


class DocxError(Exception):
    """Not a .docx that can be read: `reason` is 'invalid' or 'too-large' (too many parts)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DocxText:
    text: str
    stopped: str = ""  # why reading stopped early: "chars", "xml" or "time"; "" when read whole


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


# The only elements the collector acts on; any other is skipped after one dictionary look-up.
WANTED = {"Fallback", "t", "p", "tc", "tr", "tab", "ptab", "br", "cr", "noBreakHyphen"}


def _main_part(archive: zipfile.ZipFile) -> str:
    """The main document part's name, from the package relationships (usually the default)."""
    try:
        info = archive.getinfo(RELS)
    except KeyError:
        return DEFAULT_PART
    if info.file_size > MAX_RELS_BYTES:
        raise DocxError("invalid")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(archive.read(info), parser)
    for relation in root:
        if str(relation.get("Type", "")).endswith(OFFICE_DOCUMENT):
            return posixpath.normpath(relation.get("Target", "").lstrip("/"))
    return DEFAULT_PART


class _Collector:
    """An lxml parser target (no tree is built): paragraphs as lines, table rows as cells joined
    by tabs, in document order."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.size = 0  # characters collected so far, open paragraphs included
        self.paragraphs: list[list[str]] = []
        self.cells: list[list[str]] = []  # paragraphs of each open cell
        self.rows: list[list[str]] = []  # cells of each open row
        self.in_text = 0
        self.skip = 0  # depth inside mc:Fallback (a copy of the mc:Choice before it)
        self.names: dict[str, str] = {}  # qualified tag -> local name if wanted, else ""

    def _name(self, tag: str) -> str:
        name = self.names.get(tag)
        if name is None:
            local = _local(tag)
            name = self.names[tag] = local if local in WANTED else ""
        return name

    def _add(self, piece: str) -> None:
        if self.paragraphs:
            self.paragraphs[-1].append(piece)
            self.size += len(piece)

    def _emit(self, text: str) -> None:
        """A finished paragraph or row: into the open cell, else the open paragraph (a text
        box), else a line of its own."""
        if self.cells:
            self.cells[-1].append(text)
        elif self.paragraphs:
            self.paragraphs[-1].append(text)
        else:
            self.lines.append(text)
        self.size += 1

    def start(self, tag: str, attrib: object) -> None:
        name = self.names.get(tag)
        if name is None:
            name = self._name(tag)
        if not name:
            return
        if name == "Fallback":
            self.skip += 1
        elif self.skip:
            return
        elif name == "t":
            self.in_text += 1
        elif name == "p":
            self.paragraphs.append([])
        elif name == "tc":
            self.cells.append([])
        elif name == "tr":
            self.rows.append([])

    def data(self, text: str) -> None:
        if self.in_text and not self.skip:
            self._add(text)

    def end(self, tag: str) -> None:
        name = self.names.get(tag)
        if name is None:
            name = self._name(tag)
        if not name:
            return
        if name == "Fallback":
            self.skip -= 1
        elif self.skip:
            return
        elif name == "t":
            self.in_text -= 1
        elif name in ("tab", "ptab"):
            self._add("\t")
        elif name in ("br", "cr"):
            self._add("\n")
        elif name == "noBreakHyphen":
            self._add("-")
        elif name == "p" and self.paragraphs:
            self._emit("".join(self.paragraphs.pop()))
        elif name == "tc" and self.cells:
            cell = "\n".join(self.cells.pop())
            if self.rows:
                self.rows[-1].append(cell)
        elif name == "tr" and self.rows:
            self._emit("\t".join(self.rows.pop()))

    def close(self) -> None:
        return None

    def text(self) -> str:
        """The lines so far, and the text of what is still open (when reading stopped early)."""
        open_parts = ["\t".join(row) for row in self.rows]
        open_parts += ["\n".join(cell) for cell in self.cells]
        open_parts += ["".join(paragraph) for paragraph in self.paragraphs]
        return "\n".join(self.lines + [part for part in open_parts if part])


def _check_directory(source: IO[bytes]) -> None:
    """Refuse an archive listing more entries than a document has, before zipfile builds an
    object for each (a 30 MB zip can list 600,000)."""
    source.seek(0, 2)
    size = source.tell()
    source.seek(max(size - END_SEARCH, 0))
    tail = source.read()
    at = tail.rfind(END_OF_DIRECTORY)
    if at < 0 or len(tail) < at + 12:
        raise DocxError("invalid")
    (entries,) = struct.unpack("<H", tail[at + 10 : at + 12])
    if entries > MAX_ENTRIES:
        raise DocxError("too-large")
    source.seek(0)


def read(source: IO[bytes], *, max_chars: int, max_xml_bytes: int, seconds: float) -> DocxText:
    """The document's text, cut at `max_chars` characters, after `max_xml_bytes` of the main
    part's XML or after `seconds`; DocxError for a file that is not a .docx."""
    deadline = time.monotonic() + seconds
    try:
        _check_directory(source)
        with zipfile.ZipFile(source) as archive:
            part = _main_part(archive)
            try:
                info = archive.getinfo(part)
            except KeyError:
                raise DocxError("invalid") from None
            with archive.open(info) as member:
                return _parse(member, max_chars, max_xml_bytes, deadline)
    except DocxError:
        raise
    except Exception:  # zipfile, zlib and lxml raise many types on a damaged archive
        raise DocxError("invalid") from None


def _parse(member: IO[bytes], max_chars: int, max_xml_bytes: int, deadline: float) -> DocxText:
    collector = _Collector()
    parser = etree.XMLParser(
        target=collector, resolve_entities=False, no_network=True, load_dtd=False
    )
    read = 0
    while chunk := member.read(CHUNK):  # zipfile never inflates past the declared size
        parser.feed(chunk)
        read += len(chunk)
        stopped = ""
        if collector.size >= max_chars:
            stopped = "chars"
        elif read >= max_xml_bytes and member.peek(1):
            stopped = "xml"
        elif time.monotonic() > deadline:
            stopped = "time"
        if stopped:
            return DocxText(collector.text()[:max_chars], stopped)
    parser.close()
    return DocxText(collector.text())
