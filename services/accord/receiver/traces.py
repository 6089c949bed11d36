"""Each delivered message's trace, made when it is first asked for.

A delivery's trace is a child of its record's ``traceparent``, or a fresh trace when
the header is missing or malformed (never a reason to refuse: it is outside the
signature), with the signed header's correlation id (accord.observability.trace).

Most of a batch's traces are never read: without a handler, a handover endpoint or
DEBUG lines, a node reads the first message's of each receipt and the batch line's
when the batch holds one message. Each costs about 3.6 µs (a parsed header, a random
span id), so a trace is made on first reading and kept: read twice, it is the same
trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from accord.observability.trace import TraceContext, continue_or_start
from accord.receiver.step import Outcome, Record

Key = tuple[str, str]
"""A message's (sender, message_id)."""


class DeliveryTraces(Mapping[Key, TraceContext]):
    """The traces of one batch's deliveries, by (sender, message_id)."""

    def __init__(self, records: Iterable[Sequence[Record]], out: Outcome) -> None:
        self._out = out
        self._records: dict[tuple[str, int, int], Record] = {
            (r.topic, r.partition, r.offset): r for rs in records for r in rs
        }
        self._where = {(d.sender, d.message_id): d for d in out.deliveries}
        self._made: dict[Key, TraceContext] = {}

    def __getitem__(self, key: Key) -> TraceContext:
        made = self._made.get(key)
        if made is None:
            d = self._where[key]  # KeyError: not a delivery of this batch
            correlation = self._out.accepted[key].header.correlation_id
            made = self._made[key] = continue_or_start(
                self._records[d.topic, d.partition, d.offset].headers,
                correlation_id=None if correlation is None else str(correlation),
            )
        return made

    def __iter__(self) -> Iterator[Key]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)
