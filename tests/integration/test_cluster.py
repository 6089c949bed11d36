"""A 3-node KRaft cluster survives one node's crash, and the node rejoins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import NewTopic

from accord.broker import LocalCluster
from accord.kafka import new_admin, new_consumer, new_producer

pytestmark = pytest.mark.cluster

TOPIC = "replicated"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path / "cluster", nodes=3, mode="plain")
    c.start()
    try:
        yield c
    finally:
        c.stop()
        assert not c.is_running


async def _partitions(c: LocalCluster) -> list[dict[str, Any]]:
    admin = new_admin(c.connection())
    await admin.start()
    try:
        (topic,) = await admin.describe_topics([TOPIC])
    finally:
        await admin.close()
    parts: list[dict[str, Any]] = topic["partitions"]
    return parts


async def _await_isr(c: LocalCluster, size: int, within: float = 90.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    while True:
        parts = await _partitions(c)
        if parts and all(len(p["isr"]) == size for p in parts):
            return parts
        if time.monotonic() > deadline:
            raise AssertionError(f"ISR never reached {size}: {parts}")
        await asyncio.sleep(1)


async def test_rf3_min_isr2_survives_a_killed_node_which_rejoins(cluster: LocalCluster) -> None:
    assert len(cluster.nodes) == 3
    assert len(set(cluster.bootstrap_servers.split(","))) == 3
    admin = new_admin(cluster.connection())
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(TOPIC, 3, 3, topic_configs={"min.insync.replicas": "2"})]
        )
    finally:
        await admin.close()
    parts = await _await_isr(cluster, 3)
    assert all(len(p["replicas"]) == 3 for p in parts)

    # Kill (SIGKILL, a crash) the node that leads partition 0: the harder case.
    victim = next(p["leader"] for p in parts if p["partition"] == 0)
    assert cluster.kill(victim) is not None
    assert not cluster.node(victim).is_running

    producer = new_producer(cluster.connection(), acks="all", request_timeout_ms=30_000)
    await producer.start()
    try:
        for i in range(30):
            meta = await asyncio.wait_for(
                producer.send_and_wait(TOPIC, f"r{i}".encode(), partition=i % 3), 60
            )
            assert meta.offset >= 0
    finally:
        await producer.stop()
    degraded = await _await_isr(cluster, 2)
    assert all(victim not in p["isr"] for p in degraded)

    cluster.restart(victim)
    assert cluster.node(victim).is_running
    rejoined = await _await_isr(cluster, 3)
    assert all(victim in p["isr"] for p in rejoined)

    consumer = new_consumer(cluster.connection(), TOPIC, group_id=None)
    await consumer.start()
    try:
        got: set[bytes] = set()
        for _ in range(60):
            batch = await consumer.getmany(timeout_ms=500)
            got |= {r.value for recs in batch.values() for r in recs if r.value is not None}
            if len(got) >= 30:
                break
    finally:
        await consumer.stop()
    assert got == {f"r{i}".encode() for i in range(30)}
