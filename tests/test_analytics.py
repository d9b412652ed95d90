"""The analytics page and its aggregations: figures equal hand-computed values."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_metadata import analytics
from llm_metadata.local_dates import offsets_between
from llm_metadata.models import Feedback, Message, ModelProfile
from tests.factories import make_conversation, make_turn

URL = reverse("llm_metadata:analytics")


def reference_percentile(values: list[float], fraction: float) -> float:
    """percentile_cont by hand: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    pos = fraction * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _at(message: Message, moment: dt.datetime) -> None:
    Message.objects.filter(pk=message.pk).update(created=moment)


@pytest.fixture
def fixture_set(alice: User, bob: User) -> dict:
    """Alice: four alpha answers (one error) and one beta answer; bob: noise; one old answer."""
    conv = make_conversation(alice)
    alpha = []
    for elapsed, ttft in ((1.0, 0.1), (2.0, 0.2), (4.0, 0.3), (8.0, 0.4)):
        _, answer = make_turn(
            conv,
            model_name="alpha",
            prompt_tokens=10,
            completion_tokens=20,
            total_tokens=30,
            elapsed_time=elapsed,
            time_to_first_token=ttft,
            cost=Decimal("0.00100000"),
        )
        alpha.append(answer)
    Message.objects.filter(pk=alpha[3].pk).update(status=Message.Status.ERROR)
    other = make_conversation(alice)
    _, beta = make_turn(
        other,
        model_name="beta",
        prompt_tokens=7,
        completion_tokens=3,
        total_tokens=None,
        elapsed_time=3.0,
        time_to_first_token=None,
    )
    for answer, rating in ((alpha[0], 1), (alpha[1], 1), (alpha[2], -1), (beta, -1)):
        Feedback.objects.create(message=answer, user=alice, rating=rating)
    make_turn(make_conversation(bob), model_name="alpha", prompt_tokens=999, elapsed_time=99.0)
    for old in make_turn(conv, model_name="alpha", prompt_tokens=500, elapsed_time=50.0):
        _at(old, timezone.now() - dt.timedelta(days=40))
    return {"alpha": alpha, "beta": beta}


def _scope(owner: User | None, days: int = 30) -> analytics.Scope:
    now = timezone.now()
    return analytics.Scope(owner=owner, start=now - dt.timedelta(days=days), end=now)


def test_it_computes_totals_by_hand(fixture_set: dict, alice: User) -> None:
    totals = analytics.totals(analytics.scoped_messages(_scope(alice)))
    assert totals == {
        "conversations": 2,
        "messages": 10,
        "prompt": 4 * 10 + 7,
        "completion": 4 * 20 + 3,
        "total_cost": Decimal("0.004"),
        "errors": 1,
        "cancelled": 0,
    }


def test_it_computes_the_model_table_by_hand(fixture_set: dict, alice: User) -> None:
    alpha, beta = analytics.model_table(analytics.scoped_messages(_scope(alice)))
    assert (alpha.model, alpha.answers, alpha.prompt_tokens, alpha.completion_tokens) == (
        "alpha",
        4,
        40,
        80,
    )
    assert alpha.tokens == 120
    assert alpha.p50_elapsed == pytest.approx(3.0)
    assert alpha.p95_elapsed == pytest.approx(7.4)
    assert alpha.p50_ttft == pytest.approx(0.25)
    rates = [20 / 0.9, 20 / 1.8, 20 / 3.7, 20 / 7.6]
    assert alpha.mean_tokens_per_second == pytest.approx(sum(rates) / 4)
    assert alpha.error_rate == pytest.approx(0.25)
    assert alpha.cost == Decimal("0.004")
    assert (alpha.thumbs_up, alpha.thumbs_down) == (2, 1)
    assert (beta.model, beta.answers, beta.tokens) == ("beta", 1, 10)
    assert beta.p50_elapsed == pytest.approx(3.0)
    assert beta.p50_ttft is None
    assert beta.mean_tokens_per_second == pytest.approx(1.0)
    assert beta.cost is None
    assert (beta.thumbs_up, beta.thumbs_down) == (0, 1)


def test_it_filters_by_model_and_status(fixture_set: dict, alice: User) -> None:
    now = timezone.now()
    scope = analytics.Scope(
        owner=alice, start=now - dt.timedelta(days=1), end=now, model="alpha", status="ok"
    )
    (alpha,) = analytics.model_table(analytics.scoped_messages(scope))
    assert alpha.answers == 3
    assert alpha.p50_elapsed == pytest.approx(2.0)


def test_it_counts_everyone_for_a_none_owner(fixture_set: dict) -> None:
    totals = analytics.totals(analytics.scoped_messages(_scope(None)))
    assert totals["messages"] == 12
    assert totals["prompt"] == 47 + 999


def test_it_buckets_tokens_by_the_users_local_day(alice: User) -> None:
    conv = make_conversation(alice)
    _, late = make_turn(conv, model_name="alpha", total_tokens=30)
    _, early = make_turn(conv, model_name="alpha", total_tokens=5)
    _at(late, dt.datetime(2026, 1, 10, 23, 30, tzinfo=dt.UTC))
    _at(early, dt.datetime(2026, 1, 10, 1, 0, tzinfo=dt.UTC))
    auckland = zoneinfo.ZoneInfo("Pacific/Auckland")  # UTC+13 in January
    messages = Message.objects.filter(conversation=conv)
    period = (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    assert analytics.tokens_per_day(messages, auckland, *period) == {
        "alpha": {dt.date(2026, 1, 11): 30, dt.date(2026, 1, 10): 5}
    }
    assert analytics.tokens_per_day(messages, dt.UTC, *period) == {
        "alpha": {dt.date(2026, 1, 10): 35}
    }


def test_it_buckets_by_local_day_across_a_daylight_saving_change(alice: User) -> None:
    conv = make_conversation(alice)
    before, after, last = (make_turn(conv, model_name="a", total_tokens=t)[1] for t in (1, 2, 4))
    # Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on 29 March 2026.
    _at(before, dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC))  # 00:30 on the 29th, CET
    _at(after, dt.datetime(2026, 3, 29, 22, 30, tzinfo=dt.UTC))  # 00:30 on the 30th, CEST
    _at(last, dt.datetime(2026, 3, 29, 21, 59, tzinfo=dt.UTC))  # 23:59 on the 29th, CEST
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    period = (dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 30, tzinfo=dt.UTC))
    messages = Message.objects.filter(conversation=conv)
    assert analytics.tokens_per_day(messages, berlin, *period) == {
        "a": {dt.date(2026, 3, 29): 5, dt.date(2026, 3, 30): 2}
    }


def test_it_finds_each_offset_change_of_a_period_to_the_second() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    start, end = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert offsets_between(start, end, berlin) == [
        (dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC), 60),
        (dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.UTC), 120),
        (None, 60),
    ]
    assert offsets_between(start, end, dt.UTC) == [(None, 0)]


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(st.floats(0.001, 100.0), min_size=1, max_size=12),
    fraction=st.sampled_from([0.0, 0.25, 0.5, 0.9, 0.95, 1.0]),
)
@pytest.mark.django_db
def test_it_matches_the_reference_percentile(values: list[float], fraction: float) -> None:
    user, _ = User.objects.get_or_create(username="carol")
    Message.objects.all().delete()
    conv = make_conversation(user)
    Message.objects.bulk_create(
        Message(conversation=conv, role="assistant", model_name=m, elapsed_time=v)
        for m in ("x", "y")
        for v in ([*values, None] if m == "x" else [None, *values[::-1], 1.5])  # NULLs ignored
    )
    answers = Message.objects.filter(role="assistant").order_by().values("model_name")
    grouped = answers.annotate(p=analytics.PercentileCont("elapsed_time", fraction))
    result = {row["model_name"]: row["p"] for row in grouped}
    assert result["x"] == pytest.approx(reference_percentile(values, fraction))
    assert result["y"] == pytest.approx(reference_percentile([*values, 1.5], fraction))


def test_it_renders_the_page_with_the_same_numbers(fixture_set: dict, alice_client: Client) -> None:
    response = alice_client.get(URL, {"period": "7"})
    assert response.status_code == 200
    body = response.content.decode()
    assert '<tr data-model="alpha">' in body
    assert "7.400" in body  # p95 elapsed of alpha
    assert "25.0%" in body  # error rate of alpha
    assert "<svg" in body
    assert response.context["report"].totals["messages"] == 10


def test_it_shows_only_the_users_own_data(fixture_set: dict, bob_client: Client) -> None:
    response = bob_client.get(URL, {"user": "alice"})
    report = response.context["report"]
    assert response.context["owner_label"] == "bob"
    assert report.totals["messages"] == 2
    assert report.models[0].p50_elapsed == pytest.approx(99.0)


def test_it_lets_staff_pick_a_user_or_everyone(fixture_set: dict, admin_client: Client) -> None:
    alice_view = admin_client.get(URL, {"user": "alice"}).context
    assert (alice_view["owner_label"], alice_view["report"].totals["messages"]) == ("alice", 10)
    everyone = admin_client.get(URL, {"user": "*"}).context
    assert everyone["report"].totals["messages"] == 12


def test_it_takes_custom_dates(fixture_set: dict, alice_client: Client) -> None:
    old_day = timezone.localdate() - dt.timedelta(days=40)
    response = alice_client.get(URL, {"period": "custom", "start": old_day, "end": old_day})
    assert response.context["report"].totals["prompt"] == 500


def test_it_explains_bad_custom_dates(alice_client: Client) -> None:
    response = alice_client.get(URL, {"period": "custom", "start": "2026-02-01"})
    assert "need both a start and an end" in response.content.decode()


@pytest.mark.parametrize(
    ("start", "end"), [("9999-12-30", "9999-12-31"), ("0001-01-01", "0001-01-02")]
)
def test_it_refuses_the_first_and_last_dates_instead_of_failing(
    alice_client: Client, start: str, end: str
) -> None:
    alice_client.cookies["tz"] = "Pacific/Auckland"  # its first day starts before year 1 in UTC
    response = alice_client.get(URL, {"period": "custom", "start": start, "end": end})
    assert "Pick dates after 0001-01-01" in response.content.decode()


def test_it_requires_login(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_it_uses_few_queries_whatever_the_row_count(
    fixture_set: dict, alice_client: Client, django_assert_max_num_queries
) -> None:
    conv = make_conversation(fixture_set["beta"].conversation.owner)
    for i in range(30):
        make_turn(conv, model_name=f"m{i % 5}")
    with django_assert_max_num_queries(12):
        assert alice_client.get(URL).status_code == 200


def test_it_reports_the_cost_frozen_at_save_time(alice: User) -> None:
    profile = ModelProfile.objects.create(
        name="alpha", input_price_per_million=Decimal("1"), output_price_per_million=Decimal("2")
    )
    conv = make_conversation(alice)
    _, answer = make_turn(
        conv,
        model_name="alpha",
        prompt_tokens=1000,
        completion_tokens=500,
        cost=profile.cost_for(1000, 500),
    )
    profile.input_price_per_million = Decimal("100")
    profile.save()
    answer.refresh_from_db()
    assert answer.cost == Decimal("0.002")
    (row,) = analytics.model_table(analytics.scoped_messages(_scope(alice)))
    assert row.cost == Decimal("0.002")


def test_it_shows_an_unknown_cost_as_unknown_not_zero(alice: User, alice_client: Client) -> None:
    unpriced = ModelProfile.objects.create(name="beta")
    make_turn(make_conversation(alice), model_name="beta", cost=unpriced.cost_for(10, 5))
    response = alice_client.get(URL)
    assert response.context["report"].totals["total_cost"] is None
    assert response.context["report"].models[0].cost is None
    assert "$0" not in response.content.decode()
