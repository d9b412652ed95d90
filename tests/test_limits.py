"""Limits per user (llm_metadata.limits): the minute's calls, the local day's and month's tokens,
the overrides, and what a stored answer is charged."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from llm_metadata import counters, limits
from llm_metadata.limits_models import GroupLimit, UserLimit
from llm_metadata.models import Counter, Message
from tests.factories import make_conversation
from tests.test_counters import redis_counters  # noqa: F401 (a fixture, used by name)

pytestmark = pytest.mark.django_db
KIRITIMATI = zoneinfo.ZoneInfo("Pacific/Kiritimati")  # UTC+14: its day starts 10:00 UTC before
LOS_ANGELES = zoneinfo.ZoneInfo("America/Los_Angeles")  # UTC-8 in December


@pytest.fixture
def clock(monkeypatch) -> Callable[[dt.datetime], None]:
    """Sets the time every caller of django.utils.timezone.now sees (limits, counters, rows)."""

    def set_to(moment: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return set_to


def answer(user: User, *, tokens: int | None = None, **fields: object) -> Message:
    """Store an answer of `user` the way every path does (a save), which charges it."""
    conversation = make_conversation(user)
    return Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, total_tokens=tokens, **fields
    )


def test_it_counts_calls_in_the_minute_and_refuses_past_the_limit(alice, settings, clock) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 3
    clock(dt.datetime(2026, 12, 1, 12, 0, 15, tzinfo=dt.UTC))
    assert [limits.admit(alice) for _ in range(3)] == [None, None, None]
    refusal = limits.admit(alice)
    assert refusal == limits.Refusal(
        "You have reached the limit of 3 model calls a minute; try again in 45 s.", 45, "rate"
    )
    label, _ = counters.window(60)
    assert counters.peek(f"limits:calls:{alice.pk}:{label}") == 3  # the refusal counted nothing
    clock(dt.datetime(2026, 12, 1, 12, 1, 0, tzinfo=dt.UTC))
    assert limits.admit(alice) is None


def test_it_admits_several_calls_at_once_only_within_the_limit(alice, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 3
    assert limits.admit(alice, calls=2) is None
    assert limits.admit(alice, calls=2).kind == "rate"
    assert limits.admit(alice, calls=1) is None
    assert limits.admit(alice, calls=4).kind == "rate"


def test_it_counts_each_user_apart(alice, bob, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 1
    assert limits.admit(alice) is None
    assert limits.admit(bob) is None
    assert limits.admit(alice).kind == "rate"


def test_it_does_not_count_calls_when_the_rate_limit_is_off(alice, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 0
    assert all(limits.admit(alice) is None for _ in range(50))
    assert counters.peek(f"limits:calls:{alice.pk}:{counters.window(60)[0]}") == 0


def test_it_renews_the_day_at_midnight_in_a_far_time_zone(alice, bob, settings, clock) -> None:
    settings.TOKEN_BUDGET_PER_DAY = 100
    clock(dt.datetime(2026, 12, 1, 9, 59, 30, tzinfo=dt.UTC))  # 23:59:30 in Kiritimati
    with timezone.override(KIRITIMATI):
        answer(alice, tokens=100)
        refusal = limits.admit(alice)
        assert refusal.kind == "day" and refusal.retry_after == 30
        assert refusal.message == (
            "You have used 100 of 100 tokens today; the budget renews at 00:00"
        )
    with timezone.override(dt.UTC):
        answer(bob, tokens=100)
    clock(dt.datetime(2026, 12, 1, 10, 0, 0, tzinfo=dt.UTC))  # a new day in Kiritimati only
    with timezone.override(KIRITIMATI):
        assert limits.admit(alice) is None
        assert limits.usage(alice).day == 0
    with timezone.override(dt.UTC):
        refusal = limits.admit(bob)
        assert refusal.kind == "day" and refusal.retry_after == 14 * 3600


def test_it_renews_the_month_on_the_first_in_the_users_zone(alice, settings, clock) -> None:
    settings.TOKEN_BUDGET_PER_MONTH = 1_000
    clock(dt.datetime(2026, 12, 1, 7, 59, 0, tzinfo=dt.UTC))  # 30 Nov, 23:59 in Los Angeles
    with timezone.override(LOS_ANGELES):
        answer(alice, tokens=600)
        answer(alice, tokens=600)
        refusal = limits.admit(alice)
        assert refusal.kind == "month" and refusal.retry_after == 60
        assert refusal.message == (
            "You have used 1,200 of 1,000 tokens this month; "
            "the budget renews on 1 December at 00:00"
        )
        clock(dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=dt.UTC))
        assert limits.admit(alice) is None
        assert limits.usage(alice).month == 0


def test_it_refuses_a_spent_budget_without_counting_the_call(alice, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 5
    settings.TOKEN_BUDGET_PER_DAY = 10
    answer(alice, tokens=10)
    assert limits.admit(alice).kind == "day"
    assert counters.peek(f"limits:calls:{alice.pk}:{counters.window(60)[0]}") == 0


def test_it_charges_reported_tokens_or_measures_them_as_estimated(alice, settings) -> None:
    settings.TOKEN_BUDGET_PER_DAY = 1_000
    answer(alice, tokens=None, prompt_tokens=30, completion_tokens=12)
    unreported = Message(
        conversation=make_conversation(alice),
        role=Message.Role.ASSISTANT,
        content="x" * 40,  # 10 tokens at 4 characters each
        status=Message.Status.CANCELLED,
    )
    unreported.prompt_estimate = 25
    unreported.save()
    assert limits.tokens_of(unreported) == (35, True)
    used = limits.usage(alice)
    assert (used.day, used.month, used.day_estimated, used.month_estimated) == (77, 77, 35, 35)
    assert used.summary == "Tokens today: 77 of 1,000 (35 estimated)"


def test_it_does_not_charge_questions_imports_or_edits(alice) -> None:
    conversation = make_conversation(alice)
    Message.objects.create(conversation=conversation, role=Message.Role.USER, content="x" * 400)
    answer(alice, tokens=50, source=Message.Source.IMPORT)
    stored = answer(alice, tokens=7)
    stored.content = "edited"
    stored.save()
    assert limits.usage(alice).day == 7


def test_its_overrides_go_user_then_most_generous_group_then_settings(alice, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 30
    settings.TOKEN_BUDGET_PER_DAY = 1_000
    settings.TOKEN_BUDGET_PER_MONTH = 0
    assert limits.limits_for(alice) == limits.Limits(30, 1_000, 0)
    small, large = Group.objects.create(name="small"), Group.objects.create(name="large")
    GroupLimit.objects.create(group=small, rate_limit_per_minute=5, token_budget_per_day=200)
    GroupLimit.objects.create(group=large, rate_limit_per_minute=10, token_budget_per_month=9)
    alice.groups.add(small, large)
    assert limits.limits_for(alice) == limits.Limits(10, 200, 9)
    unlimited = Group.objects.create(name="unlimited")
    GroupLimit.objects.create(group=unlimited, token_budget_per_day=0)
    alice.groups.add(unlimited)
    assert limits.limits_for(alice) == limits.Limits(10, 0, 9)
    UserLimit.objects.create(user=alice, rate_limit_per_minute=0, token_budget_per_day=50)
    assert limits.limits_for(alice) == limits.Limits(0, 50, 9)


def test_an_override_applies_to_admit(alice, bob, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 100
    UserLimit.objects.create(user=alice, rate_limit_per_minute=1)
    assert limits.admit(alice) is None
    assert limits.admit(alice).kind == "rate"
    assert limits.admit(bob) is None and limits.admit(bob) is None


def test_admit_costs_one_query_and_one_add(alice, settings, django_assert_num_queries) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 30
    settings.TOKEN_BUDGET_PER_DAY = 1_000
    settings.TOKEN_BUDGET_PER_MONTH = 10_000
    limits.admit(alice)  # the minute's first call also drops expired counters
    with django_assert_num_queries(2):
        assert limits.admit(alice) is None
    with django_assert_num_queries(1):
        assert limits.usage(alice).day == 0


@pytest.mark.usefixtures("redis_counters")
def test_with_redis_the_calls_and_tokens_are_counted_there(
    alice, settings, django_capture_on_commit_callbacks
) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 2
    settings.TOKEN_BUDGET_PER_DAY = 100
    assert limits.admit(alice) is None and limits.admit(alice) is None
    assert limits.admit(alice).kind == "rate"
    label, _ = counters.window(60)
    assert counters.peek(f"limits:calls:{alice.pk}:{label}") == 2
    prefix = settings.CACHE_KEY_PREFIX
    ttl = counters._redis().ttl(f"{prefix}:counter:limits:calls:{alice.pk}:{label}")
    assert 0 < ttl <= 60
    assert not Counter.objects.exists()  # nothing in the database table
    with django_capture_on_commit_callbacks(execute=True):
        answer(alice, tokens=100)
        assert limits.usage(alice).day == 0  # written once the answer's transaction commits
    assert limits.usage(alice).day == 100
    settings.RATE_LIMIT_PER_MINUTE = 0
    assert limits.admit(alice).kind == "day"
