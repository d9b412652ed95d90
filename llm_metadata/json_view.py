"""The JSON viewer's logic: decode an upload, render a collapsible tree and a table of records.

Everything user-supplied is escaped here (the tree is built as HTML in Python for speed);
large documents are shown in part, with a note, and stay complete in the download.
"""

from __future__ import annotations

import json
import math
import sys
from collections import deque
from dataclasses import dataclass

# The standard library's escape (the one Django's wraps) without Django's lazy-string wrapper,
# which cost more than the escaping itself per table cell.
from html import escape
from typing import Any

import orjson
from django.utils.safestring import SafeString, mark_safe

# The page stays under 2 MB and 1 s for any document within the viewer's 4 MB cap: the tree and
# the table each stop at a node or cell count and at a budget of HTML bytes, whichever comes
# first, and say what they left out (bench/parsers.py measures the hostile cases).
MAX_TREE_NODES = 5000
MAX_TREE_BYTES = 600_000
MAX_TABLE_ROWS = 2000
MAX_TABLE_COLUMNS = 50
MAX_TABLE_CELLS = 20_000
MAX_TABLE_BYTES = 600_000
MAX_DEPTH = 64  # deeper values are shown as compact JSON text
OPEN_DEPTH = 3  # levels expanded on arrival
TABLE_SEARCH_DEPTH = 3  # how deep under objects a list of records is looked for
MAX_TEXT = 2000  # characters of one value shown in the tree; the download keeps everything
MAX_CELL_TEXT = 500  # characters of one table cell
MAX_LABEL = 200  # characters of a key or column name
MAX_EMBEDDED_BYTES = 600_000  # the document carried in the page for its download button


class JsonInputError(ValueError):
    """An upload that is not a JSON document; `message` says why, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Table:
    """A list of records as rows: `path` locates the list in the document ("" at the top).

    `columns` and `rows` are what is shown; `total_columns` and `total_rows` what the list has.
    """

    path: str
    columns: list[str]
    rows: list[list[tuple[str, str]]]  # per cell: (text shown, kind for styling)
    total_rows: int
    total_columns: int
    body: SafeString  # the rows as escaped <tr> elements (a template loop took 25 µs a cell)

    @property
    def hidden_rows(self) -> int:
        return self.total_rows - len(self.rows)

    @property
    def hidden_columns(self) -> int:
        return self.total_columns - len(self.columns)


@dataclass(frozen=True)
class JsonView:
    tree: SafeString
    shown_nodes: int
    total_nodes: int
    table: Table | None


def _reject_constant(name: str) -> Any:
    raise JsonInputError(f"Invalid JSON: {name} is not a JSON value.")


def decode(raw: bytes) -> Any:
    """The parsed document; JsonInputError for non-UTF-8 bytes or invalid JSON (line, column)."""
    return decode_with_text(raw)[0]


def decode_with_text(raw: bytes) -> tuple[Any, str]:
    """The parsed document and its compact JSON text (written anyway, to check it can be)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonInputError(
            f"The file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}). "
            "Save it as UTF-8 and upload it again."
        ) from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise JsonInputError(
            f"Invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except RecursionError:
        raise JsonInputError("Invalid JSON: the document is nested too deeply.") from None
    except JsonInputError:
        raise
    except ValueError:  # an integer past sys.get_int_max_str_digits()
        raise JsonInputError(
            "The file has a number with more digits than can be read "
            f"({sys.get_int_max_str_digits()} at most)."
        ) from None
    return data, _writable_text(data)


def _finite_float(literal: str) -> float:
    """A float literal, refused when it is past ±1.8e308 (json would read it as infinity)."""
    value = float(literal)
    if math.isinf(value):
        raise JsonInputError("The file has a number too large to be read (beyond ±1.8e308).")
    return value


def _writable_text(data: Any) -> str:
    """The compact text; JsonInputError for what parses but cannot be written back (a lone
    surrogate; floats past 1.8e308 were refused while parsing).

    orjson writes a 4 MB document in ~20 ms; what it refuses (a lone surrogate, an integer past
    64 bits, nesting past 255 levels) goes through the standard library, ten times slower, which
    says which it is.
    """
    try:
        return orjson.dumps(data).decode()
    except orjson.JSONEncodeError:
        pass
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        text.encode()
    except RecursionError:
        raise JsonInputError("Invalid JSON: the document is nested too deeply.") from None
    except UnicodeEncodeError:
        raise JsonInputError(
            "The file has a \\u escape that is half of a surrogate pair, which is no character."
        ) from None
    return text


def pretty(data: Any) -> str:
    """The formatted document offered for download."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def form_text(raw: bytes, data: Any, compact_text: str | None = None) -> str:
    """The uploaded document on one line, never longer than the upload, for a form to post back.

    Compact JSON (`compact_text` when already written) is usually the shorter, but not always
    (`1e9` becomes `1000000000.0`); else the upload itself, its line breaks as spaces (a browser
    would post each as CRLF; JSON has none inside strings).
    """
    text = compact(data) if compact_text is None else compact_text
    if len(text.encode()) <= len(raw):
        return text
    return raw.decode("utf-8-sig").replace("\r", " ").replace("\n", " ")


def fits_in_page(text: str) -> bool:
    """Whether the document, escaped as the page carries it, keeps the page within its budget."""
    return len(text) <= MAX_EMBEDDED_BYTES and len(escape(text).encode()) <= MAX_EMBEDDED_BYTES


def _count_nodes(data: Any) -> int:
    """Every value in the document; only containers are visited one by one."""
    if not isinstance(data, dict | list):
        return 1
    count, stack = 1, [data]
    while stack:
        item = stack.pop()
        children = list(item.values()) if isinstance(item, dict) else item
        count += len(children)
        kinds = set(map(type, children))  # in C: a list of a million numbers takes ~20 ms
        if dict in kinds or list in kinds:
            stack.extend([child for child in children if type(child) in (dict, list)])
    return count


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """Long text cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def _scalar_html(value: Any) -> str:
    if isinstance(value, str):
        text = clip(json.dumps(value, ensure_ascii=False))
        return f'<span class="json-string">{escape(text)}</span>'
    if value is None:
        return '<span class="json-null">null</span>'
    if isinstance(value, bool):
        return f'<span class="json-bool">{"true" if value else "false"}</span>'
    return f'<span class="json-number">{escape(json.dumps(value))}</span>'


def _summary(value: dict | list) -> str:
    if isinstance(value, dict):
        return f"{{…}} {len(value)} key{'s' if len(value) != 1 else ''}"
    return f"[…] {len(value)} item{'s' if len(value) != 1 else ''}"


class _TreeWriter:
    """Writes nested <details> until the node budget or the byte budget is spent."""

    def __init__(self, budget: int, max_bytes: int) -> None:
        self.budget = budget
        self.bytes_left = max_bytes
        self.shown = 0
        self.parts: list[str] = []

    def full(self) -> bool:
        return self.shown >= self.budget or self.bytes_left <= 0

    def _add(self, part: str) -> None:
        self.parts.append(part)
        self.bytes_left -= len(part.encode())

    def write(self, label: str, value: Any, depth: int) -> None:
        self.shown += 1
        key = f'<span class="json-key">{escape(clip(label, MAX_LABEL))}</span>: ' if label else ""
        if not isinstance(value, dict | list) or not value:
            text = (
                _scalar_html(value)
                if not isinstance(value, dict | list)
                else escape(clip(compact(value)))
            )
            self._add(f'<div class="json-leaf">{key}{text}</div>')
            return
        if depth >= MAX_DEPTH:
            self._add(
                f'<div class="json-leaf">{key}<code>{escape(clip(compact(value)))}</code></div>'
            )
            return
        opened = " open" if depth < OPEN_DEPTH else ""
        self._add(f"<details{opened}><summary>{key}{escape(_summary(value))}</summary>")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for child_key, child in items:
            if self.full():
                self.parts.append('<div class="json-more">… more not shown</div>')
                break
            self.write(str(child_key), child, depth + 1)
        self.parts.append("</details>")


def render_tree(
    data: Any, budget: int = MAX_TREE_NODES, max_bytes: int = MAX_TREE_BYTES
) -> tuple[SafeString, int]:
    """The document as nested <details> (escaped) and the number of nodes shown."""
    writer = _TreeWriter(budget, max_bytes)
    writer.write("", data, 0)
    html = '<div class="json-tree">' + "".join(writer.parts) + "</div>"
    return mark_safe(html), writer.shown  # noqa: S308 - every value was escaped by the writer


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def find_records(data: Any) -> tuple[str, list[dict]] | None:
    """The first list of objects: the document itself, or a value of (nested) objects."""
    queue: deque[tuple[str, Any, int]] = deque([("", data, 0)])
    while queue:
        path, value, depth = queue.popleft()
        if _is_records(value):
            return path, value
        if isinstance(value, dict) and depth < TABLE_SEARCH_DEPTH:
            for key, child in value.items():
                queue.append((f"{path}.{key}" if path else str(key), child, depth + 1))
    return None


def _cell(record: dict, column: str) -> tuple[str, str]:
    if column not in record:
        return "", "missing"
    value = record[column]
    if isinstance(value, str):
        return clip(value, MAX_CELL_TEXT), "string"
    if isinstance(value, dict | list):
        return clip(compact(value), MAX_CELL_TEXT), "json"
    if value is None:
        return "null", "null"
    if isinstance(value, bool):
        return ("true" if value else "false"), "bool"
    return json.dumps(value), "number"


def build_table(
    data: Any,
    max_rows: int = MAX_TABLE_ROWS,
    max_columns: int = MAX_TABLE_COLUMNS,
    max_cells: int = MAX_TABLE_CELLS,
    max_bytes: int = MAX_TABLE_BYTES,
) -> Table | None:
    """Columns are the union of keys in first-seen order; nested values become compact JSON.

    The first `max_columns` columns are shown, and rows while they fit `max_rows`, `max_cells`
    and about `max_bytes` of HTML (the first row always).
    """
    found = find_records(data)
    if found is None:
        return None
    path, records = found
    every_column = list(dict.fromkeys(key for record in records for key in record))
    columns = every_column[:max_columns]
    row_limit = min(max_rows, max(max_cells // max(len(columns), 1), 1))
    rows: list[list[tuple[str, str]]] = []
    html: list[str] = []
    spent = 0
    for record in records[:row_limit]:
        row = [_cell(record, column) for column in columns]
        cells = "".join(f'<td class="cell-{kind}">{escape(text)}</td>' for text, kind in row)
        spent += len(cells.encode()) + len("<tr></tr>")
        if rows and spent > max_bytes:
            break
        rows.append(row)
        html.append(f"<tr>{cells}</tr>")
    return Table(
        path=path,
        columns=[clip(column, MAX_LABEL) for column in columns],
        rows=rows,
        total_rows=len(records),
        total_columns=len(every_column),
        body=mark_safe("".join(html)),  # noqa: S308 - every cell's text was escaped above
    )


def build_view(data: Any) -> JsonView:
    tree, shown = render_tree(data)
    return JsonView(
        tree=tree, shown_nodes=shown, total_nodes=_count_nodes(data), table=build_table(data)
    )
