"""Server-rendered SVG charts for the analytics page (no JavaScript, text escaped)."""

from __future__ import annotations

import datetime as dt
import math

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 260, 56, 28, 12


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def swatch(index: int) -> int:
    """The legend's class for a series' colour: `swatch-N` in static/css/app.css (the page's
    Content-Security-Policy allows no inline style), the same order as PALETTE."""
    return index % len(PALETTE)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above value."""
    if value <= 0:
        return 1.0
    step = 10.0 ** math.floor(math.log10(value))
    return math.ceil(value / step) * step


def stacked_days(days: list[dt.date], series: dict[str, dict[dt.date, int]], title: str) -> str:
    """A stacked bar per day, one colour per model."""
    totals = [sum(s.get(day, 0) for s in series.values()) for day in days]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8, 1.0)
    parts: list[SafeString] = []
    for i, day in enumerate(days):
        x, y = LEFT + i * slot + (slot - bar) / 2, TOP + plot_h
        for j, (model, per_day) in enumerate(series.items()):
            tokens = per_day.get(day, 0)
            if not tokens:
                continue
            h = plot_h * tokens / top
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{} · {}: {} tokens</title></rect>",
                    f"{x:.1f}",
                    f"{y:.1f}",
                    f"{bar:.1f}",
                    f"{h:.1f}",
                    colour(j),
                    day.isoformat(),
                    model or "(none)",
                    tokens,
                )
            )
    step = max(len(days) // 7, 1)
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (f"{LEFT + i * slot + slot / 2:.1f}", HEIGHT - 8, day.strftime("%b %d"))
            for i, day in enumerate(days)
            if i % step == 0
        ),
    )
    return _frame(title, top, "tokens", mark_safe("".join(parts)) + labels)  # noqa: S308


def latency_bars(rows: list[tuple[str, float | None, float | None]], title: str) -> str:
    """Per model, p50 and p95 elapsed time as a pair of horizontal bars."""
    top = _nice_max(max((p95 or p50 or 0.0 for _, p50, p95 in rows), default=0.0))
    height = TOP + BOTTOM + 34 * max(len(rows), 1)
    plot_w = WIDTH - 180
    parts: list[SafeString] = []
    for i, (model, p50, p95) in enumerate(rows):
        y = TOP + i * 34
        parts.append(
            format_html(
                '<text x="172" y="{}" text-anchor="end">{}</text>', y + 18, (model or "(none)")[:28]
            )
        )
        for k, (label, value) in enumerate((("p50", p50), ("p95", p95))):
            if value is None:
                continue
            parts.append(
                format_html(
                    '<rect x="180" y="{}" width="{}" height="13" fill="{}">'
                    "<title>{} {}: {} s</title></rect>",
                    y + 2 + k * 14,
                    f"{plot_w * value / top:.1f}",
                    colour(k),
                    model or "(none)",
                    label,
                    f"{value:.3f}",
                )
            )
    body = mark_safe("".join(parts))  # noqa: S308
    return format_html(
        '<svg viewBox="0 0 {} {}" role="img" aria-label="{}" class="chart">'
        '<text x="180" y="{}" class="axis">0 s</text>'
        '<text x="{}" y="{}" text-anchor="end" class="axis">{} s</text>{}</svg>',
        WIDTH,
        height,
        title,
        height - 8,
        WIDTH - 8,
        height - 8,
        f"{top:g}",
        body,
    )


def _frame(title: str, top: float, unit: str, body: str) -> str:
    plot_bottom = HEIGHT - BOTTOM
    return format_html(
        '<svg viewBox="0 0 {} {}" role="img" aria-label="{}" class="chart">'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" stroke-opacity=".3"/>'
        '<text x="{}" y="{}" text-anchor="end" class="axis">{}</text>'
        '<text x="{}" y="{}" text-anchor="end" class="axis">0</text>{}</svg>',
        WIDTH,
        HEIGHT,
        f"{title} ({unit})",
        LEFT,
        plot_bottom,
        WIDTH - 8,
        plot_bottom,
        LEFT - 4,
        TOP + 10,
        f"{int(top):,}",
        LEFT - 4,
        plot_bottom,
        body,
    )
