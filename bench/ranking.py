"""What the vote ranking costs: Bradley-Terry fit and 200 bootstrap refits for 10,000 votes.

Synthetic votes between N models with known strengths (10 % ties, 5 % both bad) are ranked by
`llm_metadata.ranking.rank`, as the analytics page does after reading the latest votes. Prints
the wall time (best and median of five) next to the 200 ms goal of issue 14. In-process; no
server, no database.

    .venv/bin/python bench/ranking.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common

from llm_metadata import ranking

GOAL_MS = 200.0


def synthetic_votes(count: int, models: int, seed: int = 7) -> list[ranking.Outcome]:
    rng = random.Random(seed)
    names = [f"model-{i}" for i in range(models)]
    skill = {name: rng.gauss(0, 1) for name in names}
    votes = []
    for _ in range(count):
        left, right = rng.sample(names, 2)
        draw = rng.random()
        if draw < 0.10:
            choice = "tie"
        elif draw < 0.15:
            choice = "both_bad"
        else:
            p_left = 1 / (1 + math.exp(skill[right] - skill[left]))
            choice = "a" if rng.random() < p_left else "b"
        votes.append(ranking.Outcome(left, right, choice))
    return votes


def _time_ms(votes: list[ranking.Outcome]) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of five rankings (the CPU time is what the load does not
    inflate: the machine is shared)."""
    wall, cpu = [], []
    for _ in range(5):
        started, started_cpu = time.perf_counter(), time.process_time()
        ranking.rank(votes)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def run(quick: bool = False) -> dict[str, Any]:
    cases = [(10_000, 4), (10_000, 8), (10_000, 16)]
    if not quick:
        cases += [(1_000, 8), (100_000, 8)]
    results: dict[str, Any] = {"load_before": os.getloadavg(), "cases": []}
    for count, models in cases:
        wall, cpu = _time_ms(synthetic_votes(count, models))
        results["cases"].append(
            {
                "votes": count,
                "models": models,
                "best_ms": min(wall),
                "median_ms": statistics.median(wall),
                "median_cpu_ms": statistics.median(cpu),
            }
        )
    results["load_after"] = os.getloadavg()
    print(
        common.table(
            f"Vote ranking: Bradley-Terry fit + {ranking.ROUNDS} bootstrap refits "
            f"(goal ≤ {GOAL_MS:g} ms for 10,000 votes)",
            ["votes", "models", "best ms", "median ms", "median CPU ms", "within goal"],
            [
                [
                    c["votes"],
                    c["models"],
                    c["best_ms"],
                    c["median_ms"],
                    c["median_cpu_ms"],
                    "yes" if c["median_ms"] <= GOAL_MS else "no",
                ]
                for c in results["cases"]
            ],
        )
    )
    common.print_load(results["load_before"], results["load_after"])
    print("saved", common.save("ranking", results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
