"""Need-to-know and the monitor: the originator's ``published`` announcement names the
readers its label's list leaves (SPEC 7, 11.4), the publisher fills them in from the
label on every path (publish, publish_many, seal + send; v1 and v2), and the ledger
waits for those agencies only, not for every agency the plan entitles."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from _receive import (
    BI,
    SA,
    MemoryProducer,
    pki,
    plaintext_plan,
    plan,
    published_receipts,
    sealed,
)
from pydantic import ValidationError

from accord.confidentiality import (
    ContentEncryptor,
    EncryptionKeyPair,
    KeyDirectory,
    Keyring,
    SenderEncryption,
    sign_key_statement,
)
from accord.config import KafkaConnection
from accord.envelope import Rejected, Verified, envelope_payload_sha256, payload_bytes, verify
from accord.envelope.jws import sign_payload
from accord.envelope.samples import SAMPLES
from accord.errors import ReasonCode
from accord.labels import Label, scope_label
from accord.models import Acknowledgement, Receipt
from accord.monitor.ledger import Ledger
from accord.plan import Plan
from accord.publisher import Publisher
from accord.receipts.build import announced_readers, build_receipt, receipt_label

SENDER = "JPN.MOFA"
BODY = SAMPLES["accord.strategic-assessment.v1"].body
BASIS = "Test message under the originator's laws."
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LATER = AT + timedelta(hours=1)


def label(need_to_know: tuple[str, ...] | None = None) -> Label:
    return scope_label(SENDER, BI, legal_basis=BASIS, need_to_know=need_to_know)


def ack(
    sender: str, mid: str, digest: str, readers: tuple[str, ...] | None = None
) -> Acknowledgement:
    if readers is None:
        return Acknowledgement(message_id=UUID(mid), sender=sender, payload_sha256=digest)
    return Acknowledgement(
        message_id=UUID(mid), sender=sender, payload_sha256=digest, readers=readers
    )


def receipt(agency: str, status: str, *acks: Acknowledgement) -> Receipt:
    return Receipt(
        receiving_agency=agency,
        received_at=AT,
        status=status,  # type: ignore[arg-type]
        acknowledgements=acks,
    )


def message(sender: str, n: int) -> tuple[str, str]:
    header, raw = sealed(sender, n)
    return str(header.message_id), envelope_payload_sha256(raw)


# -- the ledger ---------------------------------------------------------------


def test_a_need_to_know_message_is_not_outstanding_once_its_listed_readers_acknowledged() -> None:
    # Bilateral strategic assessments: the plan entitles AUS.DEFENCE, AUS.DFAT, JPN.MOD
    # and JPN.MOFA. One message of AUS.DFAT lists JPN.MOD only; the other lists no one.
    assert set(plan().entitled_receivers(BI, SA)) == {
        "AUS.DEFENCE",
        "AUS.DFAT",
        "JPN.MOD",
        "JPN.MOFA",
    }
    ledger = Ledger(plan())
    (narrow, d1), (everyone, d2) = message("AUS.DFAT", 1), message("AUS.DFAT", 2)
    ledger.record(
        receipt(
            "AUS.DFAT",
            "published",
            ack("AUS.DFAT", narrow, d1, ("JPN.MOD",)),
            ack("AUS.DFAT", everyone, d2),
        ),
        scope=BI,
        area=SA,
        at=AT,
    )
    overdue = {
        o.message_id: o.missing for o in ledger.outstanding(now=LATER, deadline=timedelta(0))
    }
    assert overdue == {
        narrow: ("JPN.MOD",),
        everyone: ("AUS.DEFENCE", "JPN.MOD", "JPN.MOFA"),
    }
    ledger.record(
        receipt("JPN.MOD", "delivered", ack("AUS.DFAT", narrow, d1), ack("AUS.DFAT", everyone, d2)),
        scope=BI,
        area=SA,
        at=AT,
    )
    overdue = {
        o.message_id: o.missing for o in ledger.outstanding(now=LATER, deadline=timedelta(0))
    }
    # The need-to-know message is complete; the other still waits for the plan's agencies.
    assert overdue == {everyone: ("AUS.DEFENCE", "JPN.MOFA")}


def test_an_announcement_after_the_delivery_receipts_narrows_who_is_waited_for() -> None:
    ledger = Ledger(plan())
    mid, digest = message("AUS.DFAT", 3)
    ledger.record(
        receipt("JPN.MOD", "delivered", ack("AUS.DFAT", mid, digest)), scope=BI, area=SA, at=AT
    )
    # Known from the delivery alone: every entitled agency but the sender is expected.
    (before,) = ledger.outstanding(now=LATER, deadline=timedelta(0))
    assert before.missing == ("AUS.DEFENCE", "JPN.MOFA")
    ledger.record(
        receipt("AUS.DFAT", "published", ack("AUS.DFAT", mid, digest, ("JPN.MOD",))),
        scope=BI,
        area=SA,
        at=AT,
    )
    assert ledger.outstanding(now=LATER, deadline=timedelta(0)) == []
    assert ledger.acknowledged_by(mid, sender="AUS.DFAT") == {"JPN.MOD"}  # kept


def test_readers_of_no_one_leave_nothing_outstanding_and_a_delivery_cannot_name_readers() -> None:
    ledger = Ledger(plan())
    mid, digest = message("AUS.DFAT", 4)
    ledger.record(
        receipt("AUS.DFAT", "published", ack("AUS.DFAT", mid, digest, ())),
        scope=BI,
        area=SA,
        at=AT,
    )
    assert ledger.outstanding(now=LATER, deadline=timedelta(0)) == []
    with pytest.raises(ValidationError, match="only in a published receipt"):
        receipt("JPN.MOD", "delivered", ack("AUS.DFAT", mid, digest, ()))


# -- the receipt on the wire ---------------------------------------------------


def test_readers_are_absent_unless_named_and_checked_like_the_label_list() -> None:
    mid, digest = message("AUS.DFAT", 5)
    plain = ack("AUS.DFAT", mid, digest)
    assert "readers" not in plain.model_dump_json()  # a v1.2 acknowledgement, byte for byte
    named = ack("AUS.DFAT", mid, digest, ("JPN.MOD", "JPN.MOFA"))
    assert json.loads(named.model_dump_json())["readers"] == ["JPN.MOD", "JPN.MOFA"]
    doc = json.loads(plain.model_dump_json())
    with pytest.raises(ValidationError, match="never null"):
        Acknowledgement.model_validate_json(json.dumps({**doc, "readers": None}))
    for bad, why in (
        (("JPN.MOFA", "JPN.MOD"), "ascending"),
        (("JPN.MOD", "JPN.MOD"), "twice"),
        (("AUS.DFAT",), "sender"),
    ):
        with pytest.raises(ValidationError, match=why):
            receipt("AUS.DFAT", "published", ack("AUS.DFAT", mid, digest, bad))


def test_a_verifier_accepts_named_readers_in_an_announcement_and_refuses_them_in_a_delivery() -> (
    None
):
    mid, digest = message("AUS.DFAT", 6)
    header, raw = build_receipt(
        [ack("AUS.DFAT", mid, digest, ("JPN.MOD",))],
        scope=BI,
        area=SA,
        namespace=plan().namespace,
        signer=pki().signer("AUS.DFAT"),
        sequence=1,
        status="published",
    )
    verdict = verify(raw, pki().trust_store(), topic=plan().receipts_topic)
    assert isinstance(verdict, Verified)
    assert isinstance(verdict.body, Receipt)
    assert verdict.body.acknowledgements[0].readers == ("JPN.MOD",)
    # A receiving node's receipt naming readers, signed without the model's checks.
    forged = Receipt.model_construct(
        receiving_agency="JPN.MOD",
        received_at=AT,
        status="delivered",
        acknowledgements=(ack("AUS.DFAT", mid, digest, ("JPN.MOD",)),),
    )
    delivered = header.model_copy(update={"sender": "JPN.MOD"})
    payload = payload_bytes(delivered, receipt_label("JPN.MOD", BI, header.issued_at), forged)
    raw = sign_payload(payload, Receipt.TYPE, [pki().signer("JPN.MOD")])
    refused = verify(raw, pki().trust_store(), topic=plan().receipts_topic)
    assert isinstance(refused, Rejected)
    assert (refused.reason, refused.rule) == (ReasonCode.SCHEMA_INVALID, "ENV-28")


def test_announced_readers_are_the_recipients_without_the_sender() -> None:
    def readers(need: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return announced_readers(plan(), sender=SENDER, scope=BI, area=SA, need_to_know=need)

    assert readers(None) is None
    assert readers(("AUS.DFAT", "JPN.MOFA")) == ("AUS.DFAT",)
    # A listed agency the plan does not entitle reads nothing (the list never widens).
    assert readers(("AUS.AFP", "JPN.MOD")) == ("JPN.MOD",)
    assert readers((SENDER,)) == ()


# -- the publisher --------------------------------------------------------------


@functools.cache
def keys() -> dict[str, EncryptionKeyPair]:
    return {a: EncryptionKeyPair.generate() for a in plan().agencies}


def encryption() -> SenderEncryption:
    directory = KeyDirectory(pki().trust_store())
    for agency, key in keys().items():
        directory.add(sign_key_statement(pki().signer(agency), key.public), now=datetime.now(UTC))
    return SenderEncryption(
        directory, ContentEncryptor(pki().signer(SENDER)), Keyring(SENDER, [keys()[SENDER]])
    )


def announced(producer: MemoryProducer) -> Iterator[Acknowledgement]:
    for receipt in published_receipts(producer):
        yield from receipt.acknowledgements


@pytest.fixture(params=["v1", "v2"])
async def publisher(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Publisher, MemoryProducer]:
    v2 = request.param == "v2"
    chosen: Plan = plan() if v2 else plaintext_plan()
    producer = MemoryProducer()
    pub = Publisher(
        agency=SENDER,
        connection=KafkaConnection(),
        plan=chosen,
        signer=pki().signer(SENDER),
        state_path=tmp_path / "publisher.sqlite",
        producer=producer,  # type: ignore[arg-type]
        encryption=encryption() if v2 else None,
    )
    return pub, producer


async def test_the_publisher_announces_the_readers_of_every_path(
    publisher: tuple[Publisher, MemoryProducer],
) -> None:
    pub, producer = publisher
    need = label(("AUS.DFAT", "JPN.MOD", "JPN.MOFA"))
    async with pub:
        one = await pub.publish(BODY, scope=BI, area=SA, label=need)
        plain = await pub.publish(BODY, scope=BI, area=SA, label=label())
        many = await pub.publish_many([BODY, BODY], scope=BI, area=SA, label=need)
        sent = await pub.send(*pub.seal(BODY, scope=BI, area=SA, label=need))
        sent_plain = await pub.send(*pub.seal(BODY, scope=BI, area=SA, label=label()))
    readers = {str(a.message_id): a.readers for a in announced(producer)}
    narrowed = ("AUS.DFAT", "JPN.MOD")
    assert readers == {
        one.message_id: narrowed,
        plain.message_id: None,
        many[0].message_id: narrowed,
        many[1].message_id: narrowed,
        sent.message_id: narrowed,
        sent_plain.message_id: None,
    }
