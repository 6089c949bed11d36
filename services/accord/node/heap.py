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
reference counts; but a poll's work holds each record's objects until the poll has
landed: about 40 a record (a full poll of ``batch_max``, 500 records, about 20 000,
``tests/unit/test_node_heap.py``), young until a collection. The young generation is
collected when its count (allocations net of frees) passes the threshold, and a
young collection walks every young object still alive. At Python's default (700) one
ran every 50 or so messages. At 10 000 (issue 16's ninth pass) a poll of 100 records
saw none, but at full speed the receiving node's polls hold about 300 records, and
each one was walked once or twice mid-poll. As deployed (``accord bench``'s
receiving node, 30 000 messages, the collector timed by ``gc.callbacks``), young
collections took 0.49 s of the node's CPU at 10 000 (130 of them, 16 µs a message)
and 0.10 s at 50 000, start-up's included. ``YOUNG_THRESHOLD`` is now above twice a
full poll's objects, so a poll's work never triggers one: collections come only from
what outlives polls (caches filling, cyclic garbage). Measured with ``python -m
accord.bench.receive_costs --batch 500 --messages 5000``, alternated twice: at
10 000, 24 collections, 18.5 µs a message, the longest 35 to 41 ms; at 50 000, one
collection, 5.5 to 8.4 µs, the longest 82 to 125 ms (the one walk of the run's young
objects). Paced at 500 msgs/s (``python -m accord.bench.latency --rate 500 --seconds
20``, alternated twice) the p99 moved less than its rounds spread. The price: cyclic
garbage waits longer for its collection, at most that many objects' worth, and the
rare collection is longer.

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

YOUNG_THRESHOLD = 50_000
"""The collector's first threshold in a node process (Python's default: 700)."""


def tune_node_heap() -> int:
    """Collect what start-up left as garbage, freeze the rest, and raise the young
    generation's threshold; how many objects the collector will no longer walk."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    return gc.get_freeze_count()
