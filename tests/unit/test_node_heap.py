"""A node process freezes its start-up heap (accord.node.heap)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from accord.node.heap import freeze_startup_heap


class Cycle:
    """Garbage only the cyclic collector frees: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def thawed() -> Iterator[None]:
    """No automatic collection meanwhile (only the explicit ones are judged), and the
    test process gets its heap back afterwards."""
    gc.unfreeze()
    gc.disable()
    yield
    gc.enable()
    gc.unfreeze()


@pytest.mark.usefixtures("thawed")
def test_start_up_garbage_is_freed_the_rest_frozen_and_later_garbage_still_freed() -> None:
    startup_garbage = weakref.ref(Cycle())
    assert startup_garbage() is not None
    frozen = freeze_startup_heap()
    assert startup_garbage() is None  # collected first, not frozen for ever
    # Modules, classes, schemas...; the count falls as frozen temporaries are freed.
    assert frozen > 10_000
    assert gc.get_freeze_count() > 10_000
    later_garbage = weakref.ref(Cycle())
    gc.collect()
    assert later_garbage() is None
