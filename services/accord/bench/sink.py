"""An in-memory producer for the cost harnesses: aiokafka's ``send`` (and the start,
flush and stop the receiver calls), each send acknowledged at once. What a harness
then times is accord's CPU, no broker's and no socket's."""

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
