"""Text extraction from uploads: text formats, .docx, .pdf, legacy .doc, wrong content, limits."""

from __future__ import annotations

import io

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from llm_metadata.files import FileRejected, extract_text


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


def test_it_refuses_a_docx_name_on_other_content() -> None:
    assert "not a valid .docx" in rejected("fake.docx", b"plain text")
    assert "not a valid .docx" in rejected("fake.docx", b"PK\x03\x04broken zip")


def test_it_refuses_empty_files() -> None:
    assert "empty" in rejected("empty.txt", b"")
    assert "no text" in rejected("blank.txt", b"  \n ")


def test_it_enforces_the_upload_limit(settings) -> None:
    settings.MAX_UPLOAD_MB = 1
    message = rejected("big.txt", b"a" * (1024 * 1024 + 1))
    assert "big.txt is 1.0 MB" in message
    assert "at most 1 MB" in message
    assert extract_text(upload("ok.txt", b"a" * 1024 * 1024)) == "a" * 1024 * 1024
