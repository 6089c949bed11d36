"""Reading an agency's quarantine topic.

The receiver quarantines a refused record as its raw bytes plus headers:
``accord-reason`` (a ReasonCode), ``accord-detail``, ``accord-source-topic``,
``-partition``, ``-offset``, ``accord-agency`` and, for a record too large to keep
whole, ``accord-original-size`` and ``accord-original-sha256`` (the value is then a
prefix). Reading is bounded: to the end offsets seen at start, within a timeout.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from accord.config import KafkaConnection
from accord.errors import AccordError, BrokerError
from accord.kafka import close_consumer, new_consumer


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
        partition=record.partition, offset=record.offset,
        reason=headers.get("accord-reason", "unknown"),
        detail=headers.get("accord-detail", ""),
        source_topic=headers.get("accord-source-topic", ""),
        source_partition=number("accord-source-partition"),
        source_offset=number("accord-source-offset"),
        value=record.value, key=record.key,
        original_size=number("accord-original-size"),
    )


async def read_topic_to_end(conn: KafkaConnection, topic: str, *,
                            timeout_s: float = 30.0) -> list[ConsumerRecord]:
    """Every record of ``topic`` up to the end offsets at the time of the call."""
    # No group: nothing is committed, and every partition is read from its start.
    consumer = new_consumer(conn, topic, group_id=None, client_id="accord-quarantine")
    try:
        async with asyncio.timeout(timeout_s):
            await consumer.start()
            if topic not in await consumer.topics():
                raise BrokerError(f"topic {topic} does not exist",
                                  hint="apply the plan with `accord plan apply`, or check "
                                  "--agency")
            records: list[ConsumerRecord] = []
            while not consumer.assignment():  # assigned on the first metadata update
                await _collect(consumer, records, None)
            ends = await consumer.end_offsets(list(consumer.assignment()))
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                await _collect(consumer, records, ends)
    except TimeoutError:
        raise BrokerError(f"could not read {topic} within {timeout_s:g}s",
                          hint="check that the broker is up and ACCORD_BOOTSTRAP_SERVERS "
                          "points at it") from None
    except KafkaConnectionError as exc:
        raise BrokerError(f"could not reach the broker to read {topic}: {type(exc).__name__}",
                          hint="check that the broker is up and ACCORD_BOOTSTRAP_SERVERS "
                          "points at it") from None
    except KafkaError as exc:
        raise BrokerError(f"could not read {topic}: {type(exc).__name__}",
                          hint="check that this principal may read the topic (its own "
                          "quarantine and the trust topic)") from None
    finally:
        await close_consumer(consumer, timeout_s=10)
    return sorted(records, key=lambda r: (r.partition, r.offset))


async def _collect(consumer: AIOKafkaConsumer, records: list[ConsumerRecord],
                   ends: dict[TopicPartition, int] | None) -> None:
    batch = await consumer.getmany(timeout_ms=200)
    for tp, recs in batch.items():
        records += [r for r in recs if ends is None or r.offset < ends.get(tp, 0)]


async def read_quarantine(conn: KafkaConnection, topic: str, *,
                          timeout_s: float = 30.0) -> list[QuarantinedRecord]:
    return [parse_record(r) for r in await read_topic_to_end(conn, topic, timeout_s=timeout_s)]


def find(records: list[QuarantinedRecord], ref: str) -> QuarantinedRecord:
    """The record named ``partition:offset`` (or a bare offset, in partition 0)."""
    part, _, off = ref.rpartition(":")
    try:
        wanted = (int(part or 0), int(off))
    except ValueError:
        raise QuarantineError(f"{ref!r} is not partition:offset",
                              hint="take one from `accord quarantine list`") from None
    for r in records:
        if (r.partition, r.offset) == wanted:
            return r
    raise QuarantineError(f"no quarantined record at {ref}",
                          hint="take one from `accord quarantine list`")
