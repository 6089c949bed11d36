"""Over a real broker: no agency alters another's message or squats its id, whatever
lands in one poll (issue 9, items 1 and 2)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from _exchange import label_for

from accord.areas import Area
from accord.envelope import Header, envelope_payload_sha256, seal
from accord.envelope.samples import SAMPLES
from accord.exchange import LocalExchange
from accord.kafka import new_producer
from accord.models import MessageBody, Retract
from accord.monitor import Monitor
from accord.parties import Scope
from accord.publisher import routing_headers

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
SA = Area.STRATEGIC_ASSESSMENTS
NODE = "JPN.MOFA"
BODY = SAMPLES["accord.strategic-assessment.v1"].body


def sealed(
    ex: LocalExchange,
    sender: str,
    sequence: int,
    body: MessageBody = BODY,
    message_id: UUID | None = None,
) -> tuple[Header, bytes]:
    header = Header.create(
        body.TYPE,
        sender=sender,
        scope=BI,
        area=SA,
        sequence=sequence,
        message_id=message_id,
        namespace=ex.plan.namespace,
    )
    return header, seal(header, label_for(sender, BI), body, ex.pki.signer(sender))


async def produce_together(ex: LocalExchange, *envelopes: tuple[Header, bytes]) -> None:
    """One partition, all acknowledged before the receiver starts: its first poll
    carries them all, as when a node catches up or rebuilds its inbox."""
    producer = new_producer(ex.connection)
    await producer.start()
    try:
        futures = [
            await producer.send(
                h.topic, raw, key=h.sender.encode(), partition=0, headers=routing_headers(h)
            )
            for h, raw in envelopes
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()


@pytest.mark.parametrize("retract_first", [False, True], ids=["target-first", "retract-first"])
async def test_a_retract_of_another_agencys_message_in_the_same_poll_is_refused(
    exchange: LocalExchange,
    retract_first: bool,
) -> None:
    target = sealed(exchange, "AUS.DFAT", 1)
    body = Retract(
        target_message_id=target[0].message_id, target_sender="JPN.MOD", reason="Withdrawn."
    )
    attack = sealed(exchange, "JPN.MOD", 1, body)
    await produce_together(exchange, *((attack, target) if retract_first else (target, attack)))
    await exchange.start_receiver(NODE)
    assert await exchange.settle({NODE: 1}, within_s=30)
    await exchange.quiesce(idle_s=1.5)
    receiver = exchange.receivers[NODE]
    assert receiver.stats.rejected == {"not-originator": 1}
    mid = str(target[0].message_id)
    assert receiver.inbox.message_ids() == [mid]
    stored = receiver.inbox.get(mid, sender="AUS.DFAT")
    assert stored is not None
    assert stored.status == "current"


async def test_a_squatted_id_neither_blocks_the_genuine_message_nor_counts_as_its_delivery(
    exchange: LocalExchange,
) -> None:
    genuine = sealed(exchange, "AUS.DFAT", 1)
    squat = sealed(exchange, "JPN.MOD", 1, message_id=genuine[0].message_id)
    await produce_together(exchange, squat, genuine)
    await exchange.start_receiver(NODE)
    assert await exchange.settle({NODE: 2}, within_s=30)
    await exchange.quiesce(idle_s=1.5)
    receiver = exchange.receivers[NODE]
    assert receiver.stats.rejected == {}
    mid = str(genuine[0].message_id)
    stored = receiver.inbox.get(mid, sender="AUS.DFAT")
    assert stored is not None
    assert stored.payload_sha256 == envelope_payload_sha256(genuine[1])
    monitor = Monitor(
        connection=exchange.connection,
        plan=exchange.plan,
        trust=exchange.trust,
        deadline=timedelta(0),
    )
    await monitor.consume(idle_s=1.5, until=30)
    assert monitor.ledger.acknowledged_by(mid, sender="AUS.DFAT") == {NODE}
    assert monitor.ledger.acknowledged_by(mid, sender="JPN.MOD") == {NODE}
    assert len(monitor.ledger) == 2
