"""Deciding what one record is: a delivery, a duplicate, or a rejection.

Pure and synchronous, so the whole receive-side policy can be tested without a
broker. Order: size and signature first (``verify`` parses nothing it has not
verified), then the checks only this node can make: the mirrored Kafka headers,
the sender's entitlement in the plan, the label against this node's country,
then duplicates and replays against the inbox (in ``accord.receiver.step``).
A refusal is the envelope's own ``Rejected`` (reason code, detail): one refusal
type from the verifier to the quarantine topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from accord.envelope import Rejected, Verified, verify
from accord.errors import ReasonCode
from accord.labels import releasable_to_country
from accord.parties import Country
from accord.plan import Plan
from accord.publisher.service import MIRRORED_HEADERS
from accord.trust import TrustStore


@dataclass(frozen=True, slots=True)
class Accepted:
    verified: Verified


def assess(
    raw: bytes | None,
    *,
    topic: str,
    kafka_headers: Sequence[tuple[str, bytes]],
    trust: TrustStore,
    plan: Plan,
    country: Country,
    now: datetime,
    max_bytes: int,
) -> Accepted | Rejected:
    if raw is None:
        return Rejected(ReasonCode.MALFORMED, "record has no value")
    verdict = verify(raw, trust, topic=topic, now=now, max_bytes=max_bytes)
    if isinstance(verdict, Rejected):
        return verdict
    header = verdict.header
    mismatch = _header_mismatch(verdict, kafka_headers)
    if mismatch is not None:
        return Rejected(ReasonCode.HEADER_MISMATCH, mismatch)
    if not plan.may_publish(header.sender, header.scope, header.area):
        return Rejected(
            ReasonCode.NOT_ENTITLED,
            f"{header.sender} is not entitled to publish {header.scope}/{header.area}",
        )
    if not releasable_to_country(verdict.label, country):
        return Rejected(
            ReasonCode.RELEASABILITY_VIOLATION,
            f"label does not release this message to {country.value}",
        )
    return Accepted(verdict)


def _header_mismatch(v: Verified, kafka_headers: Sequence[tuple[str, bytes]]) -> str | None:
    signed = dict(
        zip(
            MIRRORED_HEADERS,
            (str(v.header.message_id), v.header.type, v.header.sender, v.header.scope,
             v.header.area),
            strict=True,
        )
    )
    for name, value in kafka_headers:
        expected = signed.get(name)
        if expected is None:
            continue
        if value != str(expected).encode():
            return f"record header {name} disagrees with the signed header"
    return None
