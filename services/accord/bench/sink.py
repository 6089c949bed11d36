"""An in-memory producer for the cost harnesses: aiokafka's ``send`` and its batch
interface (``create_batch``, ``send_batch``; and the start, flush and stop the nodes
call), each send acknowledged at once. What a harness then times is accord's CPU, no
broker's and no socket's."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Acked:
    """The ``RecordMetadata`` fields accord reads from an acknowledgement."""

    topic: str
    partition: int
    offset: int


Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]
"""A record as a producer takes it: key, value, headers."""


class MemoryBatch:
    """aiokafka's ``BatchBuilder`` over a list, for in-memory producers: takes
    ``limit`` records at most (aiokafka's limit is a size in bytes; either way an
    empty batch takes any record), none once closed."""

    def __init__(self, limit: int | None = None) -> None:
        self.records: list[Record] = []
        self._limit = limit
        self._closed = False

    def append(
        self,
        *,
        timestamp: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> int | None:
        """The record's index in the batch, or None when it is full or closed."""
        full = self._limit is not None and len(self.records) >= max(self._limit, 1)
        if self._closed or full:
            return None
        self.records.append((key, value, list(headers)))
        return len(self.records) - 1

    def close(self) -> None:
        self._closed = True


class AckingProducer:
    """Acknowledges every record at once, at the next offset of partition 0."""

    def __init__(self) -> None:
        self.sent = 0

    async def start(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        self.sent += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(Acked(topic, 0, self.sent))
        return future

    def create_batch(self) -> MemoryBatch:
        return MemoryBatch()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    async def send_batch(
        self, batch: MemoryBatch, topic: str, *, partition: int
    ) -> asyncio.Future[Any]:
        """One acknowledgement for the batch, at its first record's offset."""
        first = self.sent + 1
        self.sent += len(batch.records)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(Acked(topic, partition, first))
        return future
