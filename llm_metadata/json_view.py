"""The JSON viewer's logic: decode an upload, render a collapsible tree and a table of records.

Everything user-supplied is escaped here (the tree is built as HTML in Python for speed);
large documents are shown in part, with a note, and stay complete in the download.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MAX_TREE_NODES = 5000
MAX_TABLE_ROWS = 2000
MAX_DEPTH = 64  # deeper values are shown as compact JSON text
OPEN_DEPTH = 3  # levels expanded on arrival
TABLE_SEARCH_DEPTH = 3  # how deep under objects a list of records is looked for
MAX_TEXT = 2000  # characters of one value shown; the download keeps everything


class JsonInputError(ValueError):
    """An upload that is not a JSON document; `message` says why, for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Table:
    """A list of records as rows: `path` locates the list in the document ("" at the top)."""

    path: str
    columns: list[str]
    rows: list[list[tuple[str, str]]]  # per cell: (text shown, kind for styling)
    total_rows: int


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
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonInputError(
            f"The file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}). "
            "Save it as UTF-8 and upload it again."
        ) from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
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
    _check_writable(data)
    return data


def _check_writable(data: Any) -> None:
    """Refuse what parses but cannot be written back: a lone surrogate, a float past 1.8e308.

    Writing it all out costs about 15 ms a MB; a regular expression looking for the rare cases
    first was slower, and much slower on long runs of digits.
    """
    try:
        json.dumps(data, ensure_ascii=False, allow_nan=False).encode()
    except RecursionError:
        raise JsonInputError("Invalid JSON: the document is nested too deeply.") from None
    except UnicodeEncodeError:
        raise JsonInputError(
            "The file has a \\u escape that is half of a surrogate pair, which is no character."
        ) from None
    except ValueError:
        raise JsonInputError(
            "The file has a number too large to be read (beyond ±1.8e308)."
        ) from None


def pretty(data: Any) -> str:
    """The formatted document offered for download."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def form_text(raw: bytes, data: Any) -> str:
    """The uploaded document on one line, never longer than the upload, for a form to post back.

    Compact JSON is usually the shorter, but not always (`1e9` becomes `1000000000.0`); else the
    upload itself, its line breaks as spaces (a browser would post each as CRLF; JSON has none
    inside strings).
    """
    text = compact(data)
    if len(text.encode()) <= len(raw):
        return text
    return raw.decode("utf-8-sig").replace("\r", " ").replace("\n", " ")


def _count_nodes(data: Any) -> int:
    count, stack = 0, [data]
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def clip(text: str) -> str:
    """Long text cut to MAX_TEXT characters, saying how much was left out."""
    if len(text) <= MAX_TEXT:
        return text
    return f"{text[:MAX_TEXT]}… ({len(text) - MAX_TEXT} more characters)"


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
    """Writes nested <details> until the node budget is spent."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.shown = 0
        self.parts: list[str] = []

    def write(self, label: str, value: Any, depth: int) -> None:
        self.shown += 1
        key = f'<span class="json-key">{escape(label)}</span>: ' if label else ""
        if not isinstance(value, dict | list) or not value:
            text = (
                _scalar_html(value)
                if not isinstance(value, dict | list)
                else escape(clip(compact(value)))
            )
            self.parts.append(f'<div class="json-leaf">{key}{text}</div>')
            return
        if depth >= MAX_DEPTH:
            self.parts.append(
                f'<div class="json-leaf">{key}<code>{escape(clip(compact(value)))}</code></div>'
            )
            return
        opened = " open" if depth < OPEN_DEPTH else ""
        self.parts.append(f"<details{opened}><summary>{key}{escape(_summary(value))}</summary>")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for child_key, child in items:
            if self.shown >= self.budget:
                self.parts.append('<div class="json-more">… more not shown</div>')
                break
            self.write(str(child_key), child, depth + 1)
        self.parts.append("</details>")


def render_tree(data: Any, budget: int = MAX_TREE_NODES) -> tuple[SafeString, int]:
    """The document as nested <details> (escaped) and the number of nodes shown."""
    writer = _TreeWriter(budget)
    writer.write("", data, 0)
    html = '<div class="json-tree">' + "".join(writer.parts) + "</div>"
    return mark_safe(html), writer.shown  # noqa: S308 - every value was escaped by the writer


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def find_records(data: Any) -> tuple[str, list[dict]] | None:
    """The first list of objects: the document itself, or a value of (nested) objects."""
    queue: list[tuple[str, Any, int]] = [("", data, 0)]
    while queue:
        path, value, depth = queue.pop(0)
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
        return clip(value), "string"
    if isinstance(value, dict | list):
        return clip(compact(value)), "json"
    if value is None:
        return "null", "null"
    if isinstance(value, bool):
        return ("true" if value else "false"), "bool"
    return json.dumps(value), "number"


def build_table(data: Any, max_rows: int = MAX_TABLE_ROWS) -> Table | None:
    """Columns are the union of keys in first-seen order; nested values become compact JSON."""
    found = find_records(data)
    if found is None:
        return None
    path, records = found
    columns = list(dict.fromkeys(key for record in records for key in record))
    rows = [[_cell(record, column) for column in columns] for record in records[:max_rows]]
    return Table(path=path, columns=columns, rows=rows, total_rows=len(records))


def build_view(data: Any) -> JsonView:
    tree, shown = render_tree(data)
    return JsonView(
        tree=tree, shown_nodes=shown, total_nodes=_count_nodes(data), table=build_table(data)
    )
