"""A node process freezes its start-up heap and collects less often (accord.node.heap)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from _receive import records, run, sealed

from accord.config import ReceiverSettings
from accord.node.heap import YOUNG_THRESHOLD, tune_node_heap
from accord.receipts import group_for_receipts
from accord.receiver.inbox import Inbox


class Cycle:
    """Garbage only the cyclic collector frees: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def thawed() -> Iterator[None]:
    """No automatic collection meanwhile (only the explicit ones are judged), and the
    test process gets its heap back afterwards."""
    thresholds = gc.get_threshold()
    gc.unfreeze()
    gc.disable()
    yield
    gc.enable()
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("thawed")
def test_start_up_garbage_is_freed_the_rest_frozen_and_later_garbage_still_freed() -> None:
    startup_garbage = weakref.ref(Cycle())
    assert startup_garbage() is not None
    frozen = tune_node_heap()
    assert startup_garbage() is None  # collected first, not frozen for ever
    # Modules, classes, schemas...; the count falls as frozen temporaries are freed.
    assert frozen > 10_000
    assert gc.get_freeze_count() > 10_000
    later_garbage = weakref.ref(Cycle())
    gc.collect()
    assert later_garbage() is None


@pytest.mark.usefixtures("thawed")
def test_the_young_generation_is_collected_less_often_the_older_ones_as_before() -> None:
    _, older, oldest = gc.get_threshold()
    tune_node_heap()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, older, oldest)


@pytest.mark.usefixtures("thawed")
def test_a_full_poll_of_work_stays_under_half_the_young_threshold(tmp_path: Path) -> None:
    """A poll's records keep their objects alive until the poll has landed and its
    receipts are grouped; were they more than the threshold, a young collection would
    walk them all in the middle of every full poll (accord.node.heap)."""
    poll = ReceiverSettings().batch_max
    batch = records(*(sealed("AUS.DFAT", n) for n in range(1, poll + 1)))
    inbox = Inbox(tmp_path / "inbox.sqlite")
    try:
        gc.collect()
        before = gc.get_count()[0]
        out = run(batch, inbox)
        landing = inbox.land(out.deliveries, out.offsets, out.status_changes)
        groups = group_for_receipts(out.receipt_items())
        held = gc.get_count()[0] - before
    finally:
        inbox.close()
    assert len(landing.landed) == poll
    assert sum(len(acks) for acks in groups.values()) == poll
    assert held > poll  # every record's work is counted
    assert held < YOUNG_THRESHOLD / 2
