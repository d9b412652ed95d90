"""`{{ message|metadata_list }}`: the record's fields of one message as `<dt>`/`<dd>` pairs.

Which fields show, their labels and how values read all come from `record.FIELDS` (output
"page"), so a field added to the record appears on the conversation page without a template
edit.
"""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .. import record
from ..models import Message

register = template.Library()

_PAGE_FIELDS = record.fields_in("page")
_ROW = '<dt class="col-sm-3">{}</dt><dd class="col-sm-9">{}</dd>'


@register.filter(name="metadata_list", is_safe=True)
def metadata_list(message: Message) -> SafeString:
    """Every page field of the message with its value ("—" where none)."""
    rows = [
        _ROW.format(escape(f.label), escape(record.display(f, f.value(message))))
        for f in _PAGE_FIELDS
    ]
    return mark_safe("".join(rows))  # noqa: S308 (every label and value escaped above)
