"""Batch signatures over a real broker: a batch of records signed with one signature
reaches the receiving node's inbox, and a record outside its batch's tree is
quarantined raw with its reason (SPEC section 12)."""

from __future__ import annotations

import json

import pytest
from _exchange import label_for, read_topic, report

from accord.areas import Area
from accord.envelope.batch import sign_batch
from accord.envelope.jws import unsigned
from accord.exchange import LocalExchange
from accord.kafka import new_producer
from accord.parties import Scope
from accord.publisher import routing_headers

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM


async def test_a_batch_is_delivered_and_a_record_outside_its_tree_quarantined(
    exchange: LocalExchange,
) -> None:
    await exchange.start_receivers(["JPN.NPA"])
    sender = "AUS.AFP"
    pub = await exchange.publisher(sender)
    signer = exchange.pki.signer(sender)
    label = label_for(sender, BI)
    bodies = [report(i) for i in range(6)]
    # The publisher's own checks and sequence numbers; the records re-signed as a batch.
    headers = [pub.seal(body, scope=BI, area=CT, label=label)[0] for body in bodies]
    batch = sign_batch(
        signer, [unsigned(h, label, b, signer) for h, b in zip(headers, bodies, strict=True)]
    )
    for header, record in zip(headers, batch, strict=True):
        await pub.send(header, record)
    forged = json.loads(batch[0])
    forged["payload"] = json.loads(batch[1])["payload"]
    outside = json.dumps(forged, separators=(",", ":")).encode()
    producer = new_producer(exchange.connection)
    await producer.start()
    try:
        await producer.send_and_wait(
            exchange.plan.exchange_topic(BI, CT),
            outside,
            key=sender.encode(),
            headers=routing_headers(headers[1]),
        )
    finally:
        await producer.stop()
    assert await exchange.settle({"JPN.NPA": len(batch)}, within_s=30)
    await exchange.quiesce(idle_s=1.5)
    receiver = exchange.receivers["JPN.NPA"]
    assert sorted(receiver.inbox.message_ids()) == sorted(str(h.message_id) for h in headers)
    assert receiver.stats.rejected == {"bad-signature": 1}
    quarantined = await read_topic(
        exchange.connection, exchange.plan.quarantine_topic("JPN.NPA"), expect=1
    )
    assert [r.value for r in quarantined] == [outside]  # kept raw, byte for byte
    assert dict(quarantined[0].headers)["accord-reason"] == b"bad-signature"
