"""Text the database can store: PostgreSQL refuses the NUL character in text and jsonb columns.

Forms already refuse NUL in what a person types (Django's CharField); text that reaches the
database any other way (extracted from a file, sent by the endpoint, imported) passes through here.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"


def without_nul(value: Any) -> Any:
    """`value` with NUL dropped from every string in it (JSON-like dicts and lists included).

    NUL carries no meaning in text a person reads, so dropping it loses nothing they would see.
    """
    if isinstance(value, str):
        return value.replace(NUL, "")
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value
