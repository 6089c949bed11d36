"""``python -m accord.bench.latency --stages``: a message's latency split in four stages."""

from __future__ import annotations

from accord.bench.figures import percentile
from accord.bench.latency import render
from accord.bench.stages import STAGES, commit_stalls, split


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


def test_a_slow_commit_holds_up_its_batch_and_the_records_that_arrive_meanwhile() -> None:
    # A 100 ms commit from t=1.000: its own message, and one whose record reached the
    # broker during it, waited on it; messages before and after it did not.
    stamps = [
        (0.500, 0.500, 0.501, 0.501, 0.502),  # 2 ms, before the stall
        (0.999, 0.999, 1.000, 1.000, 1.100),  # its own batch: 101 ms
        (1.050, 1.050, 1.101, 1.101, 1.102),  # arrived during it: 52 ms
        (1.200, 1.200, 1.201, 1.201, 1.203),  # 3 ms, after it
    ]
    stalls = commit_stalls(stamps)
    assert stalls == {
        "over_ms": 10.0,
        "slow_commits": 1,
        "longest_ms": 100.0,
        "messages_waited": 2,
        "share_waited": 0.5,
        "p99_others_ms": 3.0,
    }


def test_without_a_slow_commit_no_message_waited() -> None:
    stamps = [(float(i), float(i), i + 0.001, i + 0.001, i + 0.004) for i in range(10)]
    stalls = commit_stalls(stamps)
    assert stalls["slow_commits"] == stalls["messages_waited"] == 0
    assert stalls["p99_others_ms"] == 4.0
    assert commit_stalls([])["share_waited"] == 0.0


def test_the_table_says_how_much_of_the_tail_slow_commits_explain() -> None:
    row = {
        "who": "accord",
        "rate": 500.0,
        "messages": 4,
        "p50_ms": 3.0,
        "p90_ms": 52.0,
        "p99_ms": 101.0,
        "max_ms": 101.0,
        "cpu_us_per_message": {"publisher": 900},
        "commit_stalls": commit_stalls(
            [
                (0.999, 0.999, 1.000, 1.000, 1.100),
                (1.200, 1.200, 1.201, 1.201, 1.203),
            ]
        ),
    }
    assert render([row], 10.0, 0).splitlines()[4].split() == [
        *("commits", "over", "10", "ms:", "1", "(longest", "100", "ms);", "50.0%", "of"),
        *("messages", "waited", "on", "one;", "p99", "of", "the", "others", "3", "ms"),
    ]
