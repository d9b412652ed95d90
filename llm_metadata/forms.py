"""The chat form: a question, the model and its sampling parameters, an optional file.

Forms only validate: the view hands ChatForm the models on offer (no cache or endpoint here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from . import files
from .catalog import OfferedModel
from .files import Attachment
from .models import Message, ModelProfile

QUESTION_MAX_CHARS = 100_000
SYSTEM_PROMPT_MAX_CHARS = 20_000
# (field, label, low, high): the ranges SPEC sets, named in every error message.
RANGES = {
    "temperature": ("Temperature", 0.0, 1.0),
    "top_k": ("Top K", 0, 100),
    "top_p": ("Top P", 0.0, 1.0),
    "max_tokens": ("Max tokens", 1, 3000),
}


def _range_errors(name: str, whole: bool) -> dict[str, str]:
    label, low, high = RANGES[name]
    kind = "a whole number" if whole else "a number"
    between = f"{label} must be {kind} from {low:g} to {high:g}."
    return {
        "required": f"{label} is required.",
        "invalid": between,
        "min_value": between,
        "max_value": between,
    }


def _float_field(name: str) -> forms.FloatField:
    label, low, high = RANGES[name]
    widget = forms.NumberInput(attrs={"type": "range", "step": "0.01"})
    return forms.FloatField(
        label=label,
        min_value=low,
        max_value=high,
        widget=widget,
        error_messages=_range_errors(name, False),
    )


def _int_field(name: str) -> forms.IntegerField:
    label, low, high = RANGES[name]
    widget = forms.NumberInput(attrs={"type": "range", "step": "1"})
    return forms.IntegerField(
        label=label,
        min_value=low,
        max_value=high,
        widget=widget,
        error_messages=_range_errors(name, True),
    )


def profile_defaults(profile: ModelProfile) -> dict[str, Any]:
    """A model's default sampling parameters, keyed by form field."""
    return {
        "temperature": profile.default_temperature,
        "top_k": profile.default_top_k,
        "top_p": profile.default_top_p,
        "max_tokens": profile.default_max_tokens,
    }


class ChatForm(forms.Form):
    question = forms.CharField(
        max_length=QUESTION_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Ask anything…"}),
        error_messages={
            "required": "Question is required.",
            "max_length": f"Question can be at most {QUESTION_MAX_CHARS:,} characters.",
        },
    )
    model = forms.ChoiceField(
        error_messages={
            "required": "Model is required.",
            "invalid_choice": "Model %(value)s is not offered; pick one from the list.",
        },
    )
    temperature = _float_field("temperature")
    top_k = _int_field("top_k")
    top_p = _float_field("top_p")
    max_tokens = _int_field("max_tokens")
    system_prompt = forms.CharField(
        required=False,
        max_length=SYSTEM_PROMPT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Optional instructions"}),
        error_messages={
            "max_length": f"System prompt can be at most {SYSTEM_PROMPT_MAX_CHARS:,} characters."
        },
    )
    file_upload = forms.FileField(
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": files.ACCEPT}),
        error_messages={"empty": "File is empty.", "invalid": "File could not be read."},
    )

    def __init__(self, *args: Any, offered: list[OfferedModel], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offered = offered  # the choices, and the page's model options
        self.fields["model"].choices = [(model.name, model.label) for model in offered]

    def chosen_profile(self) -> ModelProfile | None:
        """The profile of the model a valid form chose (already read with the choices)."""
        name = self.cleaned_data.get("model")
        return next((model.profile for model in self.offered if model.name == name), None)

    def sliders(self) -> list[forms.BoundField]:
        """The sampling parameters, shown as sliders."""
        return [self[name] for name in RANGES]

    def clean_question(self) -> str:
        """Line ends as \n, whatever the browser sent (form posts use \r\n)."""
        return self.cleaned_data["question"].replace("\r\n", "\n")

    def clean_system_prompt(self) -> str:
        return self.cleaned_data["system_prompt"].replace("\r\n", "\n")

    def clean_file_upload(self) -> Attachment | None:
        upload = self.cleaned_data.get("file_upload")
        if not upload:
            return None
        try:
            text = files.extract_text(upload)
        except files.FileRejected as exc:
            raise forms.ValidationError(f"File: {exc.message}", code="file") from None
        return Attachment(upload=upload, name=upload.name[-255:], text=text)

    def error_dict(self) -> dict[str, list[str]]:
        """Errors by field, for the streaming endpoint's JSON answer."""
        return {field: [str(m) for m in messages] for field, messages in self.errors.items()}


@dataclass(frozen=True)
class ModelOption:
    """A model offered in the form, with the defaults its profile sets."""

    name: str
    label: str
    defaults: dict[str, Any]


def model_options(offered: list[OfferedModel]) -> list[ModelOption]:
    """The offered models with their profiles' defaults."""
    return [ModelOption(m.name, m.label, profile_defaults(m.profile)) for m in offered]


def initial_for(options: list[ModelOption], last: Message | None = None) -> dict[str, Any]:
    """The form's starting values: the last question's choices, else the first model's defaults."""
    if last is not None and any(o.name == last.model_name for o in options):
        values = {
            "model": last.model_name,
            "temperature": last.temperature,
            "top_k": last.top_k,
            "top_p": last.top_p,
            "max_tokens": last.max_tokens,
        }
        if all(value is not None for value in values.values()):
            return values
    if not options:
        return {"model": "", **profile_defaults(ModelProfile(name=""))}
    return {"model": options[0].name, **options[0].defaults}
