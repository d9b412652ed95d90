"""Analytics from the daily roll-ups: the same figures as from the messages, whatever was rolled,
changed since, or viewed from which time zone; percentiles within the histograms' stated error."""

from __future__ import annotations

import datetime as dt
import math
import random
import zoneinfo
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_metadata import analytics, imports, rollups, usage
from llm_metadata.models import Conversation, Feedback, Message
from llm_metadata.usage_models import RolledDay, UsageBin, UsageQuarter
from tests.factories import make_conversation, make_turn
from tests.test_analytics import reference_percentile

# The largest error of a percentile read from the histograms: one bin's width.
BIN_ERROR = math.exp(1 / rollups.BINS_PER_E) - 1
ZONES = ("UTC", "Pacific/Auckland", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York")
NOW = timezone.now()


def _at(message: Message, moment: dt.datetime) -> None:
    Message.objects.filter(pk=message.pk).update(created=moment)


@pytest.fixture
def history(alice: User, bob: User) -> list[Message]:
    """Twelve days of turns at every hour of the day, three models, every status, known and
    unknown costs, feedback from both users; returns the answers."""
    rng = random.Random(12)
    answers = []
    for owner in (alice, bob):
        for day in range(12):
            conversation = make_conversation(owner)
            for turn in range(9):
                # Oldest turn first, as a conversation grows (each message follows the last).
                hours = (8 - turn) * 2.7
                moment = NOW - dt.timedelta(days=day, hours=hours, minutes=rng.randint(0, 59))
                status = rng.choice(["ok"] * 6 + ["error", "cancelled"])
                asked, answered = make_turn(
                    conversation,
                    model_name=rng.choice(["alpha", "beta", "gamma"]),
                    prompt_tokens=rng.randint(1, 500),
                    completion_tokens=rng.choice([None, rng.randint(1, 900)]),
                    total_tokens=rng.choice([None, rng.randint(1, 1500)]),
                    elapsed_time=rng.choice([None, 0.0, rng.lognormvariate(0.3, 0.8)]),
                    time_to_first_token=rng.choice([None, rng.uniform(0.01, 0.9)]),
                    status=status,
                    cost=rng.choice([None, Decimal(rng.randint(1, 10_000)) / 10**8]),
                )
                _at(asked, moment)
                _at(answered, moment + dt.timedelta(seconds=3))
                answered.created = moment + dt.timedelta(seconds=3)
                answers.append(answered)
                if rng.random() < 0.3:
                    voter, rating = rng.choice([alice, bob]), rng.choice([1, -1])
                    Feedback.objects.create(message=answered, user=voter, rating=rating)
    return answers


def scope(owner: User | None, tzinfo: dt.tzinfo, days: int = 10, **filters: str) -> analytics.Scope:
    """A period of whole local days in `tzinfo`, as the analytics form gives it."""
    today = NOW.astimezone(tzinfo).date()
    start = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time.min, tzinfo)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo)
    return analytics.Scope(owner=owner, start=start, end=end, **filters)


def assert_same_report(scope_: analytics.Scope, tzinfo: dt.tzinfo) -> None:
    expected = analytics.report(scope_, tzinfo)
    found = usage.report(scope_, tzinfo)
    assert found.totals == expected.totals
    assert found.days == expected.days
    assert found.tokens_by_day == expected.tokens_by_day
    assert [row.model for row in found.models] == [row.model for row in expected.models]
    for got, want in zip(found.models, expected.models, strict=True):
        exact = ("answers", "prompt_tokens", "completion_tokens", "tokens", "errors", "cost")
        for name in (*exact, "thumbs_up", "thumbs_down"):
            assert getattr(got, name) == getattr(want, name), (got.model, name)
        # Sums of floats in another order: equal to the last few bits.
        assert got.mean_tokens_per_second == pytest.approx(want.mean_tokens_per_second, rel=1e-9)
        for name in ("p50_elapsed", "p95_elapsed", "p50_ttft"):
            value, reference = getattr(got, name), getattr(want, name)
            if reference is None:
                assert value is None
            else:
                assert value == pytest.approx(reference, rel=BIN_ERROR, abs=1e-12), (got, name)


@pytest.mark.parametrize("zone", ZONES)
def test_rolled_up_figures_equal_the_messages_figures(
    history: list[Message], alice: User, zone: str
) -> None:
    call_command("rollup_usage", verbosity=0)
    assert RolledDay.objects.count() >= 10
    tzinfo = zoneinfo.ZoneInfo(zone)
    for owner in (alice, None):
        assert_same_report(scope(owner, tzinfo), tzinfo)
        assert_same_report(scope(owner, tzinfo, days=3), tzinfo)
    assert_same_report(scope(alice, tzinfo, model="beta"), tzinfo)
    assert_same_report(scope(None, tzinfo, status="error"), tzinfo)


def test_it_reads_the_messages_where_nothing_is_rolled_up(history: list[Message]) -> None:
    assert not UsageQuarter.objects.exists()
    assert_same_report(scope(None, dt.UTC), dt.UTC)


def test_the_figures_follow_changes_made_after_a_roll(
    history: list[Message], alice: User, bob: User, django_capture_on_commit_callbacks
) -> None:
    call_command("rollup_usage", verbosity=0)
    tzinfo = zoneinfo.ZoneInfo("Asia/Kolkata")
    old = next(a for a in history if (NOW - a.created).days == 5)
    with django_capture_on_commit_callbacks(execute=True):
        vote = Feedback.objects.filter(message=old, user=bob).first()
        rating = -vote.rating if vote else 1
        Feedback.objects.update_or_create(message=old, user=bob, defaults={"rating": rating})
        Conversation.objects.filter(pk=history[-1].conversation_id).delete()
        other = next(a for a in history if (NOW - a.created).days == 7 and a.status == "ok")
        Message.objects.filter(pk=other.pk).first().delete()
        imports.import_conversations(owner=alice, raw=_exported(old.conversation))
    assert_same_report(scope(alice, tzinfo), tzinfo)
    assert_same_report(scope(None, tzinfo), tzinfo)
    stale = rollups.days_to_roll()
    assert old.created.astimezone(dt.UTC).date() in stale
    call_command("rollup_usage", verbosity=0)
    assert rollups.days_to_roll() == [timezone.now().astimezone(dt.UTC).date()]  # today, always
    assert_same_report(scope(None, tzinfo), tzinfo)


def test_today_is_rolled_up_to_shortly_before_the_roll(
    history: list[Message], alice: User, django_capture_on_commit_callbacks
) -> None:
    call_command("rollup_usage", verbosity=0)
    today = RolledDay.objects.get(day=timezone.now().astimezone(dt.UTC).date())
    assert timezone.now() - today.until < rollups.GRACE + dt.timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        make_turn(make_conversation(alice), model_name="alpha", cost=Decimal("0.5"))  # after it
    assert_same_report(scope(alice, dt.UTC, days=1), dt.UTC)
    earlier = next(a for a in history if a.created.date() == today.day and a.created < today.until)
    with django_capture_on_commit_callbacks(execute=True):
        Message.objects.get(pk=earlier.pk).delete()  # covered by today's roll: marks it
    today.refresh_from_db()
    assert today.changed is not None
    assert_same_report(scope(None, zoneinfo.ZoneInfo("Asia/Kathmandu"), days=2), dt.UTC)


def _exported(conversation: Conversation) -> bytes:
    from llm_metadata import exports

    return exports.conversation_json(conversation).encode()


def test_the_command_is_idempotent(history: list[Message], capsys) -> None:
    call_command("rollup_usage")
    first = capsys.readouterr().out
    call_command("rollup_usage")
    assert "1 day(s) rolled up" in capsys.readouterr().out  # today again
    assert int(first.split()[0]) >= 12  # every day with messages, the first time
    rows = UsageQuarter.objects.count()
    call_command("rollup_usage", "--all")
    assert UsageQuarter.objects.count() == rows


def test_a_turn_today_costs_no_query_for_the_rollups(
    alice: User, django_capture_on_commit_callbacks
) -> None:
    conversation = make_conversation(alice)
    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
    ):
        make_turn(conversation)  # the two rows (and their tree and token counters), no roll-up
    assert sum(q["sql"].startswith("INSERT") for q in queries) >= 2
    rollup_tables = [model._meta.db_table for model in (UsageQuarter, UsageBin, RolledDay)]
    touched = [q["sql"] for q in queries if any(t in q["sql"] for t in rollup_tables)]
    assert touched == []


def test_the_page_reads_the_rollups_with_few_queries(
    history: list[Message], alice_client: Client, django_assert_max_num_queries
) -> None:
    call_command("rollup_usage", verbosity=0)
    with django_assert_max_num_queries(14):
        response = alice_client.get(reverse("llm_metadata:analytics"), {"period": "30"})
    assert response.status_code == 200
    shown = response.context["report"]
    assert (
        shown.totals["messages"]
        == analytics.report(response.context["scope"], timezone.get_current_timezone()).totals[
            "messages"
        ]
    )


@pytest.mark.parametrize("values", [[2.0], [1.0, 3.0], [0.5, 0.5, 0.5, 7.25], [0.0, 0.0, 4.0]])
def test_percentiles_of_bins_holding_one_or_two_values_are_exact(values: list[float]) -> None:
    bins: dict[int, rollups.Bin] = {}
    for value in values:
        number = math.floor(math.log(value) * rollups.BINS_PER_E) if value > 0 else -1
        found = bins.setdefault(number, rollups.Bin(0, value, value))
        found.add(1, value, value)
    for fraction in (0.0, 0.5, 0.95, 1.0):
        assert usage.percentile(bins, fraction) == pytest.approx(
            reference_percentile(values, fraction)
        )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0.001, max_value=600.0), min_size=1, max_size=400),
    st.sampled_from([0.5, 0.95]),
)
def test_percentiles_of_histograms_stay_within_one_bin(
    values: list[float], fraction: float
) -> None:
    bins: dict[int, rollups.Bin] = {}
    for value in values:
        number = math.floor(math.log(value) * rollups.BINS_PER_E)
        if number in bins:
            bins[number].add(1, value, value)
        else:
            bins[number] = rollups.Bin(1, value, value)
    reference = reference_percentile(values, fraction)
    assert usage.percentile(bins, fraction) == pytest.approx(reference, rel=BIN_ERROR)
