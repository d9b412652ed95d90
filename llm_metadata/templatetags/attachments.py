"""Template filters for attached files."""

from __future__ import annotations

from django import template

from .. import files

register = template.Library()


@register.filter
def was_cut(text: str) -> bool:
    """Whether a file's extracted text was cut (it ends with the note that says so)."""
    return files.was_cut(text or "")
