"""JSON viewer: tree, table of records, parser errors, encoding, size limit, download, own data."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from llm_metadata import json_view, page_forms
from tests.factories import make_conversation, make_turn

URL = reverse("llm_metadata:json-viewer")
DOWNLOAD = reverse("llm_metadata:json-viewer-download")


def _upload(client: Client, raw: bytes, name: str = "data.json"):
    return client.post(URL, {"json_file": SimpleUploadedFile(name, raw, "application/json")})


def _columns(html: str) -> list[str]:
    return re.findall(r'<button type="button" data-column="\d+">([^<]*)</button>', html)


def test_it_shows_the_upload_form(alice_client: Client) -> None:
    response = alice_client.get(URL)
    assert response.status_code == 200
    assert 'name="json_file"' in response.text and 'enctype="multipart/form-data"' in response.text


def test_it_tabulates_a_list_of_objects_with_the_union_of_keys(alice_client: Client) -> None:
    rows = [{"name": "a", "n": 1}, {"n": 2, "tags": ["x", "y"], "extra": {"k": None}}]
    response = _upload(alice_client, json.dumps(rows).encode())

    assert response.status_code == 200
    assert _columns(response.text) == ["name", "n", "tags", "extra"]
    assert '<td class="cell-json">[&quot;x&quot;,&quot;y&quot;]</td>' in response.text
    assert '<td class="cell-json">{&quot;k&quot;:null}</td>' in response.text
    assert '<td class="cell-missing"></td>' in response.text
    assert "2 rows, 4 columns" in response.text
    assert "js/json_viewer.js" in response.text


def test_it_finds_records_under_an_object_key() -> None:
    table = json_view.build_table({"meta": {"v": 1}, "items": [{"id": 1}, {"id": 2, "ok": True}]})
    assert table is not None
    assert (table.path, table.columns) == ("items", ["id", "ok"])
    assert table.rows[1] == [("2", "number"), ("true", "bool")]


@pytest.mark.parametrize("data", [{"a": 1}, [1, 2], [{"a": 1}, 2], [], "text", None])
def test_it_shows_no_table_for_data_that_is_not_records(data: object) -> None:
    assert json_view.build_table(data) is None


def test_it_renders_a_collapsible_escaped_tree(alice_client: Client) -> None:
    doc = {"<script>alert(1)</script>": "</details><img src=x onerror=alert(1)>", "list": [1, None]}
    response = _upload(alice_client, json.dumps(doc).encode())

    tree = response.text.split('<div class="json-tree">')[1]
    assert "<script>alert(1)</script>" not in response.text
    assert "<img src=x" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tree
    assert tree.count("<details") == 2 and "[…] 2 items" in tree
    assert '<span class="json-null">null</span>' in tree


def test_it_reports_invalid_json_with_line_and_column(alice_client: Client) -> None:
    response = _upload(alice_client, b'{\n  "a": 1,\n  "b": [1, 2\n}')
    assert response.status_code == 200
    assert "Invalid JSON: Expecting &#x27;,&#x27; delimiter at line 4, column 1." in response.text
    assert 'id="json-tree-section"' not in response.text


def test_it_rejects_non_utf8_input_clearly(alice_client: Client) -> None:
    response = _upload(alice_client, '{"name": "Müller"}'.encode("latin-1"))
    assert "The file is not UTF-8 text (byte 0xfc at position 11)." in response.text


def test_it_accepts_a_byte_order_mark_and_rejects_nan() -> None:
    assert json_view.decode(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    with pytest.raises(json_view.JsonInputError, match="NaN is not a JSON value"):
        json_view.decode(b"[NaN]")


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"a": "\\ud800"}', "half of a surrogate pair"),
        (b'["\\uDC00 low"]', "half of a surrogate pair"),
        (b"[1, 1e400]", "too large"),
        (b"[" + b"1" * 400 + b".5]", "too large"),
        (b"[" + b"9" * 5000 + b"]", "more digits"),
    ],
    ids=["lone-surrogate", "lone-low-surrogate", "huge-exponent", "huge-float", "huge-int"],
)
def test_it_refuses_values_it_could_not_show_or_write_back(
    alice_client: Client, raw: bytes, error: str
) -> None:
    response = _upload(alice_client, raw)
    assert response.status_code == 200
    assert error in response.context["form"].errors["json_file"][0]


def test_it_keeps_surrogate_pairs_and_large_exponents_that_fit() -> None:
    assert json_view.decode(b'["\\ud83d\\ude00", 1.5e308, 1e-400]') == ["\U0001f600", 1.5e308, 0.0]


def test_it_refuses_files_over_the_size_limit(alice_client: Client, settings) -> None:
    settings.MAX_UPLOAD_MB = 1
    response = _upload(alice_client, b"[" + b"1," * 600_000 + b"1]")
    assert "the viewer takes up to 1 MB" in response.text


def test_it_caps_the_tree_and_table_of_large_documents(alice_client: Client) -> None:
    rows = [{"i": i} for i in range(3000)]
    response = _upload(alice_client, json.dumps(rows).encode())
    assert "3000 rows, 1 column, first 2000 shown" in response.text
    assert "1000 more rows not shown — the download has them all." in response.text
    assert "6001 values, first 5000 shown" in response.text


def test_it_caps_columns_and_cells_when_every_row_brings_new_keys(alice_client: Client) -> None:
    """The issue's case: 13 KB whose rows each bring a new key rendered 30 MB in 5.3 s."""
    raw = json.dumps([{f"k{i}": i} for i in range(1000)], separators=(",", ":")).encode()
    assert len(raw) < 13_000

    response = _upload(alice_client, raw)

    assert len(response.content) < 2_000_000
    assert len(_columns(response.text)) == json_view.MAX_TABLE_COLUMNS
    found = re.search(
        r"1000 rows, 1000 columns, first (\d+) shown, first 50 columns shown", response.text
    )
    assert found is not None
    shown = int(found.group(1))  # the cell count or the byte budget, whichever ends first
    assert 0 < shown <= json_view.MAX_TABLE_CELLS // json_view.MAX_TABLE_COLUMNS
    assert f"950 more columns and {1000 - shown} more rows not shown" in response.text


def test_it_keeps_tree_and_table_within_their_byte_budgets() -> None:
    """Long keys and long values: the node and cell counts alone would allow 60 MB."""
    data = [{"k" * 5000 + str(i): "x" * 3000, "v": "<" * 3000} for i in range(2000)]
    tree, _ = json_view.render_tree(data)
    table = json_view.build_table(data)
    assert table is not None
    assert len(tree.encode()) < json_view.MAX_TREE_BYTES + 100_000
    assert len(table.body.encode()) <= json_view.MAX_TABLE_BYTES
    assert len(table.rows) < len(data) and all(len(c) <= 300 for c in table.columns)


def _press_download(client: Client, page) -> HttpResponse:
    """Submit the page's download form as a browser does, in the encoding the form declares."""
    form = re.search(
        rf'<form method="post" action="{DOWNLOAD}"([^>]*)>(.*?)</form>', page.text, re.S
    )
    assert form is not None
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(2)))
    fields.update(re.findall(r'<textarea name="(\w+)"[^>]*>([^<]*)</textarea>', form.group(2)))
    fields = {name: html.unescape(value) for name, value in fields.items()}
    if 'enctype="multipart/form-data"' in form.group(1):
        return client.post(DOWNLOAD, fields)
    return client.post(DOWNLOAD, urlencode(fields), "application/x-www-form-urlencoded")


def test_it_downloads_the_formatted_document(alice_client: Client) -> None:
    page = _upload(alice_client, b'{"b":[1,{"c":"\\u00e9"}]}', name="my data.json")

    response = _press_download(alice_client, page)

    assert response["Content-Disposition"] == 'attachment; filename="my_data-formatted.json"'
    assert (
        response.content.decode() == '{\n  "b": [\n    1,\n    {\n      "c": "é"\n    }\n  ]\n}\n'
    )
    assert alice_client.post(DOWNLOAD, {"data": "{oops"}).status_code == 400


def test_it_downloads_a_document_near_the_viewers_limit_from_the_upload_form(
    alice_client: Client,
) -> None:
    """3.5 MB is too much to carry in the page (at most 2 MB): the page says to use the form's
    own Download button, which formats the upload itself."""
    rows = [{"id": i, "tags": ["a", "b"], "ok": True, "note": "é"} for i in range(70_000)]
    raw = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()
    assert 3_400_000 < len(raw) < 3_700_000

    page = _upload(alice_client, raw)
    assert 'name="data"' not in page.text and 'id="json-download-note"' in page.text
    assert f'formaction="{DOWNLOAD}"' in page.text
    response = alice_client.post(
        DOWNLOAD, {"json_file": SimpleUploadedFile("big.json", raw, "application/json")}
    )

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="big-formatted.json"'
    assert json.loads(response.content) == rows


def test_it_shows_the_upload_errors_when_the_form_download_gets_a_bad_file(
    alice_client: Client,
) -> None:
    response = alice_client.post(
        DOWNLOAD, {"json_file": SimpleUploadedFile("bad.json", b"{oops", "application/json")}
    )
    assert response.status_code == 200
    assert "Invalid JSON" in response.context["form"].errors["json_file"][0]


def test_it_posts_back_no_more_than_was_uploaded(alice_client: Client) -> None:
    """Compact JSON of `1e9` is `1000000000.0`: 0.5 MB of it would post back as 1.5 MB."""
    raw = b"[" + b"1e9,\r\n" * 80_000 + b"1e9\n]"
    page = _upload(alice_client, raw)
    response = _press_download(alice_client, page)
    assert response.status_code == 200
    assert json.loads(response.content) == [1e9] * 80_001
    assert json_view.form_text(b"[1e9,\r\n2e9]", [1e9, 2e9]) == "[1e9,  2e9]"
    assert json_view.form_text(b'{"a": \n 1}', {"a": 1}) == '{"a":1}'


def test_it_caps_the_viewer_below_what_a_form_may_post(settings) -> None:
    assert page_forms.viewer_max_bytes() + 64 * 1024 <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_it_views_ones_own_conversation_as_json(
    alice: User, alice_client: Client, bob_client: Client
) -> None:
    conversation = make_conversation(alice, title="Tides")
    make_turn(conversation, question="Why tides?", answer="The moon.")
    url = f"{URL}?conversation={conversation.pk}"

    response = alice_client.get(url)

    assert response.status_code == 200
    assert f"conversation-{conversation.pk}.json" in response.text
    assert "conversation.messages" in response.text
    assert "model_name" in _columns(response.text) and "Why tides?" in response.text
    assert bob_client.get(url).status_code == 404
    assert alice_client.get(f"{URL}?conversation=not-a-uuid").status_code == 404


def test_it_keeps_the_conversation_view_query_count_flat(
    alice: User, alice_client: Client, django_assert_max_num_queries
) -> None:
    conversation = make_conversation(alice)
    for index in range(150):
        make_turn(conversation, question=f"q{index}")
    with django_assert_max_num_queries(6):
        alice_client.get(f"{URL}?conversation={conversation.pk}")


def test_it_asks_visitors_to_log_in(client: Client, db) -> None:
    assert client.get(URL)["Location"].startswith(reverse("account_login"))


def test_it_shows_very_deep_values_as_compact_text_and_refuses_absurd_nesting() -> None:
    deep: object = "bottom"
    for _ in range(100):
        deep = [deep]
    tree, _ = json_view.render_tree(deep)
    assert tree.count("<details") == json_view.MAX_DEPTH
    assert "<code>[[" in tree and "&quot;bottom&quot;" in tree
    with pytest.raises(json_view.JsonInputError, match="nested too deeply"):
        json_view.decode(b"[" * 100_000 + b"]" * 100_000)


def test_it_clips_long_values_on_screen_only(alice_client: Client) -> None:
    long_text = "x" * (json_view.MAX_CELL_TEXT + 500)  # a table cell shows less than the tree
    response = _upload(alice_client, json.dumps([{"text": long_text}]).encode())
    assert "… (500 more characters)" in response.text
    assert long_text in response.text  # whole in the download's data


def test_it_downloads_a_conversation_through_its_export(alice: User, alice_client: Client) -> None:
    conversation = make_conversation(alice)
    make_turn(conversation, question="A" * 5000)
    response = alice_client.get(f"{URL}?conversation={conversation.pk}")
    export = reverse("llm_metadata:conversation-export", args=[conversation.pk, "json"])
    assert f'href="{export}" id="json-download"' in response.text
    assert 'name="data"' not in response.text and "A" * 5000 not in response.text
