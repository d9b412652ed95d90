"""The Bradley-Terry ranking: the fit against small examples worked by hand, the bootstrap, the
matrix and position bias; and the ranking on /analytics/ from stored votes."""

from __future__ import annotations

import math
import random

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from llm_metadata import ranking
from llm_metadata.compare_models import Comparison, ComparisonColumn, Vote
from llm_metadata.models import Conversation
from llm_metadata.ranking import Outcome


def votes(left: str, right: str, choice: str, times: int) -> list[Outcome]:
    return [Outcome(left, right, choice)] * times


def test_the_fit_matches_a_chain_worked_by_hand() -> None:
    # A beat B 2 to 1, B beat C 2 to 1, A and C never met. The likelihood splits into one
    # factor per pair, so p_A / p_B = 2 and p_B / p_C = 2: p = (4, 2, 1), whose geometric mean
    # is 2, so (2, 1, 0.5); scores 1000 + 400 log10(p) = 1120.41, 1000, 879.59.
    outcomes = (
        votes("A", "B", "a", 2) + votes("B", "A", "a", 1) + votes("C", "B", "b", 2)
    ) + votes("B", "C", "b", 1)
    data = ranking.games(ranking.tally(outcomes), ["A", "B", "C"])
    assert data.pairs == [(0, 1, 2.0, 1.0), (1, 2, 2.0, 1.0)]
    assert ranking.fit(data) == pytest.approx([2.0, 1.0, 0.5], rel=1e-6)
    result = ranking.rank(outcomes, rounds=0, prior=0)
    assert [(m.model, round(m.score, 2)) for m in result.models] == [
        ("A", 1120.41),
        ("B", 1000.0),
        ("C", 879.59),
    ]


def test_ties_and_both_bad_count_half_a_win_each_way() -> None:
    # A won once, tied once and both were bad once: A has 1 + 0.5 + 0.5 = 2 wins, B 1; so
    # p_A / p_B = 2, i.e. sqrt(2) and 1 / sqrt(2) at a geometric mean of 1.
    outcomes = [Outcome("A", "B", "a"), Outcome("A", "B", "tie"), Outcome("B", "A", "both_bad")]
    strengths = ranking.fit(ranking.games(ranking.tally(outcomes), ["A", "B"]))
    assert strengths == pytest.approx([math.sqrt(2), 1 / math.sqrt(2)], rel=1e-6)


def test_a_cycle_with_more_wins_solves_the_likelihood_equations() -> None:
    # No closed form here: the maximum satisfies W_i = sum_j n_ij p_i / (p_i + p_j) for all i.
    outcomes = (
        votes("A", "B", "a", 3)
        + votes("A", "B", "b", 1)
        + votes("B", "C", "a", 3)
        + votes("B", "C", "b", 1)
        + votes("C", "A", "a", 1)
        + votes("C", "A", "b", 1)
    )
    data = ranking.games(ranking.tally(outcomes), ["A", "B", "C"])
    p = ranking.fit(data)
    expected_wins = [0.0, 0.0, 0.0]
    actual_wins = [0.0, 0.0, 0.0]
    for i, j, wins_i, wins_j in data.pairs:
        n = wins_i + wins_j
        expected_wins[i] += n * p[i] / (p[i] + p[j])
        expected_wins[j] += n * p[j] / (p[i] + p[j])
        actual_wins[i] += wins_i
        actual_wins[j] += wins_j
    assert expected_wins == pytest.approx(actual_wins, rel=1e-5)
    assert p[0] > p[1] > p[2]


def test_a_model_that_never_won_keeps_a_finite_score_with_the_prior() -> None:
    result = ranking.rank(votes("A", "B", "a", 5), rounds=50)
    scores = {m.model: m for m in result.models}
    assert math.isfinite(scores["B"].score) and scores["A"].score > scores["B"].score


def test_the_intervals_cover_the_estimate_and_shrink_with_more_votes() -> None:
    rng = random.Random(5)
    few = [Outcome("A", "B", "a" if rng.random() < 0.7 else "b") for _ in range(40)]
    many = [Outcome("A", "B", "a" if rng.random() < 0.7 else "b") for _ in range(4000)]
    for outcomes in (few, many):
        for model in ranking.rank(outcomes).models:
            assert model.low <= model.score <= model.high
    width = {
        len(o): ranking.rank(o).models[0].high - ranking.rank(o).models[0].low for o in (few, many)
    }
    assert width[4000] < width[40] / 3


def test_counts_matrix_and_position_bias() -> None:
    outcomes = (
        votes("A", "B", "a", 3)  # A on the left won 3
        + votes("B", "A", "a", 1)  # B on the left won 1
        + votes("A", "B", "tie", 2)
    )
    result = ranking.rank(outcomes, rounds=0)
    assert result.votes == 6
    top = result.models[0]
    assert (top.model, top.votes, top.wins) == ("A", 6, 4.0)
    assert result.matrix == [("A", [None, 4 / 6]), ("B", [2 / 6, None])]
    assert (result.left_wins, result.decided, result.left_win_rate) == (4, 4, 1.0)


# --- On the analytics page ------------------------------------------------------------------


def comparison(owner: User, left: str, right: str, choice: str, flagged: bool = False) -> None:
    made = Comparison.objects.create(
        owner=owner, question="Q", temperature=0.5, top_k=40, top_p=0.9, max_tokens=100
    )
    for position, name in enumerate([left, right]):
        ComparisonColumn.objects.create(
            comparison=made,
            position=position,
            model_name=name,
            conversation=Conversation.objects.create(owner=owner, title="Q"),
        )
    Vote.objects.create(comparison=made, choice=choice, blind=flagged, flagged=flagged)


def test_the_analytics_page_ranks_the_latest_unflagged_votes(
    alice: User, bob: User, alice_client: Client, django_assert_max_num_queries
) -> None:
    for _ in range(3):
        comparison(alice, "big", "small", "a")
    comparison(alice, "small", "big", "b")  # big on the right won
    comparison(alice, "small", "big", "a", flagged=True)  # left out by default
    changed = Comparison.objects.filter(owner=alice).order_by("created").first()
    Vote.objects.create(comparison=changed, choice="tie", blind=False)  # the latest counts
    comparison(bob, "small", "big", "a")  # another user's vote is not alice's ranking
    page = alice_client.get(reverse("llm_metadata:analytics")).content.decode()
    assert 'id="ranking-table"' in page
    assert "4 votes counted" in page and "1 flagged blind vote" in page
    assert page.index('data-model="big"') < page.index('data-model="small"', page.index("ranking"))
    assert "The left answer (A) won <strong>67 %</strong> of the 3 votes" in page
    with_flagged = alice_client.get(reverse("llm_metadata:analytics") + "?flagged=1")
    assert "5 votes counted" in with_flagged.content.decode()
    with django_assert_max_num_queries(40):
        alice_client.get(reverse("llm_metadata:analytics"))


def test_the_analytics_page_without_votes_says_so(alice_client: Client) -> None:
    page = alice_client.get(reverse("llm_metadata:analytics")).content.decode()
    assert "No votes in this period yet" in page
