"""Property tests of the parsers: any input is either read within its bounds or refused with the
parser's own error; never another exception, never a page over its budget.

Example counts come from the Hypothesis profile (tests/conftest.py: few while working, a fixed
set in CI, HYPOTHESIS_PROFILE=thorough for a long run).
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_metadata import files, json_view
from tests.test_files import W_NS, make_pdf, raw_docx

PAGE_BUDGET = 2_000_000
# A node or a row is checked against the budget after it is written: one may pass it by itself.
ONE_NODE = 6 * (json_view.MAX_TEXT + json_view.MAX_LABEL) + 200

keys = st.text(max_size=30)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(keys, inner, max_size=8),
    max_leaves=80,
)
# Wide and ragged tables: the cases that once made a 30 MB page from 13 KB.
records = st.lists(st.dictionaries(keys, json_values, max_size=60), min_size=1, max_size=120)
documents = json_values | records | st.dictionaries(keys, records, max_size=3)
no_db_fixtures = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(documents)
def test_the_viewer_keeps_any_document_within_its_budgets(document: object) -> None:
    data = json_view.decode(json.dumps(document).encode())
    view = json_view.build_view(data)
    assert len(view.tree.encode()) <= json_view.MAX_TREE_BYTES + ONE_NODE
    assert view.shown_nodes <= min(view.total_nodes, json_view.MAX_TREE_NODES)
    table = view.table
    if table is not None:
        assert len(table.columns) <= json_view.MAX_TABLE_COLUMNS
        assert len(table.rows) * max(len(table.columns), 1) <= json_view.MAX_TABLE_CELLS
        assert len(table.body.encode()) <= json_view.MAX_TABLE_BYTES + ONE_NODE
        assert table.hidden_rows >= 0 and table.hidden_columns >= 0


@given(st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
def test_the_viewer_reads_or_refuses_any_bytes(raw: bytes) -> None:
    try:
        data = json_view.decode(raw)
    except json_view.JsonInputError as exc:
        assert exc.message
        return
    json_view.build_view(data)


@pytest.mark.django_db
@no_db_fixtures
@given(st.one_of(documents.map(lambda d: json.dumps(d).encode()), st.binary(max_size=500)))
def test_the_viewer_page_answers_any_upload_under_two_megabytes(
    alice_client: Client, raw: bytes
) -> None:
    response = alice_client.post(
        reverse("llm_metadata:json-viewer"),
        {"json_file": SimpleUploadedFile("fuzz.json", raw, "application/json")},
    )
    assert response.status_code == 200
    assert len(response.content) < PAGE_BUDGET


def _extract(name: str, data: bytes) -> str | None:
    """The text, or None when refused with FileRejected (any other exception fails the test)."""
    try:
        text = files.extract_text(SimpleUploadedFile(name, data))
    except files.FileRejected as exc:
        assert exc.message
        return None
    assert "\x00" not in text and text.strip()
    assert len(text) <= files.limit_chars() + 300  # the cut note
    return text


@given(
    st.sampled_from(["a.txt", "a.md", "a.csv", "a.json", "a.docx", "a.pdf", "a.doc", "a"]),
    st.binary(max_size=3000),
)
def test_every_extractor_reads_or_refuses_any_bytes(name: str, data: bytes) -> None:
    _extract(name, data)


@settings(max_examples=10)
@given(st.text(max_size=3000), st.sampled_from(["a.txt", "a.json"]))
def test_text_is_cut_at_the_cap_with_its_start_kept(text: str, name: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files, "limit_chars", lambda: 1000)
        result = _extract(name, text.encode())
    if result is not None and files.was_cut(result):
        assert result.startswith(text[:1000].rstrip()[:900])


xml_pieces = st.sampled_from(
    [
        "<w:p>",
        "</w:p>",
        "<w:r>",
        "</w:r>",
        "<w:t>",
        "</w:t>",
        "<w:tab/>",
        "<w:br/>",
        "<w:tbl>",
        "</w:tbl>",
        "<w:tr>",
        "</w:tr>",
        "<w:tc>",
        "</w:tc>",
        "text",
        "&amp;",
        "&bogus;",
        "<![CDATA[x]]>",
        "<!-- c -->",
        "\x00",
        "é",
    ]
)


@given(st.lists(xml_pieces, max_size=60).map("".join), st.booleans())
def test_docx_reading_survives_any_xml(body: str, deflate: bool) -> None:
    xml = f'<?xml version="1.0"?><w:document {W_NS}><w:body>{body}</w:body></w:document>'
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr("word/document.xml", xml)
    _extract("fuzz.docx", buffer.getvalue())


@given(st.data())
def test_pdf_reading_survives_damaged_files(data: st.DataObject) -> None:
    pdf = bytearray(make_pdf("Fuzzed text"))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(pdf) - 1))
        pdf[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(5, len(pdf)))
    _extract("fuzz.pdf", bytes(pdf[:cut]))


@given(st.data())
def test_docx_reading_survives_damaged_archives(data: st.DataObject) -> None:
    body = "".join(f"<w:p><w:r><w:t>paragraph {i}</w:t></w:r></w:p>" for i in range(40))
    archive = bytearray(raw_docx(body))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(archive) - 1))
        archive[at] = data.draw(st.integers(0, 255))
    _extract("fuzz.docx", bytes(archive[: data.draw(st.integers(4, len(archive)))]))
