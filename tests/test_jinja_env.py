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


# The version table's row as the template printed it before `version_cells` (kept here to
# hold the filter to it).
_ROW_TEMPLATE = (
    "{% set tps = v.tokens_per_second %}"
    "{% set fb = v.viewer_feedback if v.viewer_feedback is defined else none %}"
    '<td>{{ v.model_name or "—" }}</td>\n'
    '      <td>t {{ v.temperature|default_if_none("—") }} · k {{ v.top_k|default_if_none("—") }}'
    ' · p {{ v.top_p|default_if_none("—") }} · max {{ v.max_tokens|default_if_none("—") }}</td>\n'
    '      <td>{{ v.prompt_tokens|default_if_none("—") }} + '
    '{{ v.completion_tokens|default_if_none("—") }}</td>\n'
    "      <td>{% if v.elapsed_time is none %}—{% else %}"
    "{{ v.elapsed_time|floatformat(2) }} s{% endif %}</td>\n"
    "      <td>{% if v.time_to_first_token is none %}—{% else %}"
    "{{ v.time_to_first_token|floatformat(2) }} s{% endif %}</td>\n"
    "      <td>{% if tps is none %}—{% else %}{{ tps|floatformat(1) }}{% endif %}</td>\n"
    "      <td>{% if v.cost is none %}—{% else %}${{ v.cost }}{% endif %}</td>\n"
    "      <td>{% if fb %}{% if fb.rating == 1 %}👍{% else %}👎{% endif %}"
    "{% if fb.comment %} {{ fb.comment }}{% endif %}{% else %}—{% endif %}</td>"
)


@pytest.mark.parametrize("filled", [True, False])
@pytest.mark.parametrize("feedback", [None, (1, ""), (-1, "so-so <b>\"bold\"</b> & 'quoted'")])
def test_version_cells_print_what_the_template_printed(
    filled: bool, feedback: tuple[int, str] | None
) -> None:
    from django.template import engines

    from llm_metadata.models import Feedback, Message

    env = engines["jinja2"].env
    fields = {
        "model_name": 'model <"x">',
        "temperature": 0.7,
        "top_k": 40,
        "top_p": 0.95,
        "max_tokens": 600,
        "prompt_tokens": 1234,
        "completion_tokens": 5678,
        "elapsed_time": 2.675,
        "time_to_first_token": 0.125,
        "cost": Decimal("0.000120"),
    }
    version = Message(**fields) if filled else Message()
    if feedback is not None:
        version.viewer_feedback = Feedback(rating=feedback[0], comment=feedback[1])
    expected = env.from_string(_ROW_TEMPLATE).render(v=version)
    assert env.from_string("{{ v|version_cells }}").render(v=version) == expected
