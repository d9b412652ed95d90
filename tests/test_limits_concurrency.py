"""Many users' simultaneous turns against the limits, on the real database with threads: each
user gets exactly the admitted turns and the refusals the limit allows, every admitted turn has
its question and answer stored once, and every answer is charged once.

On PostgreSQL: 20 users x 10 simultaneous turns. On SQLite the test database lives in memory,
shared by the threads, where a second writer fails at once ("table is locked") instead of
waiting: 4 users x 10 turns from threads that take turns, the same checks.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from llm_metadata import limits
from llm_metadata.models import Message
from tests.test_chat_page import chat_bodies, form

pytestmark = [pytest.mark.django_db(transaction=True)]
ASK = reverse("llm_metadata:ask")
RATE = 5
TURNS = 10


def _users() -> int:
    return 20 if connection.vendor == "postgresql" else 4


def test_simultaneous_turns_get_exactly_the_limits_refusals(fake_openai, settings) -> None:
    settings.RATE_LIMIT_PER_MINUTE = RATE
    settings.TOKEN_BUDGET_PER_DAY = 10_000_000
    fake_openai.state.delay = 0.01
    users = [User.objects.create_user(f"user{i}", password="x") for i in range(_users())]
    clients = {}
    for user in users:
        clients[user.pk] = Client()
        clients[user.pk].force_login(user)
    # Each user's TURNS posts go out together: the pool runs two users' turns at a time
    # (PostgreSQL), released at once by a barrier per user.
    barriers = {user.pk: threading.Barrier(TURNS) for user in users}
    one_at_a_time = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()

    def turn(user: User, number: int) -> tuple[int, int]:
        try:
            barriers[user.pk].wait(timeout=60)
            with one_at_a_time:
                page = clients[user.pk].post(ASK, form(f"Question {number} of {user.username}"))
            return user.pk, page.status_code
        finally:
            connections.close_all()

    jobs = [(user, n) for user in users for n in range(TURNS)]
    with ThreadPoolExecutor(max_workers=2 * TURNS) as pool:
        results = list(pool.map(lambda job: turn(*job), jobs))

    statuses = Counter((pk, status) for pk, status in results)
    for user in users:
        assert statuses[(user.pk, 302)] == RATE, user.username
        assert statuses[(user.pk, 429)] == TURNS - RATE, user.username
    assert len(chat_bodies(fake_openai)) == RATE * len(users)
    rows = Message.objects.values_list("conversation__owner_id", "role", "content")
    per_user = Counter((owner, role) for owner, role, _ in rows)
    for user in users:
        assert per_user[(user.pk, "user")] == per_user[(user.pk, "assistant")] == RATE
    questions = [content for _, role, content in rows if role == "user"]
    assert len(set(questions)) == len(questions) == RATE * len(users)
    assert Message.objects.exclude(status="ok").count() == 0
    for user in users:
        stored = Message.objects.filter(conversation__owner=user, role="assistant").aggregate(
            tokens=Sum("total_tokens")
        )["tokens"]
        assert limits.usage(user).day == stored
