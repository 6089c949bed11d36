"""``python -m accord.bench.latency --stages``: a message's latency split in four stages."""

from __future__ import annotations

from accord.bench.figures import percentile
from accord.bench.latency import STAGES, render, split


def test_the_stages_split_each_message_in_order() -> None:
    # issued, record timestamp, poll, landing begun, committed (s)
    stages = split([(10.000, 10.001, 10.009, 10.011, 10.0125)])
    assert stages == {
        "publisher": (1.0, 1.0),
        "to the poll": (8.0, 8.0),
        "node's work": (2.0, 2.0),
        "commit": (1.5, 1.5),
    }
    assert list(stages) == list(STAGES)
    assert split([]) == {}


def test_a_record_timestamp_before_issued_at_counts_as_zero() -> None:
    # The record's timestamp has ms resolution: it can read up to 1 ms early.
    stages = split([(20.0007, 20.000, 20.004, 20.005, 20.0075)])
    assert stages["publisher"] == (0.0, 0.0)
    assert stages["to the poll"] == (4.0, 4.0)


def test_p50_and_p99_are_taken_per_stage() -> None:
    stamps = [(0.0, 0.0, 0.001 * (i + 1), 0.001 * (i + 1), 0.001 * (i + 1)) for i in range(100)]
    assert split(stamps)["to the poll"] == (50.0, 99.0)


def test_the_table_prints_the_stages_under_accords_row() -> None:
    row = {
        "who": "accord",
        "rate": 500.0,
        "messages": 1,
        "p50_ms": 12.5,
        "p90_ms": 12.5,
        "p99_ms": 12.5,
        "max_ms": 12.5,
        "cpu_us_per_message": {"publisher": 900},
        "stages_ms": split([(10.000, 10.001, 10.009, 10.011, 10.0125)]),
    }
    lines = render([row], 10.0, 0).splitlines()
    assert lines[4].split() == [
        *("stages,", "p50", "/", "p99", "ms:"),
        *("publisher", "1", "/", "1,", "to", "the", "poll", "8", "/", "8,"),
        *("node's", "work", "2", "/", "2,", "commit", "1.5", "/", "1.5"),
    ]


def test_percentile_is_the_nearest_rank() -> None:
    hundred = [float(i) for i in range(1, 101)]
    assert [percentile(hundred, q) for q in (0, 1, 50, 90, 99, 100)] == [1, 1, 50, 90, 99, 100]
    three = [3.0, 1.0, 2.0]
    assert [percentile(three, q) for q in (33, 34, 50, 67, 99)] == [1, 2, 2, 3, 3]
    assert percentile([], 50) == 0.0
