"""Bad records for the demo, crafted outside the publisher and sent raw.

The publisher refuses to sign either of these (that is its job), so they are built
with the envelope's low-level pieces and written with a plain producer, the way a
broken or hostile client would. Each names the reason code the receivers must give.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from accord.areas import Area
from accord.config import KafkaConnection
from accord.demo.scenario import label_for
from accord.envelope import Header, payload_bytes, seal, sign_payload
from accord.errors import ReasonCode
from accord.kafka import new_producer
from accord.labels import Classification
from accord.models import InformationReport, Priority, StrategicAssessment, Subject
from accord.models.messages import Confidence, KeyJudgment, Likelihood
from accord.parties import Country, Scope
from accord.plan import Plan
from accord.publisher.service import MIRRORED_HEADERS
from accord.trust import Signer


@dataclass(frozen=True)
class RawRecord:
    """A record to write as is, and what the receivers should make of it."""

    name: str
    description: str
    injector: str
    """The agency whose principal writes the record (it may write that topic)."""
    scope: Scope
    area: Area
    topic: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    expected: ReasonCode | None
    """The reason code every entitled receiver quarantines it with; None for a duplicate."""


def mirrored(
    message_id: str, type_: str, sender: str, scope: Scope, area: Area
) -> tuple[tuple[str, bytes], ...]:
    """The routing headers a publisher adds, so a raw record differs only where we say."""
    values = (message_id, type_, sender, scope.value, area.value)
    return tuple((n, v.encode()) for n, v in zip(MIRRORED_HEADERS, values, strict=True))


def _with_payload(envelope: bytes, payload: bytes) -> bytes:
    """The same JWS with another payload and the *original* signature."""
    outer = json.loads(envelope)
    outer["payload"] = base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")
    return json.dumps(outer, separators=(",", ":")).encode("ascii")


def tampered_record(plan: Plan, signer: Signer, now: datetime) -> RawRecord:
    """A properly sealed JPN.MOD report whose position is altered after signing."""
    scope, area = Scope.TRILATERAL, Area.MARITIME_AVIATION_SECURITY
    header = Header.create(
        InformationReport.TYPE,
        sender=signer.agency,
        scope=scope,
        area=area,
        sequence=0,
        namespace=plan.namespace,
    )
    label = label_for(signer.agency, scope, now)
    body = InformationReport(
        title="Unidentified submarine contact near the Tsushima Strait",
        priority=Priority.IMMEDIATE,
        details="A submerged contact was detected 40 km north-east of Tsushima heading "
        "south-west at 8 knots.",
        subjects=(Subject.MARITIME_SECURITY,),
        region="Tsushima Strait",
        observed_at=now - timedelta(minutes=30),
    )
    envelope = seal(header, label, body, signer)
    original = payload_bytes(header, label, body)
    # Same length, one fact changed: the signature still looks well-formed, the
    # JSON still parses, only the Ed25519 check can tell.
    altered = original.replace(b"40 km north-east", b"40 km south-west")
    assert altered != original
    assert len(altered) == len(original)
    return RawRecord(
        name="tampered",
        description=f"{signer.agency} report with its position altered after signing",
        injector=signer.agency,
        scope=scope,
        area=area,
        topic=header.topic,
        value=_with_payload(envelope, altered),
        headers=mirrored(str(header.message_id), header.type, signer.agency, scope, area),
        expected=ReasonCode.BAD_SIGNATURE,
    )


def mislabelled_record(plan: Plan, signer: Signer, now: datetime) -> RawRecord:
    """A trilateral assessment whose label releases it to Japan and Australia only.

    Signed with the agency's real key, so the signature verifies: only the label check
    (label vs scope) stands between this message and the USA nodes.
    """
    scope, area = Scope.TRILATERAL, Area.STRATEGIC_ASSESSMENTS
    header = Header.create(
        StrategicAssessment.TYPE,
        sender=signer.agency,
        scope=scope,
        area=area,
        sequence=0,
        namespace=plan.namespace,
    )
    label = label_for(
        signer.agency,
        scope,
        now,
        classification=Classification.SECRET,
        releasable_to=(Country.AUS, Country.JPN),
    )
    body = StrategicAssessment(
        title="Bilateral reading of alliance burden-sharing debates",
        summary="An AUS/JPN-only assessment sent, by mistake, on the trilateral topic.",
        key_judgments=(
            KeyJudgment(
                statement="Debates intensify ahead of budget cycles.",
                likelihood=Likelihood.LIKELY,
                confidence=Confidence.MODERATE,
            ),
        ),
        region="Indo-Pacific",
        valid_from=now,
        valid_until=now + timedelta(days=30),
    )
    value = sign_payload(payload_bytes(header, label, body), header.type, [signer])
    return RawRecord(
        name="mislabelled",
        description=f"{signer.agency} trilateral assessment labelled releasable to AUS, JPN only",
        injector=signer.agency,
        scope=scope,
        area=area,
        topic=header.topic,
        value=value,
        headers=mirrored(str(header.message_id), header.type, signer.agency, scope, area),
        expected=ReasonCode.RELEASABILITY_VIOLATION,
    )


async def send_raw(connection: KafkaConnection, records: list[RawRecord]) -> None:
    """Write ``records`` as they are, keyed by the injector like a publisher would."""
    producer = new_producer(connection, client_id="accord-demo-inject")
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(
                r.topic, value=r.value, key=r.injector.encode(), headers=list(r.headers)
            )
    finally:
        await producer.stop()
