"""The pages' forms: what they clean to, apart from the views that use them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from llm_metadata.page_forms import AnalyticsFilterForm, ImportForm, MessageExportFilter


def test_it_cleans_export_dates_to_a_half_open_utc_range() -> None:
    form = MessageExportFilter({"since": "2026-03-01", "until": "2026-03-31"})
    assert form.is_valid()
    assert form.cleaned_data["since"] == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert form.cleaned_data["until"] == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def test_it_leaves_absent_export_dates_unbounded() -> None:
    form = MessageExportFilter({"until": "9999-12-31"})
    assert form.is_valid()
    assert (form.cleaned_data["since"], form.cleaned_data["until"]) == (None, None)


def test_it_names_a_bad_export_date() -> None:
    form = MessageExportFilter({"since": "yesterday"})
    assert not form.is_valid()
    assert "since" in form.errors


def test_it_bounds_custom_analytics_dates_by_whole_local_days() -> None:
    auckland = dt.timezone(dt.timedelta(hours=13))
    form = AnalyticsFilterForm({"period": "custom", "start": "2026-01-10", "end": "2026-01-11"})
    start, end = form.bounds(auckland)
    assert start == dt.datetime(2026, 1, 9, 11, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 1, 11, 11, tzinfo=dt.UTC)


@pytest.mark.parametrize("query", [None, {"period": "custom", "start": "2026-01-10"}])
def test_it_falls_back_to_the_last_30_days(query: dict | None) -> None:
    start, end = AnalyticsFilterForm(query).bounds(dt.UTC)
    today = dt.datetime.now(dt.UTC).date()
    assert end == dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, dt.UTC)
    assert end - start == dt.timedelta(days=30)


def test_it_refuses_an_import_over_the_upload_limit(settings) -> None:
    settings.MAX_UPLOAD_MB = 0
    form = ImportForm({}, {"json_file": SimpleUploadedFile("big.json", b"{}")})
    assert not form.is_valid()
    assert form.error_text() == "The file is larger than 0 MB."


def test_it_passes_an_empty_import_on_to_the_importer() -> None:
    form = ImportForm({}, {"json_file": SimpleUploadedFile("empty.json", b"")})
    assert form.is_valid()
