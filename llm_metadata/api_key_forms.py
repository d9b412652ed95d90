"""The form of the API keys page: a name and an optional expiry date."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    expires = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="optional: the key stops working at the start of this day (UTC)",
    )

    def clean_expires(self) -> dt.datetime | None:
        day = self.cleaned_data["expires"]
        if day is None:
            return None
        moment = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
        if moment <= timezone.now():
            raise forms.ValidationError("Choose a day after today.")
        return moment
