"""A node process freezes its start-up heap and collects less often (accord.node.heap)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from accord.node.heap import YOUNG_THRESHOLD, tune_node_heap


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
