"""Reading an agency's quarantine topic.

The receiver quarantines a refused record as its raw bytes plus headers:
``accord-reason`` (a ReasonCode), ``accord-detail``, ``accord-source-topic``,
``-partition``, ``-offset``, ``accord-agency`` and, for a record too large to keep
whole, ``accord-original-size`` and ``accord-original-sha256`` (the value is then a
prefix). Reading is bounded: up to the end offsets seen at the start, a batch at a
time, and it fails (``BrokerError``) rather than hang when the broker is gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from accord.config import KafkaConnection
from accord.errors import AccordError, BrokerError
from accord.kafka import close_consumer, new_consumer

T = TypeVar("T")


class QuarantineError(AccordError):
    code = "quarantine-not-found"


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    partition: int
    offset: int
    reason: str
    detail: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    value: bytes | None
    key: bytes | None
    original_size: int | None
    """Set when only a prefix of the record was kept: it cannot be replayed."""

    @property
    def ref(self) -> str:
        """How an operator names it: ``partition:offset`` in the quarantine topic."""
        return f"{self.partition}:{self.offset}"

    @property
    def source(self) -> str:
        return f"{self.source_topic}/{self.source_partition}@{self.source_offset}"


def parse_record(record: ConsumerRecord) -> QuarantinedRecord:
    headers = {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}

    def number(name: str) -> int | None:
        text = headers.get(name, "")
        return int(text) if text.isdigit() else None

    return QuarantinedRecord(
        partition=record.partition,
        offset=record.offset,
        reason=headers.get("accord-reason", "unknown"),
        detail=headers.get("accord-detail", ""),
        source_topic=headers.get("accord-source-topic", ""),
        source_partition=number("accord-source-partition"),
        source_offset=number("accord-source-offset"),
        value=record.value,
        key=record.key,
        original_size=number("accord-original-size"),
    )


async def iter_topic(
    conn: KafkaConnection, topic: str, *, stall_s: float = 30.0
) -> AsyncIterator[ConsumerRecord]:
    """Every record of ``topic``, from the start up to the end offsets seen when
    reading began, a batch at a time: memory stays bounded however large the topic
    (a hostile flood fills quarantine first). Fails with ``BrokerError`` when the
    broker cannot be reached or reading makes no progress for ``stall_s``."""
    # No group: nothing is committed, and every partition is read from its start.
    consumer = new_consumer(conn, topic, group_id=None, client_id="accord-quarantine")
    try:
        await _bounded(consumer.start(), topic, stall_s)
        if topic not in await _bounded(consumer.topics(), topic, stall_s):
            raise BrokerError(
                f"topic {topic} does not exist",
                hint="apply the plan with `accord plan apply`, or check --agency",
            )
        ends: dict[TopicPartition, int] | None = None
        loop = asyncio.get_running_loop()
        progress_at = loop.time()
        while True:
            batch = await _bounded(
                consumer.getmany(timeout_ms=200, max_records=_BATCH), topic, stall_s
            )
            if ends is None and consumer.assignment():  # after the first metadata update
                ends = await _bounded(
                    consumer.end_offsets(list(consumer.assignment())), topic, stall_s
                )
            for tp, records in batch.items():
                progress_at = loop.time()
                for r in records:
                    if ends is None or r.offset < ends.get(tp, 0):
                        yield r
            if ends is not None:
                behind = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
                if not behind:
                    return
            if loop.time() - progress_at > stall_s:
                raise BrokerError(
                    f"reading {topic} made no progress for {stall_s:g}s",
                    hint="check that the broker is up and ACCORD_BOOTSTRAP_SERVERS points at it",
                )
    finally:
        await close_consumer(consumer, timeout_s=10)


_BATCH = 100
"""Records per poll; at most 256 KiB each in quarantine."""


async def _bounded(step: Awaitable[T], topic: str, timeout_s: float) -> T:
    """One client call, bounded, its failures as ``BrokerError`` (one line, a hint)."""
    try:
        return await asyncio.wait_for(step, timeout=timeout_s)
    except TimeoutError:
        raise BrokerError(
            f"could not read {topic} within {timeout_s:g}s",
            hint="check that the broker is up and ACCORD_BOOTSTRAP_SERVERS points at it",
        ) from None
    except KafkaConnectionError as exc:
        raise BrokerError(
            f"could not reach the broker to read {topic}: {type(exc).__name__}",
            hint="check that the broker is up and ACCORD_BOOTSTRAP_SERVERS points at it",
        ) from None
    except KafkaError as exc:
        raise BrokerError(
            f"could not read {topic}: {type(exc).__name__}",
            hint="check that this principal may read the topic (its own "
            "quarantine and the trust topic)",
        ) from None


async def iter_quarantine(
    conn: KafkaConnection, topic: str, *, stall_s: float = 30.0
) -> AsyncIterator[QuarantinedRecord]:
    async for r in iter_topic(conn, topic, stall_s=stall_s):
        yield parse_record(r)


def parse_ref(ref: str) -> tuple[int, int]:
    """``partition:offset`` (or a bare offset, in partition 0) as numbers."""
    part, _, off = ref.rpartition(":")
    try:
        return int(part or 0), int(off)
    except ValueError:
        raise QuarantineError(
            f"{ref!r} is not partition:offset", hint="take one from `accord quarantine list`"
        ) from None


async def find(conn: KafkaConnection, topic: str, ref: str) -> QuarantinedRecord:
    """The record named ``ref`` (see ``parse_ref``)."""
    wanted = parse_ref(ref)
    async for r in iter_quarantine(conn, topic):
        if (r.partition, r.offset) == wanted:
            return r
    raise QuarantineError(
        f"no quarantined record at {ref}", hint="take one from `accord quarantine list`"
    )
