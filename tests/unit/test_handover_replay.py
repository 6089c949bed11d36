"""Quarantine replay without a broker: real signed envelopes, a real inbox."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from accord.areas import Area
from accord.config import KafkaConnection
from accord.handover import Outbox
from accord.labels import scope_label
from accord.models import InformationReport, Priority, Subject
from accord.parties import Scope
from accord.plan import Plan, load_plan
from accord.publisher import Publisher
from accord.quarantine import QuarantinedRecord, replay
from accord.receiver.inbox import Inbox
from accord.trust import TrustStore
from accord.trust.pki import Pki, provision

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM


@pytest.fixture(scope="module")
def plan() -> Plan:
    # Replay of v1 envelopes against today's trust; encryption is not the subject.
    deployed = load_plan(None)
    scopes = {s: sp.model_copy(update={"encryption": "off"}) for s, sp in deployed.scopes.items()}
    return deployed.model_copy(update={"scopes": scopes})


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory, plan: Plan) -> tuple[Pki, TrustStore]:
    """A PKI whose AUS.AFP has just rotated, and the trust store from before."""
    pki = provision(tmp_path_factory.mktemp("pki"), plan.agencies)
    before = pki.trust_store()
    pki.directory.issue("AUS.AFP", rotate=True)
    return pki, before


def sealed(pki: Pki, plan: Plan, tmp: Path, n: int) -> bytes:
    publisher = Publisher(
        agency="AUS.AFP",
        connection=KafkaConnection(),
        plan=plan,
        signer=pki.signer("AUS.AFP"),
        state_path=tmp / "publisher.sqlite",
    )
    body = InformationReport(
        title=f"Report {n}",
        priority=Priority.PRIORITY,
        details="x" * 40,
        subjects=(Subject.TERRORISM,),
        region="South-East Asia",
        observed_at=datetime.now(UTC),
    )
    label = scope_label("AUS.AFP", BI, legal_basis="Test message under the originator's laws.")
    _header, envelope = publisher.seal(body, scope=BI, area=CT, label=label)
    return envelope


def record(
    plan: Plan,
    value: bytes,
    offset: int,
    *,
    reason: str = "unknown-key",
    original_size: int | None = None,
) -> QuarantinedRecord:
    return QuarantinedRecord(
        partition=0,
        offset=offset,
        reason=reason,
        detail="",
        value=value,
        key=b"AUS.AFP",
        source_topic=plan.exchange_topic(BI, CT),
        source_partition=0,
        source_offset=offset,
        original_size=original_size,
    )


def test_replay_lands_once_what_today_s_trust_accepts(
    rotated: tuple[Pki, TrustStore],
    plan: Plan,
    tmp_path: Path,
) -> None:
    pki, before = rotated
    good = [record(plan, sealed(pki, plan, tmp_path, n), n) for n in range(2)]
    tampered = bytearray(good[0].value or b"")
    tampered[len(tampered) // 2] ^= 1
    others = [
        record(plan, bytes(tampered), 7, reason="bad-signature"),
        record(plan, b"x" * 100, 8, reason="oversized", original_size=2_000_000),
    ]
    inbox = Inbox(tmp_path / "inbox.sqlite", outbox=True)
    try:
        then = replay(good, agency="JPN.NPA", plan=plan, trust=before, inbox=inbox)
        assert [(r.outcome, r.reason) for r in then] == [("still-refused", "unknown-key")] * 2
        assert "pki publish" in then[0].hint

        now = pki.trust_store()
        results = replay(good + others, agency="JPN.NPA", plan=plan, trust=now, inbox=inbox)
        assert [r.outcome for r in results] == [
            "landed",
            "landed",
            "still-refused",
            "still-refused",
        ]
        assert [r.reason for r in results[2:]] == ["bad-signature", "oversized"]
        again = replay(good, agency="JPN.NPA", plan=plan, trust=now, inbox=inbox)
        assert [r.outcome for r in again] == ["already-landed"] * 2
        assert inbox.count() == 2
        stored = inbox.get(str(results[0].message_id))
        assert stored is not None
        assert stored.raw == good[0].value  # landed byte for byte
    finally:
        inbox.close()
    # Landed like any delivery: receipts owed, handover row in the same transaction.
    outbox = Outbox(tmp_path / "inbox.sqlite", read_only=True)
    try:
        assert outbox.counts()["pending"] == 2
    finally:
        outbox.close()
    inbox = Inbox(tmp_path / "inbox.sqlite")
    try:
        assert sum(len(o.messages) for o in inbox.owed_receipts()) == 2
    finally:
        inbox.close()
