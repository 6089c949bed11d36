"""A paced deployed run's latency, stage by stage (``probed_node --stages``).

``python -m accord.bench.latency --stages`` prints both for each rate; ``accord
bench`` prints ``commit_stalls`` under its paced rows, as what explains the tail that
its latency target judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from accord.bench.figures import percentile
from accord.bench.probed_node import Stamps

STAGES = ("publisher", "to the poll", "node's work", "commit")


def split(stamps: Sequence[Stamps]) -> dict[str, tuple[float, float]]:
    """p50 and p99, in ms, of each of ``STAGES`` over the messages' stamps; a stage
    measured below zero (the record timestamp's ms resolution) counts as zero."""
    spans = [[max(0.0, b - a) * 1000 for a, b in pairwise(s)] for s in stamps]
    return (
        {
            name: (round(percentile(column, 50), 1), round(percentile(column, 99), 1))
            for name, column in zip(STAGES, zip(*spans, strict=True), strict=True)
        }
        if spans
        else {}
    )


SLOW_COMMIT_MS = 10.0
"""A landing whose commit (the inbox transaction and its sync) took longer than this
is a slow commit for ``commit_stalls``: over ten times a usual one here (its p50 is
under 1 ms, ``python -m accord.bench.commits``)."""


def commit_stalls(stamps: Sequence[Stamps], over_ms: float = SLOW_COMMIT_MS) -> dict[str, Any]:
    """How much of the tail the disk's sync stalls explain.

    A slow commit holds up more than its own batch: the node lands on its event
    loop, so records that reach the broker meanwhile wait for it before their poll.
    A message *waited on* a slow commit when one was under way between its record's
    timestamp and its own commit. Counted: slow commits and the longest, messages
    that waited on one, and the p99 latency (``issued_at`` to commit) of the others.
    """
    landings = {(s[3], s[4]) for s in stamps}
    slow = sorted((began, ended) for began, ended in landings if (ended - began) * 1000 > over_ms)

    def waited(s: Stamps) -> bool:
        return any(began < s[4] and ended > s[1] for began, ended in slow)

    others = [(s[4] - s[0]) * 1000 for s in stamps if not waited(s)]
    held = len(stamps) - len(others)
    return {
        "over_ms": over_ms,
        "slow_commits": len(slow),
        "longest_ms": round(max(((e - b) * 1000 for b, e in slow), default=0.0), 1),
        "messages_waited": held,
        "share_waited": round(held / len(stamps), 4) if stamps else 0.0,
        "p99_others_ms": round(percentile(others, 99), 1),
    }
