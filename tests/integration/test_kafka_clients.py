"""The client factory's own promises, on the real broker."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from aiokafka.errors import KafkaTimeoutError

from accord.broker import LocalBroker
from accord.kafka import close_producer, new_producer

pytestmark = pytest.mark.kafka

TOPIC = "client-factory"


async def test_close_producer_is_bounded_when_the_broker_is_gone(tmp_path: Path) -> None:
    # aiokafka's own stop() would wait forever for this batch's ack.
    broker = LocalBroker(tmp_path / "doomed", mode="plain")
    await asyncio.to_thread(broker.start)
    try:
        producer = new_producer(broker.connection())
        await producer.start()
        await producer.send_and_wait(TOPIC, b"acknowledged")  # topic and leader known
        broker.kill()
        queued = await producer.send(TOPIC, b"never acknowledged")
        started = time.monotonic()
        abandoned = await close_producer(producer, timeout_s=2.0)
        took = time.monotonic() - started
    finally:
        broker.kill()
    assert abandoned == 1
    assert took < 15, f"close took {took:.1f}s"
    with pytest.raises(KafkaTimeoutError):
        await asyncio.wait_for(queued, timeout=1)


async def test_close_producer_flushes_what_the_broker_takes(kafka: LocalBroker) -> None:
    topic = f"flushed-{uuid.uuid4().hex[:8]}"
    producer = new_producer(kafka.connection())
    await producer.start()
    queued = [await producer.send(topic, f"m{i}".encode()) for i in range(50)]
    assert await close_producer(producer, timeout_s=30) == 0
    offsets = sorted(f.result().offset for f in queued)
    assert offsets == list(range(50))
