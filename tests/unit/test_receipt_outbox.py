"""The receipt outbox on the receiving node: a receipt is re-sent, never lost.

The node clears a landing's ``receipts_owed`` entry only after the broker has
acknowledged its receipts, and then in the next landing transaction (no fsync of its
own). These tests run the node's own loop (``Receiver.run``) over the in-memory
consumer and producer of ``accord.bench.receive_costs`` and crash it between the
steps: no broker is needed to decide what is on disk.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accord.bench.receive_costs import NODE, MemoryConsumer, prepare, step_context
from accord.bench.sink import AckingProducer
from accord.config import KafkaConnection, ReceiverSettings
from accord.envelope import Verified, verify
from accord.publisher.service import MIRRORED_HEADERS
from accord.receiver import Inbox, Receiver
from accord.receiver.step import step


class Crash(Exception):
    """The node's process dies here."""


class Recording(AckingProducer):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[str, bytes]] = []

    async def send(self, topic: str, value: bytes | None = None, **kw: Any) -> Any:
        self.values.append((topic, value or b""))
        return await super().send(topic, value, **kw)


class CrashingConsumer(MemoryConsumer):
    """Hands out each batch once the receipts of the one before are acknowledged;
    crashes once the last batch's receipts are acknowledged too."""

    def __init__(self, batches: list[Any], per_batch: int) -> None:
        super().__init__(batches)
        self.receiver: Receiver | None = None
        self._handed = 0
        self._per_batch = per_batch

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        assert self.receiver is not None
        for _ in range(10_000):  # bounded: a broken node fails instead of hanging
            if self.receiver.stats.receipts >= self._handed * self._per_batch:
                break
            await asyncio.sleep(0)
        assert self.receiver.stats.receipts == self._handed * self._per_batch
        batch = await super().getmany(timeout_ms, max_records)
        if not batch:
            raise Crash
        self._handed += 1
        return batch


def node(
    tmp_path: Path, material: Any, consumer: MemoryConsumer, producer: AckingProducer
) -> Receiver:
    return Receiver(
        agency=NODE,
        connection=KafkaConnection(bootstrap_servers="127.0.0.1:9"),  # never dialled
        plan=material.plan,
        trust=material.pki.trust_store(),
        signer=material.pki.signer(NODE),
        inbox_path=tmp_path / "inbox.sqlite",
        settings=ReceiverSettings(follow_trust=False),
        consumer_factory=lambda *_a, **_k: consumer,
        producer_factory=lambda *_a, **_k: producer,
    )


def acknowledged(producer: Recording, material: Any) -> list[str]:
    """Message ids the receipts this producer sent acknowledge."""
    ids = []
    for topic, value in producer.values:
        if topic != material.plan.receipts_topic:
            continue
        verdict = verify(value, material.pki.trust_store())
        assert isinstance(verdict, Verified)
        body = json.loads(verdict.body.model_dump_json())
        ids += [a["message_id"] for a in body["acknowledgements"]]
    return ids


async def test_a_receipt_acknowledged_but_not_cleared_when_the_node_crashes_is_sent_again(
    tmp_path: Path,
) -> None:
    material = prepare(4, 256, tmp_path / "material")
    first, second = material.batches(2)
    consumer = CrashingConsumer([first, second], per_batch=2)
    producer = Recording()
    receiver = node(tmp_path, material, consumer, producer)
    consumer.receiver = receiver
    await receiver.start()
    try:
        await receiver.run()
        raise AssertionError("the consumer crashes the node")
    except Crash:
        pass
    # The process is gone: what it held in memory (acknowledged, not yet cleared) too.
    receiver.inbox.close()
    sent_before = acknowledged(producer, material)
    assert len(sent_before) == 4  # every message's receipt reached the broker

    inbox = Inbox(tmp_path / "inbox.sqlite")
    pending = sorted(m.message_id for o in inbox.owed_receipts() for m in o.messages)
    inbox.close()
    second_ids = sorted(dict(r.headers)[MIRRORED_HEADERS[0]].decode() for r in material.records[2:])
    # The first batch's entry was cleared by the second batch's landing transaction;
    # the second batch's acknowledgement was still in memory when the node died.
    assert pending == second_ids

    again = Recording()
    restarted = node(tmp_path, material, MemoryConsumer([]), again)
    await restarted.start()  # sends what the outbox still holds
    await restarted.stop()
    assert sorted(acknowledged(again, material)) == pending  # sent again, not lost
    inbox = Inbox(tmp_path / "inbox.sqlite")
    assert inbox.owed_receipts() == []
    inbox.close()


async def test_owed_receipts_of_a_message_that_no_longer_verifies_stay_owed(
    tmp_path: Path,
) -> None:
    material = prepare(3, 256, tmp_path / "material")
    [batch] = material.batches(3)
    inbox = Inbox(tmp_path / "inbox.sqlite")
    out = step(batch.values(), inbox, step_context(material), now=datetime.now(UTC))
    landing = inbox.land(out.deliveries, out.offsets, owe_receipts=True)
    assert len(landing.landed) == 3
    inbox.close()
    # One stored record is damaged on disk: it no longer verifies, so the node must
    # not sign a receipt for it, nor forget that one is owed.
    damaged = landing.landed[1]
    db = sqlite3.connect(tmp_path / "inbox.sqlite")
    db.execute(
        "UPDATE messages SET raw = ? WHERE sender = ? AND message_id = ?",
        (b"{}", *damaged),
    )
    db.commit()
    db.close()

    producer = Recording()
    restarted = node(tmp_path, material, MemoryConsumer([]), producer)
    await restarted.start()  # sends what is owed and verifies
    await restarted.stop()
    assert sorted(acknowledged(producer, material)) == sorted(
        m for s, m in landing.landed if (s, m) != damaged
    )
    inbox = Inbox(tmp_path / "inbox.sqlite")
    assert [(m.sender, m.message_id) for o in inbox.owed_receipts() for m in o.messages] == [
        damaged
    ]
    inbox.close()
