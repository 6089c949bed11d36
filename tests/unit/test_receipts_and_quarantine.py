"""Receipts, announcements and quarantine through an in-memory producer, and the
monitor's ledger: what each side sends and counts, without a broker."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from _receive import BI, NODE, SA, MemoryProducer, pki, plan, records, sealed

from accord.areas import Area
from accord.envelope import Header, Rejected, Verified, envelope_payload_sha256, verify
from accord.errors import BrokerError, ReasonCode
from accord.models import Acknowledgement, Receipt
from accord.monitor.ledger import Ledger
from accord.receipts import ReceiptSender, receipt_count
from accord.receiver.quarantine import QuarantineWriter
from accord.receiver.settings import QUARANTINE_MAX_BYTES


def items(n: int, sender: str = "AUS.DFAT") -> list[tuple[Header, str]]:
    out = []
    for i in range(n):
        header, raw = sealed(sender, i + 1)
        out.append((header, envelope_payload_sha256(raw)))
    return out


async def test_one_receipt_per_thousand_acknowledgements_numbered_in_order() -> None:
    producer = MemoryProducer()
    sender = ReceiptSender(
        topic=plan().receipts_topic, signer=pki().signer(NODE), status="delivered", timeout_s=5
    )
    numbers = iter(range(41, 50))
    sent = await sender.send(producer, items(3) * 400, lambda: next(numbers))
    assert sent.receipts == 2
    assert len(sent.acknowledged) == 1200
    verdicts = [verify(v or b"", pki().trust_store(), topic=t) for t, v, _, _ in producer.sent]
    assert all(isinstance(v, Verified) for v in verdicts)
    receipts = [v for v in verdicts if isinstance(v, Verified)]
    assert [v.header.sequence for v in receipts] == [41, 42]
    assert [len(v.body.acknowledgements) for v in receipts] == [1000, 200]  # type: ignore[attr-defined]


async def test_receipt_count_reserves_exactly_the_receipts_the_send_signs() -> None:
    # Two scope/area groups: 1200 acknowledgements (two receipts) and one (one receipt).
    other = sealed("AUS.DFAT", 9, area=Area.COUNTER_TERRORISM)[0]
    mixed = [*items(3) * 400, (other, "0" * 64)]
    producer = MemoryProducer()
    sender = ReceiptSender(
        topic=plan().receipts_topic, signer=pki().signer(NODE), status="delivered", timeout_s=5
    )
    numbers = iter(range(1, 10))
    sent = await sender.send(producer, mixed, lambda: next(numbers))
    assert receipt_count(mixed) == sent.receipts == 3


async def test_an_unacknowledged_receipt_is_a_broker_error() -> None:
    sender = ReceiptSender(
        topic=plan().receipts_topic, signer=pki().signer(NODE), status="delivered", timeout_s=0.05
    )
    with pytest.raises(BrokerError, match="not acknowledged"):
        await sender.send(MemoryProducer(ack=False), items(1), lambda: 1)


async def test_quarantine_keeps_reason_source_and_the_raw_bytes_or_a_bounded_prefix() -> None:
    producer = MemoryProducer()
    writer = QuarantineWriter(topic="q", agency=NODE, timeout_s=5)
    (rec,) = records(sealed("AUS.DFAT", 1))
    big = replace(rec, value=b"[" * (QUARANTINE_MAX_BYTES + 10), offset=1)
    await writer.write(
        producer,
        [
            (rec, Rejected(ReasonCode.REPLAY, "again")),
            (big, Rejected(ReasonCode.MALFORMED, "deep")),
        ],
    )
    (t1, v1, _, h1), (_, v2, _, h2) = producer.sent
    assert (t1, v1) == ("q", rec.value)
    assert dict(h1)["accord-reason"] == b"replay"
    assert dict(h1)["accord-source-offset"] == b"0"
    assert v2 is not None
    assert len(v2) == QUARANTINE_MAX_BYTES
    assert dict(h2)["accord-original-size"] == str(QUARANTINE_MAX_BYTES + 10).encode()
    with pytest.raises(BrokerError):
        await QuarantineWriter(topic="q", agency=NODE, timeout_s=0.05).write(
            MemoryProducer(ack=False), [(rec, Rejected(ReasonCode.REPLAY, "again"))]
        )


def receipt(agency: str, status: str, *acks: tuple[str, str, str]) -> Receipt:
    return Receipt(
        receiving_agency=agency,
        received_at=datetime.now(UTC),
        status=status,  # type: ignore[arg-type]
        acknowledgements=tuple(
            Acknowledgement(message_id=UUID(m), sender=s, payload_sha256=d) for s, m, d in acks
        ),
    )


def test_the_ledger_counts_a_delivery_only_of_the_content_its_originator_published() -> None:
    ledger = Ledger(plan())
    ((h, digest),) = items(1)
    mid, other = str(h.message_id), "0" * 64
    at = datetime.now(UTC)
    # A squatter's receipt for the same id under its own name is another message.
    ledger.record(
        receipt("JPN.MOFA", "delivered", ("JPN.MOD", mid, other)), scope=BI, area=SA, at=at
    )
    ledger.record(
        receipt("AUS.DFAT", "published", ("AUS.DFAT", mid, digest)), scope=BI, area=SA, at=at
    )
    assert ledger.acknowledged_by(mid, sender="AUS.DFAT") == frozenset()
    # A receipt naming the genuine sender but other content is not delivery either.
    ledger.record(
        receipt("JPN.MOD", "delivered", ("AUS.DFAT", mid, other)), scope=BI, area=SA, at=at
    )
    assert ledger.acknowledged_by(mid, sender="AUS.DFAT") == frozenset()
    ledger.record(
        receipt("JPN.NPA", "delivered", ("AUS.DFAT", mid, digest)), scope=BI, area=SA, at=at
    )
    assert ledger.acknowledged_by(mid, sender="AUS.DFAT") == {"JPN.NPA"}
    overdue = ledger.outstanding(now=at + timedelta(hours=1), deadline=timedelta(0))
    genuine = next(o for o in overdue if o.sender == "AUS.DFAT")
    assert "JPN.MOFA" in genuine.missing


def test_a_late_announcement_of_other_content_voids_earlier_acknowledgements() -> None:
    ledger = Ledger(plan())
    ((h, digest),) = items(1)
    mid = str(h.message_id)
    at = datetime.now(UTC)
    ledger.record(
        receipt("JPN.MOFA", "delivered", ("AUS.DFAT", mid, "1" * 64)), scope=BI, area=SA, at=at
    )
    assert ledger.acknowledged_by(mid) == {"JPN.MOFA"}
    ledger.record(
        receipt("AUS.DFAT", "published", ("AUS.DFAT", mid, digest)), scope=BI, area=SA, at=at
    )
    assert ledger.acknowledged_by(mid) == frozenset()
