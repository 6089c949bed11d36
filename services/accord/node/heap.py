"""A node process's heap: what it keeps for life is kept out of the collector's way,
and the collector runs less often.

Once a node has started (its modules, plan, trust store, pydantic schemas, Kafka
clients) the process holds about 90 000 objects that live as long as it does. The
cyclic garbage collector walked all of them in every full collection, 40 to 60 ms
on this project's machine, and one came every few thousand messages in the middle
of a poll: the tail of the paced latency (docs/bench.md, seventh pass).
``gc.freeze`` (the standard library's tool for exactly this) moves them to a
permanent generation that collections skip; a full collection then walks what was
made since, 5 to 9 ms. The price: an object alive at start-up that later becomes
cyclic garbage is never freed.

A message's work makes and frees thousands of objects, nearly all freed by their
reference counts; at Python's default young-generation threshold (700 allocations
net of frees) a collection still ran every 50 or so messages. In the node's own
loop (``python -m accord.bench.receive_costs --repeat 5 --heap frozen`` against
``--heap node``, 10 000 messages) that was 211 collections, 2.8 µs a message, the
longest 1.5 ms; at ``YOUNG_THRESHOLD``, 2 collections, 0.5 µs a message, the
longest 2.4 to 3.2 ms. The price: cyclic garbage waits longer for its collection, at most that
many objects' worth.

Both run once the node is up, after a collection, and only in processes that
accord owns (the command line), never from the library under an agency's own
program. ``accord bench`` is one: its process stands for the publishing node, so
each timed run starts with this call, and the peer's publisher, in the same
process, runs under it too (docs/bench.md, tenth pass).
"""

from __future__ import annotations

import gc
from typing import Literal

__all__ = ["YOUNG_THRESHOLD", "HeapMode", "tune_node_heap"]

HeapMode = Literal["default", "node"]
"""How a process runs its collector: as Python leaves it, or as a node runs it
(``tune_node_heap``). ``accord bench --peer-heap`` takes one for the peer's subscriber."""

YOUNG_THRESHOLD = 10_000
"""The collector's first threshold in a node process (Python's default: 700)."""


def tune_node_heap() -> int:
    """Collect what start-up left as garbage, freeze the rest, and raise the young
    generation's threshold; how many objects the collector will no longer walk."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    return gc.get_freeze_count()
