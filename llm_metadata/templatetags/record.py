"""`{{ message|metadata_list }}`: the record's fields of one message as `<dt>`/`<dd>` pairs.

Which fields show, their labels and how values read all come from `record.FIELDS` (output
"page"), so a field added to the record appears on the conversation page without a template
edit.
"""

from __future__ import annotations

from html import escape as escape_text

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .. import record
from ..models import Message

register = template.Library()

# Each page field with the start of its row (its label escaped once here), and whether its
# text can hold markup: numbers, yes/no, amounts and dates as `record.display` prints them cannot.
_TEXT_KINDS = {record.Kind.TEXT, record.Kind.CHOICE, record.Kind.JSON}
_ROWS = tuple(
    (f, f'<dt class="col-sm-3">{escape(f.label)}</dt><dd class="col-sm-9">', f.kind in _TEXT_KINDS)
    for f in record.fields_in("page")
)


@register.filter(name="metadata_list", is_safe=True)
def metadata_list(message: Message) -> SafeString:
    """Every page field of the message with its value ("—" where none).

    Text goes through `html.escape`, which is what Django's `escape` runs, without the
    lazy-text wrapper around it (a dozen calls a value, 23 values a message)."""
    rows = []
    for f, head, text in _ROWS:
        shown = record.display(f, f.value(message))
        rows.append(f"{head}{escape_text(shown) if text else shown}</dd>")
    return mark_safe("".join(rows))  # noqa: S308 (every label and text escaped above)
