"""The receiver's fetch pacing: busy bounds under load, Kafka's long poll when idle."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from aiokafka import AIOKafkaConsumer

from accord.config import FETCH_WAIT_MS
from accord.receiver.fetch import (
    FETCH_MIN_BYTES,
    IDLE_FETCH_WAIT_MS,
    FetchPacing,
    busy_fetch_bounds,
)


def _consumer() -> tuple[AIOKafkaConsumer, SimpleNamespace]:
    fetcher = SimpleNamespace(_fetch_min_bytes=None, _fetch_max_wait_ms=None)
    return cast(AIOKafkaConsumer, SimpleNamespace(_fetcher=fetcher)), fetcher


def _bounds(fetcher: Any) -> tuple[int, int]:
    return fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms


def test_a_new_consumer_starts_busy_and_an_empty_poll_makes_it_idle() -> None:
    pacing = FetchPacing(10)
    assert pacing.consumer_options() == {
        "fetch_min_bytes": FETCH_MIN_BYTES,
        "fetch_max_wait_ms": 10,
    }
    assert pacing.mode == "busy"
    assert pacing.poll_timeout_ms == 20  # one busy fetch and 10 ms more
    consumer, fetcher = _consumer()
    pacing.after_poll(consumer, had_records=False)
    assert pacing.mode == "idle"
    assert _bounds(fetcher) == (1, IDLE_FETCH_WAIT_MS)
    assert pacing.poll_timeout_ms == IDLE_FETCH_WAIT_MS


def test_records_make_it_busy_again_and_only_changes_touch_the_consumer() -> None:
    pacing = FetchPacing(10)
    consumer, fetcher = _consumer()
    pacing.after_poll(consumer, had_records=False)
    pacing.after_poll(consumer, had_records=True)
    assert pacing.mode == "busy"
    assert _bounds(fetcher) == (FETCH_MIN_BYTES, 10)
    fetcher._fetch_min_bytes = "untouched"
    pacing.after_poll(consumer, had_records=True)  # still busy: nothing to change
    assert fetcher._fetch_min_bytes == "untouched"


def test_no_fetch_wait_answers_at_the_first_record_and_never_spins() -> None:
    # The default: a fetch is answered as soon as a record is there, and an empty one
    # waits out the long poll (a wait of 0 would have the broker answer empty fetches
    # at once, the consumer asking again and again while the node is busy).
    assert FETCH_WAIT_MS == 0
    assert busy_fetch_bounds(0) == (1, IDLE_FETCH_WAIT_MS)
    pacing = FetchPacing(0)
    assert pacing.consumer_options() == {
        "fetch_min_bytes": 1,
        "fetch_max_wait_ms": IDLE_FETCH_WAIT_MS,
    }
    assert pacing.poll_timeout_ms == 10  # a poll with nothing for 10 ms: idle
    consumer, fetcher = _consumer()
    pacing.after_poll(consumer, had_records=False)
    assert pacing.mode == "idle"
    assert _bounds(fetcher) == (1, IDLE_FETCH_WAIT_MS)
    pacing.after_poll(consumer, had_records=True)
    assert pacing.mode == "busy"
    assert _bounds(fetcher) == (1, IDLE_FETCH_WAIT_MS)


def test_a_fetch_wait_fills_busy_fetches_up_to_it() -> None:
    assert busy_fetch_bounds(25) == (FETCH_MIN_BYTES, 25)
    assert FetchPacing(25).consumer_options() == {
        "fetch_min_bytes": FETCH_MIN_BYTES,
        "fetch_max_wait_ms": 25,
    }


def test_a_consumer_that_cannot_be_switched_still_moves_the_mode() -> None:
    # A test double (or an aiokafka without the fields) keeps its bounds; the node's
    # idle-time work still follows the polls.
    pacing = FetchPacing(10)
    double = cast(AIOKafkaConsumer, SimpleNamespace())
    pacing.after_poll(double, had_records=False)
    assert pacing.mode == "idle"
