"""What rendering an answer costs, and what running the sanitiser again when it is shown would.

The realistic answers of `sample_answers` are rendered once (markdown-it, Pygments, nh3: what a
message's save does), then their stored HTML is sanitised again with the same nh3 settings (what
a display-time pass would do). Prints CPU µs per answer and per page of 25 answers (a page of 50
messages) next to that page's 5 ms budget. In-process; no server.

    .venv/bin/python bench/sanitiser_cost.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common
import sample_answers

ANSWERS_PER_PAGE = 25
PAGE_BUDGET_MS = 5.0


def _per_call_us(func: Any, items: list[str], rounds: int) -> float:
    """Best of five runs: CPU µs per item."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(rounds):
            for item in items:
                func(item)
        best = min(best, (time.process_time() - started) / (rounds * len(items)))
    return best * 1e6


def run(quick: bool = False) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "main.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-" + "x" * 20)
    import django

    django.setup()
    import nh3
    from django.utils.safestring import mark_safe

    from llm_metadata.templatetags import markdown

    answers = [sample_answers.turn(n)[1] for n in range(len(sample_answers.ANSWERS))]
    stored = [str(markdown.render_markdown(text)) for text in answers]
    attributes = {**markdown.ATTRIBUTES, "span": {"class"}, "code": {"class"}, "pre": {"class"}}

    def sanitise(html: str) -> str:  # the same call render_markdown makes
        return nh3.clean(
            html,
            tags=markdown.TAGS,
            attributes=attributes,
            attribute_filter=markdown._keep_class,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
            filter_style_properties={"text-align"},
        )

    assert [sanitise(html) for html in stored] == stored  # a second pass changes nothing
    rounds = 20 if quick else 100
    results: dict[str, Any] = {"load_before": os.getloadavg(), "cases": []}
    for case, func, items in (
        ("render + sanitise (at save)", markdown.render_markdown, answers),
        ("sanitise the stored HTML again (at display)", sanitise, stored),
        ("use the stored HTML as it is (at display)", mark_safe, stored),
    ):
        per_answer = _per_call_us(func, items, rounds)
        page_ms = per_answer * ANSWERS_PER_PAGE / 1000
        share = page_ms / PAGE_BUDGET_MS * 100
        results["cases"].append(
            {"case": case, "us_per_answer": per_answer, "ms_per_page": page_ms, "budget_pct": share}
        )
    results["load_after"] = os.getloadavg()
    print(
        common.table(
            f"Sanitiser cost: CPU per answer (realistic answers, {len(stored)} kinds, "
            f"{sum(map(len, stored)) // len(stored):,} bytes of HTML on average) and per page "
            f"of {ANSWERS_PER_PAGE} answers (budget {PAGE_BUDGET_MS:g} ms a page)",
            ["case", "µs per answer", "ms per page", "% of the page budget"],
            [
                [c["case"], c["us_per_answer"], c["ms_per_page"], c["budget_pct"]]
                for c in results["cases"]
            ],
        )
    )
    common.print_load(results["load_before"], results["load_after"])
    print("saved", common.save("sanitiser_cost", results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
