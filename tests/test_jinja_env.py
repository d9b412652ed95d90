"""The message partials' filters print exactly what Django's own filters print."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.template import defaultfilters
from django.urls import reverse, set_script_prefix
from django.utils import timezone
from django.utils.formats import localize
from hypothesis import given
from hypothesis import strategies as st

from llm_metadata.jinja_env import _date, _finalize, _floatformat, _url

ZONES = ("UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham")


@given(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=1, max_value=9))
def test_floatformat_matches_django_for_floats(value: float, places: int) -> None:
    assert _floatformat(value, places) == defaultfilters.floatformat(value, places)


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=8, max_value=10**6, min_value=-1),
    st.integers(min_value=1, max_value=9),
)
def test_floatformat_matches_django_for_decimals(value: Decimal, places: int) -> None:
    assert _floatformat(value, places) == defaultfilters.floatformat(value, places)


@pytest.mark.parametrize("value", [0.125, 2.675, -0.0001, 1e-05, 1e16, 0.0, -0.0, 5, None, "x"])
def test_floatformat_matches_django_at_the_edges(value: object) -> None:
    for places in (1, 2, 3, 6):
        assert _floatformat(value, places) == defaultfilters.floatformat(value, places)


@given(st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True)))
def test_numbers_print_as_django_localizes_them(value: float) -> None:
    assert str(_finalize(value)) == str(localize(value))


def test_other_values_print_unchanged() -> None:
    for value in (True, None, "0.7", Decimal("1.50")):
        assert str(_finalize(value)) == str(localize(value))


@given(
    st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.just(dt.UTC),
    ),
    st.sampled_from(ZONES),
)
def test_dates_print_as_django_prints_them_in_the_viewers_zone(
    moment: dt.datetime, zone: str
) -> None:
    with timezone.override(zone):
        for fmt in ("c", "Y-m-d H:i:s T", "Y-m-d"):
            assert _date(moment, fmt) == defaultfilters.date(timezone.localtime(moment), fmt)


def test_urls_match_reverse_with_a_script_prefix() -> None:
    try:
        for prefix in ("/", "/app%20x/"):
            set_script_prefix(prefix)
            for name in ("llm_metadata:message-feedback", "llm_metadata:attachment-download"):
                for pk in (1, 42, 987654321, 10**15):
                    assert _url(name, pk) == reverse(name, args=[pk])
    finally:
        set_script_prefix("/")


def test_infinity_and_nan_fall_back_to_django() -> None:
    for value in (math.inf, -math.inf, math.nan):
        assert _floatformat(value, 2) == defaultfilters.floatformat(value, 2)
