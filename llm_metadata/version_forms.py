"""The forms of a new version: regenerate (optional model and parameters) and edit (a question).

Every field may be left out: a new version keeps the old one's model and parameters.
"""

from __future__ import annotations

from typing import Any

from django import forms

from .catalog import OfferedModel
from .forms import QUESTION_MAX_CHARS, RANGES, _range_errors
from .versions import Choices


def _optional(name: str, whole: bool) -> forms.Field:
    label, low, high = RANGES[name]
    field = forms.IntegerField if whole else forms.FloatField
    return field(
        label=label,
        required=False,
        min_value=low,
        max_value=high,
        error_messages=_range_errors(name, whole),
    )


class RegenerateForm(forms.Form):
    model = forms.ChoiceField(
        required=False,
        error_messages={
            "invalid_choice": "Model %(value)s is not offered; pick one from the list."
        },
    )
    temperature = _optional("temperature", False)
    top_k = _optional("top_k", True)
    top_p = _optional("top_p", False)
    max_tokens = _optional("max_tokens", True)

    def __init__(self, *args: Any, offered: list[OfferedModel], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "the same"), *((m.name, m.label) for m in offered)]

    def choices(self) -> Choices:
        data = self.cleaned_data
        return Choices(
            model=data["model"] or None,
            temperature=data["temperature"],
            top_k=data["top_k"],
            top_p=data["top_p"],
            max_tokens=data["max_tokens"],
        )

    def error_dict(self) -> dict[str, list[str]]:
        return {field: [str(m) for m in messages] for field, messages in self.errors.items()}


class EditForm(RegenerateForm):
    question = forms.CharField(
        max_length=QUESTION_MAX_CHARS,
        error_messages={
            "required": "Question is required.",
            "max_length": f"Question can be at most {QUESTION_MAX_CHARS:,} characters.",
        },
    )

    def clean_question(self) -> str:
        return self.cleaned_data["question"].replace("\r\n", "\n")
