"""Where a receiving loop spends a run's wall time: the deployed node's, and the
two-process peer's subscriber's, stamped alike.

A node's work runs on one thread, its event loop: the Kafka client, verification,
the inbox write, the receipts. Over a run that thread's wall time splits four ways:

- **on a core**: running;
- **waiting for a core**: runnable while the machine's cores ran something else. On
  the bench's machine the publishing node and the broker share the two cores with it;
  a node on a machine of its own pays little of this;
- **on inbox syncs**: inside an inbox landing but neither running nor runnable, so
  waiting on the disk (the commit's sync under ``synchronous=FULL``);
- **the rest**: waiting for records, and any other blocking call.

The first two are read as each landing begins and ends (``accord.bench.probed_node``,
the peer's ``TimedStore``):
the thread's CPU clock, and the kernel's scheduler statistics for the thread
(``/proc/thread-self/schedstat``: nanoseconds waiting on a run queue). Its first field,
time on a CPU, is not used: for the running thread it lags by up to a scheduler tick
(a few ms: a landing's work could read as none), where the CPU clock is exact. So the
split says what bounds the deployed throughput: a loop on a core nearly all the run is
bound by its CPU per message; one waiting for a core, by the machine it shares.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

SCHEDSTAT = Path("/proc/thread-self/schedstat")


class Sched(NamedTuple):
    """The calling thread's scheduler statistics so far."""

    on_cpu_ns: int
    waiting_ns: int
    """Runnable, waiting on a run queue for a core."""


def sched() -> Sched | None:
    """This thread's ``Sched``; None where the kernel keeps no statistics (not Linux)."""
    try:
        _on_cpu, waiting, _slices = SCHEDSTAT.read_text(encoding="ascii").split()
        return Sched(time.thread_time_ns(), int(waiting))
    except (OSError, ValueError):
        return None


class LandingTime(NamedTuple):
    """One inbox landing in the node: its start and end (seconds since the epoch) and
    the thread's ``Sched`` at each."""

    started: float
    ended: float
    before: Sched
    after: Sched

    @property
    def syncing_s(self) -> float:
        """The landing's wall time neither on a core nor waiting for one."""
        busy_ns = (self.after.on_cpu_ns - self.before.on_cpu_ns) + (
            self.after.waiting_ns - self.before.waiting_ns
        )
        return max(self.ended - self.started - busy_ns / 1e9, 0.0)


class Start(NamedTuple):
    """A landing's start: the wall clock and the thread's ``Sched`` (None: no statistics)."""

    at: float
    sched: Sched | None


def start() -> Start:
    """Stamp a landing as it begins; ``landing_time`` stamps its end."""
    return Start(time.time(), sched())


def landing_time(began: Start) -> LandingTime | None:
    """The landing that began at ``began``, ending now; None where the kernel keeps no
    statistics."""
    after = sched()
    if began.sched is None or after is None:
        return None
    return LandingTime(began.at, time.time(), began.sched, after)


def save_landing_times(times: Sequence[LandingTime], path: Path) -> None:
    rows = [[t.started, t.ended, *t.before, *t.after] for t in times]
    path.write_text(json.dumps(rows), encoding="ascii")


def load_landing_times(path: Path) -> list[LandingTime]:
    """What ``save_landing_times`` wrote; none when nothing was (no statistics)."""
    if not path.exists():
        return []
    return [
        LandingTime(r[0], r[1], Sched(r[2], r[3]), Sched(r[4], r[5]))
        for r in json.loads(path.read_text(encoding="ascii"))
    ]


@dataclass(frozen=True)
class NodeTime:
    """Shares of the loop's wall time from the first landing's start to the last
    one's end; they sum to 1."""

    on_core: float
    waiting_for_core: float
    syncing: float
    other: float

    def figures(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}on_core": self.on_core,
            f"{prefix}waiting_for_core": self.waiting_for_core,
            f"{prefix}syncing": self.syncing,
            f"{prefix}other": self.other,
        }


def split(landings: Sequence[LandingTime]) -> NodeTime | None:
    """The split over ``landings``, in the order they ran (one landing: its own span);
    None for none."""
    if not landings:
        return None
    first, last = landings[0], landings[-1]
    wall = last.ended - first.started
    if wall <= 0:
        return None
    shares = [
        (last.after.on_cpu_ns - first.before.on_cpu_ns) / 1e9 / wall,
        (last.after.waiting_ns - first.before.waiting_ns) / 1e9 / wall,
        sum(landing.syncing_s for landing in landings) / wall,
    ]
    # The clocks are read a few µs apart: keep each share in [0, 1] and the sum at 1.
    on_core, waiting, syncing = (min(max(s, 0.0), 1.0) for s in shares)
    waiting = min(waiting, 1.0 - on_core)
    syncing = min(syncing, 1.0 - on_core - waiting)
    return NodeTime(on_core, waiting, syncing, 1.0 - on_core - waiting - syncing)
