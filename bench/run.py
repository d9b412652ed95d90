"""Run the benchmarks in turn and print their tables (`make bench`, `make bench-quick`).

    .venv/bin/python bench/run.py [--quick] [--only turn_overhead,capacity,...]

Each benchmark starts and stops its own app, fake LLM and database; results are written to
bench/results/<name>.json. `--quick` runs smaller cases (under two minutes in all).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import capacity
import data_scale
import gateway
import limits_cost
import page_budgets
import parsers
import ranking
import relay_cost
import sanitiser_cost
import turn_overhead

BENCHMARKS = {
    "turn_overhead": turn_overhead.run,
    "relay_cost": relay_cost.run,
    "capacity": capacity.run,
    "data_scale": data_scale.run,
    "parsers": parsers.run,
    "page_budgets": page_budgets.run,
    "sanitiser_cost": sanitiser_cost.run,
    "ranking": ranking.run,
    "limits_cost": limits_cost.run,
    "gateway": gateway.run,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases, < 2 minutes")
    parser.add_argument("--only", default="", help="comma list of: " + ", ".join(BENCHMARKS))
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    for name in names:
        print(f"\n== {name} ({'quick' if args.quick else 'full'}) ==", flush=True)
        BENCHMARKS[name](quick=args.quick)
    print(f"\nall done in {time.perf_counter() - started:.0f} s; JSON in bench/results/")


if __name__ == "__main__":
    main()
