"""Text extraction from uploads: text formats, .docx, .pdf, legacy .doc, wrong content, limits."""

from __future__ import annotations

import io
import json
import time
import zipfile
import zlib

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PdfReader, PdfWriter

from llm_metadata import files, pdf_text
from llm_metadata.files import FileRejected, extract_text, was_cut


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def make_docx(*paragraphs: str, table: list[list[str]] | None = None) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_pdf(text: str) -> bytes:
    """A one-page PDF with `text` in its text layer (written by hand: no PDF writer needed)."""
    stream = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def rejected(name: str, data: bytes) -> str:
    with pytest.raises(FileRejected) as caught:
        extract_text(upload(name, data))
    return caught.value.message


@pytest.mark.parametrize("name", ["notes.txt", "README.md", "table.csv"])
def test_it_reads_utf8_text_formats(name: str) -> None:
    assert extract_text(upload(name, "naïve, café\n1,2\n".encode())) == "naïve, café\n1,2\n"


def test_it_drops_a_utf8_byte_order_mark() -> None:
    assert extract_text(upload("a.csv", b"\xef\xbb\xbfa,b\n")) == "a,b\n"


def test_it_reads_valid_json() -> None:
    assert extract_text(upload("data.json", b'{"a": [1, 2]}')) == '{"a": [1, 2]}'


def test_it_names_the_line_and_column_of_invalid_json() -> None:
    message = rejected("data.json", b'{"a": 1,\n  "b": }')
    assert "not valid JSON" in message
    assert "line 2" in message and "column" in message


def test_it_refuses_text_that_is_not_utf8() -> None:
    message = rejected("latin.txt", "café".encode("latin-1"))
    assert "latin.txt is not UTF-8" in message
    assert "0xe9" in message


def test_it_reads_docx_paragraphs_and_tables() -> None:
    data = make_docx("First paragraph.", "Second one.", table=[["name", "age"], ["Ada", "36"]])
    text = extract_text(upload("letter.docx", data))
    assert "First paragraph.\nSecond one." in text
    assert "name\tage" in text and "Ada\t36" in text


def test_it_reads_pdf_text() -> None:
    assert "Hello PDF world" in extract_text(upload("paper.pdf", make_pdf("Hello PDF world")))


def test_it_asks_for_docx_pdf_or_text_instead_of_a_legacy_doc() -> None:
    message = rejected("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert "legacy Word (.doc)" in message
    assert ".docx" in message and "PDF" in message


def test_it_spots_a_legacy_doc_by_content_whatever_its_name() -> None:
    message = rejected("renamed.txt", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert "legacy Word" in message


@pytest.mark.parametrize("name", ["photo.png", "script.exe", "noextension"])
def test_it_refuses_unsupported_types(name: str) -> None:
    message = rejected(name, b"whatever")
    assert "not supported" in message
    assert ".docx" in message and ".csv" in message


def test_it_refuses_binary_content_behind_a_text_name() -> None:
    assert "binary data" in rejected("fake.txt", make_pdf("x"))
    assert "binary data" in rejected("fake.csv", b"a,b\x00\x01\x02")


def test_it_refuses_a_nul_character_anywhere_in_a_text_file() -> None:
    # Past the first 8 KB too: the same file is refused whatever the NUL's position.
    assert "binary data" in rejected("late.csv", b"a,b\n" * 5000 + b"\x00c,d\n")


def test_it_drops_nul_characters_from_extracted_pdf_text() -> None:
    text = extract_text(upload("paper.pdf", make_pdf("Hello \\000world")))
    assert "\x00" not in text and "Hello world" in text


def test_it_refuses_a_pdf_name_on_other_content() -> None:
    assert "not a PDF" in rejected("fake.pdf", b"just some text")


def test_it_refuses_a_damaged_pdf() -> None:
    assert "damaged or unreadable" in rejected("broken.pdf", b"%PDF-1.4\n garbage without xref")


def test_it_refuses_a_pdf_that_breaks_the_pdf_library() -> None:
    """Found by fuzzing: one NUL in the catalogue made pypdf raise AttributeError (a 500)."""
    pdf = bytearray(make_pdf("Fuzzed text"))
    pdf[35] = 0
    assert "damaged or unreadable" in rejected("broken.pdf", bytes(pdf[:581]))


def test_it_refuses_a_docx_name_on_other_content() -> None:
    assert "not a valid .docx" in rejected("fake.docx", b"plain text")
    assert "not a valid .docx" in rejected("fake.docx", b"PK\x03\x04broken zip")


def test_it_refuses_empty_files() -> None:
    assert "empty" in rejected("empty.txt", b"")
    assert "no text" in rejected("blank.txt", b"  \n ")


def test_it_enforces_the_upload_limit(settings) -> None:
    settings.MAX_UPLOAD_MB = 1
    settings.MAX_FILE_TEXT_CHARS = 2 * 1024 * 1024
    message = rejected("big.txt", b"a" * (1024 * 1024 + 1))
    assert "big.txt is 1.0 MB" in message
    assert "at most 1 MB" in message
    assert extract_text(upload("ok.txt", b"a" * 1024 * 1024)) == "a" * 1024 * 1024


# --- Bounds: text cap, .docx read as a stream, PDF pages and encryption -----------------------

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
MC_NS = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'


def raw_docx(body: str, *, part: str = "word/document.xml", entries: int = 0) -> bytes:
    """A minimal .docx: the package relationships and a main part holding `body`."""
    rels = (
        '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        f'officeDocument/2006/relationships/officeDocument" Target="{part}"/></Relationships>'
    )
    xml = f'<?xml version="1.0"?><w:document {W_NS} {MC_NS}><w:body>{body}</w:body></w:document>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("_rels/.rels", rels)
        archive.writestr(part, xml)
        for index in range(entries):
            archive.writestr(f"junk/{index}", b"")
    return buffer.getvalue()


def paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def test_it_cuts_long_text_keeping_the_start_and_saying_so(settings) -> None:
    settings.MAX_FILE_TEXT_CHARS = 1000
    text = extract_text(upload("long.md", ("0123456789" * 300).encode()))
    assert text.startswith("0123456789" * 100)
    assert text.endswith(
        "[Cut here: long.md is longer; only its first 1,000 characters of text are used "
        "(MAX_FILE_TEXT_CHARS).]"
    )
    assert was_cut(text) and not was_cut("0123456789")


def test_it_cuts_long_json_without_judging_the_part_it_leaves_out(settings) -> None:
    settings.MAX_FILE_TEXT_CHARS = 1000
    text = extract_text(upload("big.json", json.dumps(list(range(2000))).encode()))
    assert text.startswith("[0, 1, 2") and was_cut(text)


def test_it_finds_a_bad_byte_past_the_first_megabyte(settings) -> None:
    settings.MAX_FILE_TEXT_CHARS = 2 * 1024 * 1024
    data = b"a" * (1024 * 1024 + 10) + b"\xff"
    assert f"byte 0xff at position {len(data) - 1}" in rejected("late.txt", data)
    # A character split between two 1 MB pieces is still one character.
    split = b"a" * (1024 * 1024 - 1) + "é".encode() + b"z"
    assert extract_text(upload("split.txt", split)).endswith("éz")


def test_it_reads_docx_text_in_document_order_with_tabs_breaks_and_tables() -> None:
    body = (
        paragraph("Before")
        + "<w:tbl><w:tr><w:tc>"
        + paragraph("a")
        + paragraph("a2")
        + "</w:tc><w:tc>"
        + paragraph("b")
        + "</w:tc></w:tr></w:tbl>"
        + "<w:p><w:r><w:t>x</w:t><w:tab/><w:t>y</w:t><w:br/><w:t>z</w:t></w:r></w:p>"
        + paragraph("After &amp; done")
    )
    text = extract_text(upload("t.docx", raw_docx(body)))
    assert text == "Before\na\na2\tb\nx\ty\nz\nAfter & done"


def test_it_reads_a_text_box_once_and_a_main_part_under_another_name() -> None:
    box = (
        "<w:p><w:r><mc:AlternateContent><mc:Choice><w:t>boxed</w:t></mc:Choice>"
        "<mc:Fallback><w:t>boxed</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )
    assert extract_text(upload("box.docx", raw_docx(box))) == "boxed"
    assert extract_text(upload("m.docx", raw_docx(paragraph("hi"), part="word/main.xml"))) == "hi"


def test_it_cuts_a_docx_that_inflates_to_tens_of_megabytes_of_text(settings) -> None:
    """The issue's case: a 0.18 MB file expanding to 42 MB of XML (23.6 M characters)."""
    body = "<w:p>" + "<w:r><w:t>All work and no play. </w:t></w:r>" * 1_000_000 + "</w:p>"
    data = raw_docx(body)
    assert len(data) < 300_000
    text = extract_text(upload("bomb.docx", data))
    assert len(text) < settings.MAX_FILE_TEXT_CHARS + 200
    assert text.startswith("All work and no play.") and was_cut(text)
    assert "first 500,000 characters" in text


def test_it_stops_reading_a_docx_flood_of_empty_elements(settings, monkeypatch) -> None:
    settings.MAX_FILE_TEXT_CHARS = 1000
    monkeypatch.setattr(files, "DOCX_MIN_XML_BYTES", 1024 * 1024)
    body = paragraph("start") + "<w:p>" + "<w:r/>" * 400_000 + "</w:p>" + paragraph("end")
    text = extract_text(upload("flood.docx", raw_docx(body)))
    assert text.startswith("start") and "end" not in text
    assert "only the first 1 MB of its XML are read" in text


def test_it_keeps_what_it_read_of_a_docx_when_time_runs_out(monkeypatch) -> None:
    monkeypatch.setattr(files, "READ_SECONDS", 0.0)
    body = paragraph("start") + "<w:p>" + "<w:r/>" * 100_000 + "</w:p>" + paragraph("end")
    text = extract_text(upload("slow.docx", raw_docx(body)))
    assert text.startswith("start") and "reading stopped after 0 s" in text


def test_it_refuses_a_docx_whose_compressed_data_is_damaged() -> None:
    data = bytearray(raw_docx(paragraph("text " * 2000)))
    start = data.index(b"word/document.xml") + len("word/document.xml")
    data[start + 20 : start + 60] = b"\xff" * 40  # inside the deflated part (zlib.error)
    assert "not a valid .docx" in rejected("damaged.docx", bytes(data))


def test_it_refuses_docx_archives_that_list_too_many_parts() -> None:
    message = rejected("parts.docx", raw_docx(paragraph("x"), entries=10_001))
    assert "too many parts" in message


def test_it_refuses_a_docx_without_its_main_part_or_with_broken_xml() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.txt", "x")
    assert "not a valid .docx" in rejected("empty.docx", buffer.getvalue())
    broken = raw_docx("<w:p><w:r><w:t>unclosed</w:r></w:p>")
    assert "not a valid .docx" in rejected("broken.docx", broken)


def encrypted_pdf(user_password: str, owner_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("Secret text"))))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_it_says_a_password_protected_pdf_cannot_be_read() -> None:
    message = rejected("locked.pdf", encrypted_pdf("open-sesame", "owner"))
    assert message == "locked.pdf is password-protected; upload an unprotected copy."


def test_it_reads_a_pdf_restricted_only_by_an_owner_password() -> None:
    assert "Secret text" in extract_text(upload("restricted.pdf", encrypted_pdf("", "owner")))


def test_it_reads_at_most_the_page_cap_of_a_pdf(monkeypatch) -> None:
    monkeypatch.setattr(files, "MAX_PDF_PAGES", 3)
    writer = PdfWriter()
    page = PdfReader(io.BytesIO(make_pdf("Page text"))).pages[0]
    for _ in range(5):
        writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    text = extract_text(upload("long.pdf", buffer.getvalue()))
    assert text.count("Page text") == 3
    assert "only its first 3 of 5 pages are read" in text


def heavy_pdf(megabytes: float) -> bytes:
    """One page whose content stream holds `megabytes` of text operators (compressed)."""
    ops = b"BT /F1 9 Tf 72 712 Td (word word word word) Tj ET\n"
    stream = zlib.compress(ops * int(megabytes * 1024 * 1024 / len(ops)))
    pdf = make_pdf("x")
    start = pdf.index(b"4 0 obj")
    end = pdf.index(b"endobj", start) + len(b"endobj")
    body = b"4 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
    rebuilt = pdf[:start] + body + stream + b"\nendstream\nendobj" + pdf[end:]
    return _rewritten(rebuilt)


def _rewritten(data: bytes) -> bytes:
    """The same PDF with a correct cross-reference table."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_it_gives_up_on_a_pdf_page_that_takes_too_long(monkeypatch) -> None:
    """A page's text cannot be interrupted inside pypdf: the worker process is killed."""
    monkeypatch.setattr(files, "PDF_SECONDS", 0.8)
    started = time.monotonic()
    message = rejected("heavy.pdf", heavy_pdf(4))
    assert message == "heavy.pdf took too long to read (over 0.8 s)."
    assert time.monotonic() - started < 5  # killed, not waited for


def test_it_refuses_a_pdf_that_needs_too_much_memory(monkeypatch) -> None:
    """The worker's address space is capped: below what the interpreter already holds here, so
    inflating the page's 4 MB of content fails at once."""
    monkeypatch.setattr(pdf_text, "BASE_MEMORY", 0)
    monkeypatch.setattr(files, "PDF_MEMORY_BYTES", 16 * 1024 * 1024)
    monkeypatch.setattr(files, "PDF_SECONDS", 30.0)
    message = rejected("big.pdf", heavy_pdf(4))
    assert message == "big.pdf is too complex to read (it needs too much memory)."


def test_it_cuts_a_pdf_at_the_text_cap(settings) -> None:
    settings.MAX_FILE_TEXT_CHARS = 1000
    writer = PdfWriter()
    page = PdfReader(io.BytesIO(make_pdf("Forty characters of text on every page."))).pages[0]
    for _ in range(60):
        writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    text = extract_text(upload("report.pdf", buffer.getvalue()))
    assert text.startswith("Forty characters") and text.count("Forty") < 30
    assert "only its first 1,000 characters of text are used" in text
