"""Batched signing over a real broker: records signed one root per batch land at every
entitled receiver, verified one by one, in sequence order, with nothing quarantined."""

from __future__ import annotations

import asyncio
import json

import pytest
from _exchange import label_for, report

from accord.areas import Area
from accord.exchange import LocalExchange
from accord.parties import Scope

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM
SENDER = "AUS.AFP"


async def test_batch_signed_records_land_at_every_entitled_receiver(
    exchange: LocalExchange,
) -> None:
    await exchange.start_receivers(["JPN.MOFA", "AUS.DFAT"])
    pub = await exchange.publisher(SENDER)
    label = label_for(SENDER, BI)
    many = await pub.publish_many([report(i) for i in range(40)], scope=BI, area=CT, label=label)
    single = await asyncio.gather(
        *(pub.publish(report(100 + i), scope=BI, area=CT, label=label) for i in range(10))
    )
    published = [*many, *single]
    assert await exchange.settle({"JPN.MOFA": 50, "AUS.DFAT": 50}, within_s=60)
    await exchange.quiesce(idle_s=1.0)

    assert [r.sequence for r in published] == list(range(1, 51))
    elements = [json.loads(r.envelope)["signatures"][0] for r in published]
    assert all("batch" in e and "signature" not in e for e in elements)
    # The 40 of publish_many were queued at once: one batch, one signature.
    assert len({e["batch"]["root"] for e in elements[:40]}) == 1
    ids = {r.message_id for r in published}
    for agency in ("JPN.MOFA", "AUS.DFAT"):
        receiver = exchange.receivers[agency]
        assert set(receiver.inbox.message_ids()) == ids
        assert receiver.stats.rejected == {}


async def test_each_record_is_where_its_publish_result_says_record_batches_of_many(
    exchange: LocalExchange,
) -> None:
    # 200 records of about 3 kB: three of the producer's 256 KiB record batches, in
    # one signing batch. Each result's offset is its record batch's first offset
    # plus its index in it; the receiver stores where it read each record.
    await exchange.start_receivers(["JPN.MOFA"])
    pub = await exchange.publisher(SENDER)
    label = label_for(SENDER, BI)
    results = await pub.publish_many(
        [report(i) for i in range(200)], scope=BI, area=CT, label=label
    )
    assert await exchange.settle({"JPN.MOFA": 200}, within_s=60)
    inbox = exchange.receivers["JPN.MOFA"].inbox
    where = []
    for r in results:
        stored = inbox.get(r.message_id, sender=SENDER)
        assert stored is not None
        where.append((stored.topic, stored.partition, stored.offset))
    assert where == [(r.topic, r.partition, r.offset) for r in results]
    offsets = [r.offset for r in results]
    assert offsets == list(range(offsets[0], offsets[0] + 200))  # one partition, in order
