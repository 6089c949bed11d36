"""Kafka semantics accord relies on, checked with aiokafka against the real broker.

These are also the evidence for the chosen KAFKA_VERSION: aiokafka 0.14 must do all
of this against it (docs/broker.md).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import NewTopic
from aiokafka.structs import TopicPartition

from accord.broker import LocalBroker
from accord.kafka import new_admin, new_consumer, new_producer

pytestmark = pytest.mark.kafka


def _topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _create(broker: LocalBroker, topic: str, partitions: int = 1) -> None:
    admin = new_admin(broker.connection())
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, partitions, 1)])
        assert all(err == 0 for _name, err, *_rest in response.topic_errors)
        # A busy broker may list a new topic a moment after creating it.
        for _ in range(50):
            if topic in await admin.list_topics():
                break
            await asyncio.sleep(0.1)
        assert topic in await admin.list_topics()
    finally:
        await admin.close()


async def _drain(broker: LocalBroker, topic: str, want: int, **kw: object) -> list[bytes]:
    consumer = new_consumer(broker.connection(), topic, group_id=None, **kw)
    await consumer.start()
    got: list[bytes] = []
    try:
        for _ in range(30):
            batch = await consumer.getmany(timeout_ms=500)
            got += [r.value for recs in batch.values() for r in recs if r.value is not None]
            if len(got) >= want:
                # one more poll: nothing unexpected may follow
                batch = await consumer.getmany(timeout_ms=500)
                got += [r.value for recs in batch.values() for r in recs if r.value is not None]
                break
    finally:
        await consumer.stop()
    return got


async def test_admin_create_topics(kafka: LocalBroker) -> None:
    topic = _topic("admin")
    await _create(kafka, topic, partitions=3)
    admin = new_admin(kafka.connection())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        assert described["error_code"] == 0
        assert len(described["partitions"]) == 3
    finally:
        await admin.close()


async def test_produce_and_consume(kafka: LocalBroker) -> None:
    topic = _topic("roundtrip")
    await _create(kafka, topic)
    producer = new_producer(kafka.connection())
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, f"m{i}".encode(), key=b"k")
    finally:
        await producer.stop()
    assert await _drain(kafka, topic, 5) == [f"m{i}".encode() for i in range(5)]


async def test_idempotent_producer_acks_all(kafka: LocalBroker) -> None:
    topic = _topic("idempotent")
    await _create(kafka, topic)
    producer = new_producer(kafka.connection(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, f"i{i}".encode()) for i in range(50)]
        offsets = [(await f).offset for f in futures]
    finally:
        await producer.stop()
    assert offsets == list(range(50))  # in order, no duplicates, no gaps
    assert await _drain(kafka, topic, 50) == [f"i{i}".encode() for i in range(50)]


async def test_transactions_commit_and_abort(kafka: LocalBroker) -> None:
    topic = _topic("txn")
    await _create(kafka, topic)
    producer = new_producer(kafka.connection(), transactional_id=f"tx-{uuid.uuid4().hex[:8]}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-1")
            await producer.send_and_wait(topic, b"committed-2")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-3")
    finally:
        await producer.stop()
    committed = await _drain(kafka, topic, 3, isolation_level="read_committed")
    assert committed == [b"committed-1", b"committed-2", b"committed-3"]
    # read_uncommitted does see the aborted record: proof the abort really happened
    # on the broker rather than the record never being written.
    everything = await _drain(kafka, topic, 4, isolation_level="read_uncommitted")
    assert b"aborted" in everything


async def test_consumer_group_commit_and_resume(kafka: LocalBroker) -> None:
    topic = _topic("group")
    group = f"g-{uuid.uuid4().hex[:8]}"
    await _create(kafka, topic)
    producer = new_producer(kafka.connection())
    await producer.start()
    try:
        for i in range(6):
            await producer.send_and_wait(topic, f"g{i}".encode())
    finally:
        await producer.stop()

    tp = TopicPartition(topic, 0)
    first = new_consumer(kafka.connection(), topic, group_id=group)
    await first.start()
    try:
        seen: list[bytes] = []
        while len(seen) < 3:
            batch = await first.getmany(timeout_ms=1000, max_records=3 - len(seen))
            seen += [r.value for recs in batch.values() for r in recs if r.value is not None]
        await first.commit({tp: 3})
        assert await first.committed(tp) == 3
    finally:
        await first.stop()
    assert seen == [b"g0", b"g1", b"g2"]

    second = new_consumer(kafka.connection(), topic, group_id=group)
    await second.start()
    try:
        rest: list[bytes] = []
        for _ in range(20):
            batch = await second.getmany(timeout_ms=500)
            rest += [r.value for recs in batch.values() for r in recs if r.value is not None]
            if len(rest) >= 3:
                break
    finally:
        await second.stop()
    assert rest == [b"g3", b"g4", b"g5"]
