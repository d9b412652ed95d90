"""`percentile_cont(x, fraction)` for SQLite, which has no ordered-set aggregates.

Registered on every new SQLite connection (as Django registers its own statistics aggregates
there), so that one aggregate expression serves both databases: PostgreSQL runs its native
`percentile_cont(f) WITHIN GROUP (ORDER BY x)`, SQLite this one. NULLs are ignored, as there.
"""

from __future__ import annotations

import math
from typing import Any

from django.db.backends.signals import connection_created
from django.dispatch import receiver


class PercentileCont:
    """Linear interpolation between the two closest ranks, as PostgreSQL's percentile_cont."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value: float | None, fraction: float) -> None:
        if value is not None:
            self.values.append(value)
            self.fraction = fraction

    def finalize(self) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        position = self.fraction * (len(ordered) - 1)
        low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
        return low + (high - low) * (position - math.floor(position))


@receiver(connection_created)
def register(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("percentile_cont", 2, PercentileCont)
