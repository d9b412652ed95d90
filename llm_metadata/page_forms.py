"""The pages' forms: history filters and rename, analytics filters, export, import, JSON viewer.

`forms.py` holds the chat form (its fields, ranges and starting values); this module holds the
forms of the other pages, so the views only handle the request and pass `cleaned_data` on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from . import files, json_view, selectors
from .models import Message

PERIODS = (
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("custom", "Dates"),
)
DEFAULT_PERIOD = "30"


def _check_reach(*days: dt.date | None) -> None:
    """Refuse the first and last dates: a local day's bounds, in any zone, must be datetimes."""
    if any(day in (dt.date.min, dt.date.max) for day in days):
        raise forms.ValidationError("Pick dates after 0001-01-01 and before 9999-12-31.")


class HistoryFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, strip=True, label="Search")
    model = forms.CharField(required=False, max_length=200, label="Model")
    source = forms.ChoiceField(
        choices=[("", "Any source"), *Message.Source.choices], required=False
    )
    key = forms.CharField(required=False, max_length=100, label="API key")
    start = forms.DateField(required=False, label="From")
    end = forms.DateField(required=False, label="To")

    def clean(self) -> dict:
        data = super().clean()
        _check_reach(data.get("start"), data.get("end"))
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def filters(self) -> selectors.HistoryFilters:
        """The valid filters; an invalid form filters nothing (its errors are shown)."""
        if not self.is_valid():
            return selectors.HistoryFilters()
        data = self.cleaned_data
        return selectors.HistoryFilters(
            query=data["q"],
            model=data["model"],
            source=data["source"],
            api_key=data["key"],
            start=data["start"],
            end=data["end"],
        )


class RenameForm(forms.Form):
    title = forms.CharField(max_length=200, strip=True)


class AnalyticsFilterForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    model = forms.CharField(required=False, max_length=200)
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Message.Status.choices], required=False
    )
    source = forms.ChoiceField(
        choices=[("", "Any source"), *Message.Source.choices], required=False
    )
    key = forms.CharField(required=False, max_length=100)
    user = forms.CharField(required=False, max_length=150)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("period") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("Custom dates need both a start and an end date.")
            _check_reach(start, end)
            if start > end:
                raise forms.ValidationError("The start date is after the end date.")
            if (end - start).days > 3660:
                raise forms.ValidationError("Pick a period of at most ten years.")
        return data

    def valid_data(self) -> dict:
        """The cleaned data of a bound, valid form; otherwise nothing (the defaults apply)."""
        return self.cleaned_data if self.is_bound and self.is_valid() else {}

    def bounds(self, tzinfo: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """Half-open [start, end) in UTC covering whole local days (the last 30 by default)."""
        data = self.valid_data()
        if data.get("period") == "custom":
            first, last = data["start"], data["end"]
        else:
            last = timezone.localdate(timezone=tzinfo)
            first = last - dt.timedelta(days=int(data.get("period") or DEFAULT_PERIOD) - 1)
        start = dt.datetime.combine(first, dt.time.min, tzinfo=tzinfo)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tzinfo)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, dt.UTC)


class MessageExportFilter(forms.Form):
    """The messages export's filters; `since` and `until` clean to a half-open UTC range."""

    user = forms.CharField(required=False, max_length=150)
    model = forms.CharField(required=False, max_length=200)
    source = forms.ChoiceField(
        choices=[("", "Any source"), *Message.Source.choices], required=False
    )
    key = forms.CharField(required=False, max_length=100, label="API key")
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)
    active = forms.BooleanField(required=False)  # the active path only (no other versions)

    def clean_since(self) -> dt.datetime | None:
        """The start of the day (UTC), inclusive."""
        day = self.cleaned_data["since"]
        return _utc_midnight(day) if day else None

    def clean_until(self) -> dt.datetime | None:
        """The start of the next day (UTC), exclusive: the whole day is in."""
        day = self.cleaned_data["until"]
        if day is None or day == dt.date.max:  # the last date has no next day: no bound
            return None
        return _utc_midnight(day + dt.timedelta(days=1))


class ImportForm(forms.Form):
    """A JSON file exported by this app, within the upload limit (its content is the importer's)."""

    json_file = forms.FileField(
        allow_empty_file=True,  # an empty file is the importer's to name
        error_messages={"required": "Choose a conversation JSON file to import."},
    )

    def clean_json_file(self) -> UploadedFile:
        upload = self.cleaned_data["json_file"]
        if upload.size > files.limit_bytes():
            raise forms.ValidationError(f"The file is larger than {settings.MAX_UPLOAD_MB} MB.")
        return upload

    def error_text(self) -> str:
        return " ".join(self.errors.get("json_file", []))


# The page carries the document for the download button, which posts it back as a text field of
# a multipart form. Django counts such a field (a file part it does not) against
# DATA_UPLOAD_MAX_MEMORY_SIZE (5 MB), at its raw size: URL-encoded, punctuation would take three
# bytes. `json_view.form_text` is never longer than the upload, so this cap keeps the post under
# that limit. It is below MAX_UPLOAD_MB also because a parsed document takes 5 to 16 times its
# size in memory. The tree and table are capped separately.
VIEWER_MAX_BYTES = 4 * 1024 * 1024


def viewer_max_bytes() -> int:
    return min(files.limit_bytes(), VIEWER_MAX_BYTES)


class JsonUploadForm(forms.Form):
    """Validates the upload's size and JSON; the parsed document is left in `document`, its
    compact text in `compact`."""

    json_file = forms.FileField(label="JSON file")
    document: Any = None
    compact = ""  # the document as compact JSON
    raw = b""

    def clean_json_file(self) -> UploadedFile:
        upload = self.cleaned_data["json_file"]
        if upload.size > viewer_max_bytes():
            raise forms.ValidationError(
                f"The file is {upload.size / 1048576:.1f} MB; the viewer takes up to "
                f"{viewer_max_bytes() // 1048576} MB."
            )
        self.raw = upload.read()
        try:
            self.document, self.compact = json_view.decode_with_text(self.raw)
        except json_view.JsonInputError as exc:
            raise forms.ValidationError(exc.message) from None
        return upload
