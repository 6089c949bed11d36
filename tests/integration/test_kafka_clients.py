"""The client factory's own promises, on the real broker."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from accord.broker import LocalBroker
from accord.config import KafkaConnection
from accord.errors import BrokerError
from accord.kafka import (
    close_producer,
    new_consumer,
    new_producer,
    set_fetch_wait,
    start_producer,
)

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


async def test_start_producer_is_bounded_when_no_broker_answers() -> None:
    # A peer that accepts connections and never answers: aiokafka's start() would
    # wait for its request timeout, then (with a real cluster that cannot grant a
    # producer id) forever. The failover scenario checks the real-cluster case.
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        producer = new_producer(KafkaConnection(bootstrap_servers=f"127.0.0.1:{port}"))
        started = time.monotonic()
        with pytest.raises(BrokerError) as raised:
            await start_producer(producer, timeout_s=1.0)
        took = time.monotonic() - started
    finally:
        silent.close()
    assert took < 10, f"start gave up after {took:.1f}s"
    assert "producer id" in str(raised.value)
    assert raised.value.hint is not None
    assert "majority of the controllers" in raised.value.hint


async def test_set_fetch_wait_changes_what_the_broker_holds_the_next_fetch_for(
    kafka: LocalBroker,
) -> None:
    # The receiver's idle/busy pacing (accord.receiver.fetch) rests on this: aiokafka
    # has no public setter, so an upgrade that moved the fields would silently leave
    # every fetch as built. One direction is checked, the one a loaded machine can
    # only make slower: after the switch the broker holds a fetch for a lone record.
    topic = f"paced-{uuid.uuid4().hex[:8]}"
    producer = new_producer(kafka.connection())
    await producer.start()
    consumer = new_consumer(kafka.connection(), topic, group_id=None)  # 1 byte or 500 ms
    try:
        await producer.send_and_wait(topic, b"first")
        await consumer.start()
        first = await consumer.getmany(timeout_ms=20_000)
        assert [r.value for rs in first.values() for r in rs] == [b"first"]
        assert set_fetch_wait(consumer, min_bytes=10_000_000, max_wait_ms=3_000)
        await asyncio.sleep(1.0)  # the fetch built before the switch (500 ms at most) is back
        sent = time.monotonic()
        await producer.send_and_wait(topic, b"second")
        second = await consumer.getmany(timeout_ms=20_000)
        held = time.monotonic() - sent
        assert [r.value for rs in second.values() for r in rs] == [b"second"]
        assert held >= 1.0, f"the broker answered in {held:.2f}s: the switch did not reach it"
    finally:
        await consumer.stop()
        await producer.stop()


async def test_set_fetch_wait_leaves_a_consumer_without_a_fetcher_alone() -> None:
    consumer = new_consumer(KafkaConnection(), "never-started", group_id=None)
    assert set_fetch_wait(consumer, min_bytes=1, max_wait_ms=500) is False


async def test_a_burst_of_signed_size_records_goes_in_few_produce_requests(
    kafka: LocalBroker,
) -> None:
    # aiokafka sends one request at a time per broker, one batch per partition in
    # it: at its default 16 KiB a publisher's batch of 100 records of 3.2 KB (one
    # signed 1 KiB message each) would take 20 round trips.
    topic = f"batched-{uuid.uuid4().hex[:8]}"
    producer = new_producer(kafka.connection(), linger_ms=0)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"topic and leader known")
        requests: list[str] = []
        send = producer.client.send

        async def counted(node_id: int, request: Any, **options: Any) -> Any:
            requests.append(type(request).__name__)
            return await send(node_id, request, **options)

        producer.client.send = counted  # type: ignore[method-assign]
        record = b"x" * 3200
        queued = [await producer.send(topic, record, key=b"AUS.AFP") for _ in range(100)]
        await asyncio.gather(*queued)
    finally:
        await producer.stop()
    produce = [r for r in requests if r.startswith("Produce")]
    assert 1 <= len(produce) <= 3, requests  # 330 KB: two batches of PRODUCE_BATCH_BYTES
