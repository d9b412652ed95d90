"""Bradley-Terry ranking of models from pairwise votes, with bootstrap intervals. Pure Python.

The votes are first aggregated into counts per pair and outcome (`tally`); everything after
that costs time in the number of pairs, not of votes. A tie or "both bad" counts half a win each
way. Strengths are fitted by the MM algorithm (Hunter 2004): p_i ← W_i / Σ_j n_ij / (p_i + p_j),
with W_i the wins of model i and n_ij the votes between i and j, until nothing moves; they are
shown on the Elo-like scale 1000 + 400·log10(p_i), p scaled to a geometric mean of 1.

Intervals: the Poisson bootstrap. Each vote is drawn a Poisson(1) number of times, so a pair's
outcome seen c times is seen Poisson(c) times in a resample (counts of 30 and more are drawn from
its normal approximation); each resample is fitted again, starting from the full fit, and the
2.5th and 97.5th percentiles of a model's scores are its 95 % interval.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

ROUNDS = 200  # bootstrap resamples
PRIOR = 0.1  # a tenth of a win each way for every pair that met: a model that never won
# keeps a finite strength (its interval stays wide); against real vote counts it is negligible
TOLERANCE = 1e-7  # largest relative change of a strength at which the fit stops
BOOTSTRAP_TOLERANCE = 1e-5  # a refit stops within about 0.01 of its score (shown rounded)
MAX_ITERATIONS = 10_000
SEED = 14  # the same votes give the same intervals on every visit
LEFT, RIGHT, HALF = 0, 1, 2  # a vote's outcome: the left model won, the right one, neither


@dataclass(frozen=True)
class Outcome:
    """One counted vote: the models shown left ("a") and right ("b"), and the choice."""

    left: str
    right: str
    choice: str  # "a", "b", "tie" or "both_bad"


# A pair's outcome, the pair in name order: (first, second, FIRST_WON | SECOND_WON | HALF).
Category = tuple[str, str, int]


def tally(outcomes: Iterable[Outcome]) -> Counter[Category]:
    """The votes aggregated per pair (in name order) and outcome."""
    counts: Counter[Category] = Counter()
    for vote in outcomes:
        if vote.left == vote.right:
            continue  # a model against itself says nothing about its strength
        won = HALF if vote.choice not in ("a", "b") else (LEFT if vote.choice == "a" else RIGHT)
        if vote.left < vote.right:
            counts[(vote.left, vote.right, won)] += 1
        else:
            counts[(vote.right, vote.left, won if won == HALF else 1 - won)] += 1
    return counts


@dataclass(frozen=True)
class Games:
    """Pair counts in index form: for each pair (i, j), i's wins over j and j's over i."""

    models: list[str]
    pairs: list[tuple[int, int, float, float]]


def games(counts: Counter[Category] | dict[Category, float], models: Sequence[str]) -> Games:
    index = {name: i for i, name in enumerate(models)}
    wins: dict[tuple[int, int], list[float]] = {}
    for (first, second, won), count in counts.items():
        pair = wins.setdefault((index[first], index[second]), [0.0, 0.0])
        if won == HALF:
            pair[0] += count / 2
            pair[1] += count / 2
        else:
            pair[won] += count
    return Games(list(models), [(i, j, w[0], w[1]) for (i, j), w in sorted(wins.items())])


def fit(
    data: Games,
    prior: float = 0.0,
    start: Sequence[float] | None = None,
    tolerance: float = TOLERANCE,
) -> list[float]:
    """Bradley-Terry strengths by MM, scaled to a geometric mean of 1 over the models that
    played. `prior` wins are added each way to every pair that met. A model that played and
    never won (with no prior) gets 0; one that never played keeps 1."""
    size = len(data.models)
    total_wins = [0.0] * size
    meetings: list[tuple[int, int, float]] = []
    for i, j, wins_i, wins_j in data.pairs:
        wins_i, wins_j = wins_i + prior, wins_j + prior
        if wins_i + wins_j <= 0:
            continue
        total_wins[i] += wins_i
        total_wins[j] += wins_j
        meetings.append((i, j, wins_i + wins_j))
    played = sorted({k for i, j, _ in meetings for k in (i, j)})
    strengths = list(start) if start is not None else [1.0] * size
    for _ in range(MAX_ITERATIONS):
        denominators = [0.0] * size
        for i, j, count in meetings:
            share = count / (strengths[i] + strengths[j])
            denominators[i] += share
            denominators[j] += share
        new = [
            wins / denominator if denominator else strength
            for wins, denominator, strength in zip(total_wins, denominators, strengths, strict=True)
        ]
        # The update does not care for scale; keeping the sum fixed keeps the change measure
        # honest (the geometric mean is set once, at the end).
        total = sum(new[k] for k in played)
        if total > 0:
            factor = sum(strengths[k] for k in played) / total
            for k in played:
                new[k] *= factor
        change = max(
            (abs(a - b) / b for a, b in zip(new, strengths, strict=True) if b > 0), default=0.0
        )
        strengths = new
        if change < tolerance:
            break
    _scale(strengths, played)
    return strengths


def _scale(strengths: list[float], played: Sequence[int]) -> None:
    """Divide by the geometric mean of the positive strengths of the models that played."""
    positive = [strengths[k] for k in played if strengths[k] > 0]
    if not positive:
        return
    mean = math.exp(sum(math.log(s) for s in positive) / len(positive))
    for k in played:
        strengths[k] /= mean


def score(strength: float) -> float:
    """A strength on the Elo-like scale: 1000 for the geometric mean, +400 per tenfold."""
    return 1000 + 400 * math.log10(strength) if strength > 0 else float("-inf")


def _poisson(mean: float, rng: random.Random) -> int:
    if mean >= 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def bootstrap(
    counts: Counter[Category],
    models: Sequence[str],
    start: Sequence[float],
    rounds: int = ROUNDS,
    prior: float = PRIOR,
    rng: random.Random | None = None,
) -> list[list[float]]:
    """The scores of each model (in `models` order) over `rounds` Poisson-bootstrap refits."""
    rng = rng or random.Random(SEED)  # noqa: S311 (resampling, not secrets)
    index = {name: i for i, name in enumerate(models)}
    slots: dict[tuple[int, int], int] = {}
    categories = []  # (slot of the pair, which side won, times seen)
    for (first, second, won), count in counts.items():
        pair = (index[first], index[second])
        categories.append((slots.setdefault(pair, len(slots)), won, count))
    pairs = sorted(slots, key=slots.__getitem__)
    scores: list[list[float]] = [[] for _ in models]
    for _ in range(rounds):
        wins = [[0.0, 0.0] for _ in pairs]
        for slot, won, count in categories:
            drawn = _poisson(count, rng)
            if won == HALF:
                wins[slot][0] += drawn / 2
                wins[slot][1] += drawn / 2
            else:
                wins[slot][won] += drawn
        data = Games(
            list(models), [(i, j, w[0], w[1]) for (i, j), w in zip(pairs, wins, strict=True)]
        )
        strengths = fit(data, prior=prior, start=start, tolerance=BOOTSTRAP_TOLERANCE)
        for k, strength in enumerate(strengths):
            scores[k].append(score(strength))
    return scores


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (sorted here)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


@dataclass
class RankedModel:
    model: str
    score: float
    low: float
    high: float
    votes: int = 0
    wins: float = 0.0  # ties and both-bad count half


@dataclass
class Ranking:
    models: list[RankedModel]
    matrix: list[tuple[str, list[float | None]]] = field(default_factory=list)  # row beats column
    votes: int = 0
    left_wins: int = 0  # of the votes that picked a side ("a" or "b")
    decided: int = 0

    @property
    def left_win_rate(self) -> float | None:
        return self.left_wins / self.decided if self.decided else None


def rank(
    outcomes: Sequence[Outcome],
    rounds: int = ROUNDS,
    prior: float = PRIOR,
    rng: random.Random | None = None,
) -> Ranking:
    """The models ranked by strength, with intervals, vote counts, the win-rate matrix (row's
    share of its votes against column) and how often the left answer won."""
    counts = tally(outcomes)
    names = sorted({name for first, second, _ in counts for name in (first, second)})
    data = games(counts, names)
    strengths = fit(data, prior=prior)
    spread = bootstrap(counts, names, strengths, rounds, prior, rng) if rounds else None
    votes, wins = [0] * len(names), [0.0] * len(names)
    rate: list[list[float | None]] = [[None] * len(names) for _ in names]
    for i, j, wins_i, wins_j in data.pairs:
        met = wins_i + wins_j
        votes[i] += round(met)
        votes[j] += round(met)
        wins[i] += wins_i
        wins[j] += wins_j
        rate[i][j], rate[j][i] = wins_i / met, wins_j / met
    rows = []
    for k, name in enumerate(names):
        value = score(strengths[k])
        low = percentile(spread[k], 0.025) if spread else value
        high = percentile(spread[k], 0.975) if spread else value
        rows.append(RankedModel(name, value, low, high, votes[k], wins[k]))
    order = sorted(range(len(names)), key=lambda k: -rows[k].score)
    decided = [vote.choice for vote in outcomes if vote.choice in ("a", "b")]
    return Ranking(
        models=[rows[k] for k in order],
        matrix=[(names[k], [rate[k][j] for j in order]) for k in order],
        votes=sum(votes) // 2,
        left_wins=decided.count("a"),
        decided=len(decided),
    )
