"""Small statistics shared by the benchmark and the soak run."""

from __future__ import annotations

import math
import resource
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    # The smallest value with at least q % of them at or below it: rank ceil(q n / 100).
    # (Rounding q n / 100 + 0.5 instead took one rank too many whenever q n / 100 was
    # an odd whole number, Python rounding halves to even: p99 of 100 values.)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered) / 100) - 1))
    return ordered[rank]


def peak_rss_mib() -> float:
    """Peak resident set of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Rate:
    name: str
    count: int
    seconds: float
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0
