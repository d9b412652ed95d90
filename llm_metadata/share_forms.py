"""The share form: what the snapshot shows, an optional last day, and the answer to the scan."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.forms.renderers import Jinja2
from django.utils import timezone

from .share_models import ShareLink
from .sharing import Choices

PUBLISH, LEAVE_OUT = "publish", "leave_out"
# The conversation page's form renders its widgets with Django's own Jinja2 widget templates:
# the same HTML for the fields it shows as the template language's, in half the calls (the
# template language's came to 4,400 a page).
PAGE_RENDERER = Jinja2()


def _box(label: str, *, initial: bool = False) -> forms.BooleanField:
    widget = forms.CheckboxInput(attrs={"class": "form-check-input"})
    return forms.BooleanField(required=False, initial=initial, label=label, widget=widget)


class ShareForm(forms.Form):
    """An unticked box is off: a bare POST shares the messages' text alone."""

    model = _box("Model and parameters", initial=True)
    usage = _box("Tokens, timings and cost")
    system_prompt = _box("System prompt")
    attachments = _box("Attachments' names")
    feedback = _box("My feedback (ratings and comments)")
    owner_name = _box("My user name")
    expires = forms.DateField(
        required=False,
        label="Last day (optional)",
        widget=forms.DateInput(
            attrs={"type": "date", "class": "form-control form-control-sm w-auto"}
        ),
    )
    secrets = forms.ChoiceField(
        required=False, choices=[("", "not asked yet"), (PUBLISH, PUBLISH), (LEAVE_OUT, LEAVE_OUT)]
    )
    findings = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    @classmethod
    def for_link(cls, link: ShareLink | None) -> ShareForm:
        """The form as the conversation page offers it: a shared link's last choices."""
        if link is None:
            return cls(renderer=PAGE_RENDERER)
        initial: dict[str, Any] = dict(link.choices)
        if link.expires is not None:
            initial["expires"] = timezone.localdate(link.expires) - dt.timedelta(days=1)
        return cls(initial=initial, renderer=PAGE_RENDERER)

    def clean_expires(self) -> dt.date | None:
        day = self.cleaned_data["expires"]
        if day is not None and not timezone.localdate() <= day < dt.date.max:
            raise forms.ValidationError("The last day can be today or a later day.")
        return day

    def choices(self) -> Choices:
        return Choices(**{name: self.cleaned_data[name] for name in Choices.__dataclass_fields__})

    def carried(self) -> list[tuple[str, str]]:
        """The valid choices as (name, value) pairs, for the confirmation page to post again."""
        pairs = [(name, "on") for name in Choices.__dataclass_fields__ if self.cleaned_data[name]]
        if self.cleaned_data["expires"] is not None:
            pairs.append(("expires", self.cleaned_data["expires"].isoformat()))
        return pairs

    def expires_at(self) -> dt.datetime | None:
        """The end of the last day in the owner's time zone: the link works through that day."""
        day = self.cleaned_data["expires"]
        if day is None:
            return None
        following = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)
        return timezone.make_aware(following, timezone.get_current_timezone())
