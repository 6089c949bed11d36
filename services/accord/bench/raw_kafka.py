"""(a) raw aiokafka produce and consume of pre-encoded bytes: the transport's ceiling.

The same idempotent, ``acks=all`` producer settings as the publisher, so the
ratio b/a isolates what signing, checking and the inbox cost.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time

from accord.bench.figures import Rate, percentile
from accord.config import KafkaConnection
from accord.kafka import new_consumer, new_producer


async def raw_roundtrip(conn: KafkaConnection, topic: str, count: int, size: int = 1024) -> Rate:
    """Produce ``count`` records as fast as acks allow while one consumer drains them."""
    padding = os.urandom(size - 8)
    consumer = new_consumer(conn, topic, group_id=None)
    await consumer.start()
    latencies: list[float] = []

    async def drain() -> None:
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    (sent,) = struct.unpack_from("d", r.value)
                    latencies.append(now - sent)

    producer = new_producer(conn)
    await producer.start()
    drainer = asyncio.create_task(drain())
    start = time.perf_counter()
    try:
        pending = []
        for _ in range(count):
            value = struct.pack("d", time.perf_counter()) + padding
            pending.append(await producer.send(topic, value))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        await asyncio.wait_for(drainer, timeout=120)
        elapsed = time.perf_counter() - start
    finally:
        drainer.cancel()
        await producer.stop()
        await consumer.stop()
    return Rate(
        "raw-aiokafka",
        count,
        elapsed,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
    )


async def ensure_topic(conn: KafkaConnection, topic: str, partitions: int = 1) -> None:
    """Create the raw run's topic up front, so the consumer sees it at once."""
    from aiokafka.admin import NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    from accord.kafka import new_admin

    admin = new_admin(conn)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()
