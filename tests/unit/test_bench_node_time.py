"""Where a receiving loop spends a run (accord.bench.node_time)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from accord.bench.node_time import (
    LandingTime,
    NodeTime,
    Sched,
    Start,
    landing_time,
    load_landing_times,
    save_landing_times,
    sched,
    split,
    start,
)


def landing(
    started: float, ended: float, before: tuple[float, float], after: tuple[float, float]
) -> LandingTime:
    """A landing from seconds on a core and waiting for one, before and after."""
    return LandingTime(
        started,
        ended,
        Sched(round(before[0] * 1e9), round(before[1] * 1e9)),
        Sched(round(after[0] * 1e9), round(after[1] * 1e9)),
    )


def test_the_wall_time_splits_into_core_waiting_syncs_and_the_rest() -> None:
    # Two seconds from the first landing's start to the last one's end: 1.2 s on a
    # core, 0.4 s waiting for one, and 0.25 s of the landings neither (the disk).
    landings = [
        landing(100.0, 100.3, (10.0, 5.0), (10.15, 5.05)),  # 0.3 - 0.15 - 0.05 = 0.1
        landing(101.7, 102.0, (11.0, 5.35), (11.2, 5.4)),  # 0.3 - 0.2 - 0.05 = 0.05
        landing(101.9, 102.0, (11.2, 5.4), (11.2, 5.4)),  # 0.1 s, neither: all sync
    ]
    shares = split(landings)
    assert shares is not None
    assert vars(shares) == pytest.approx(vars(NodeTime(0.6, 0.2, 0.125, 0.075)))
    assert sum(vars(shares).values()) == pytest.approx(1.0)


def test_one_landing_is_its_own_span_and_none_is_none() -> None:
    only = landing(5.0, 5.5, (1.0, 0.0), (1.25, 0.05))
    shares = split([only])
    assert shares is not None
    assert vars(shares) == pytest.approx(vars(NodeTime(0.5, 0.1, 0.4, 0.0)))
    assert split([]) is None


def test_a_landing_busy_its_whole_span_waited_on_no_sync() -> None:
    # The statistics are read a few µs from the wall clock: busier than its span is
    # still no negative sync, and the shares stay in [0, 1], summing to 1.
    busy = landing(0.0, 1.0, (0.0, 0.0), (0.9, 0.2))
    assert busy.syncing_s == 0.0
    shares = split([busy])
    assert shares is not None
    values = list(vars(shares).values())
    assert all(0.0 <= v <= 1.0 for v in values)
    assert sum(values) == pytest.approx(1.0)
    assert shares.on_core == pytest.approx(0.9)
    assert shares.waiting_for_core == pytest.approx(0.1)


def test_this_threads_statistics_count_the_cpu_it_spends() -> None:
    before, cpu = sched(), time.thread_time()
    assert before is not None  # Linux keeps them: the bench's figures depend on it
    deadline = time.thread_time() + 0.02
    while time.thread_time() < deadline:
        pass
    after, spent = sched(), time.thread_time() - cpu
    assert after is not None
    assert (after.on_cpu_ns - before.on_cpu_ns) / 1e9 == pytest.approx(spent, abs=1e-3)
    assert after.waiting_ns >= before.waiting_ns


def test_a_landing_stamped_now_round_trips_through_its_file(tmp_path: Path) -> None:
    began = start()
    sum(range(100_000))
    took = landing_time(began)
    assert took is not None
    assert took.ended >= took.started
    assert took.after.on_cpu_ns > took.before.on_cpu_ns
    path = tmp_path / "times.json"
    save_landing_times([took, took], path)
    assert load_landing_times(path) == [took, took]
    assert load_landing_times(tmp_path / "never-written.json") == []
    assert landing_time(Start(began.at, None)) is None  # no statistics before: no stamp
