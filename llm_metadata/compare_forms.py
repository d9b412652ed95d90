"""The comparison forms: a question to two to four models with shared parameters; a follow-up;
a vote. They only validate: the view hands CompareForm the models on offer."""

from __future__ import annotations

from typing import Any

from django import forms

from .catalog import OfferedModel
from .compare import MAX_MODELS, MIN_MODELS
from .compare_models import Vote
from .forms import QUESTION_MAX_CHARS, RANGES, _float_field, _int_field

QUESTION = {
    "max_length": QUESTION_MAX_CHARS,
    "widget": forms.Textarea(attrs={"rows": 3, "placeholder": "Ask every model…"}),
    "error_messages": {
        "required": "Question is required.",
        "max_length": f"Question can be at most {QUESTION_MAX_CHARS:,} characters.",
    },
}


class FollowUpForm(forms.Form):
    question = forms.CharField(**QUESTION)

    def clean_question(self) -> str:
        return self.cleaned_data["question"].replace("\r\n", "\n")

    def error_dict(self) -> dict[str, list[str]]:
        return {field: [str(m) for m in messages] for field, messages in self.errors.items()}


class CompareForm(FollowUpForm):
    models = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": f"Pick {MIN_MODELS} to {MAX_MODELS} models.",
            "invalid_choice": "Model %(value)s is not offered; pick from the list.",
        },
    )
    temperature = _float_field("temperature")
    top_k = _int_field("top_k")
    top_p = _float_field("top_p")
    max_tokens = _int_field("max_tokens")
    blind = forms.BooleanField(required=False, label="Blind: hide the names until I vote")

    def __init__(self, *args: Any, offered: list[OfferedModel], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["models"].choices = [(model.name, model.label) for model in offered]

    def sliders(self) -> list[forms.BoundField]:
        return [self[name] for name in RANGES]

    def clean_models(self) -> list[str]:
        chosen = list(dict.fromkeys(self.cleaned_data["models"]))
        if not MIN_MODELS <= len(chosen) <= MAX_MODELS:
            raise forms.ValidationError(
                f"Pick {MIN_MODELS} to {MAX_MODELS} different models.", code="count"
            )
        return chosen


class VoteForm(forms.Form):
    choice = forms.ChoiceField(
        choices=Vote.Choice.choices,
        error_messages={
            "required": "Choose a, b, tie or both_bad.",
            "invalid_choice": "Choose a, b, tie or both_bad.",
        },
    )
