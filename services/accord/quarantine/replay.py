"""Replay: land what the quarantine holds and today's trust store now accepts.

Each record is assessed again exactly as the receiver would (``assess``: size,
signature, chain, revocation, label, topic, entitlement, releasability) against
the trust store as it is now (the node's bundle plus the trust topic), then
checked against the inbox: a message already there (landed since, or by an
earlier replay) is reported as such and not landed again, so replaying twice
lands once. What lands is written by ``Inbox.land`` like any delivery: with its
receipt pending (the running node sends it) and, where the node hands over, its
handover row in the same transaction.

The routing headers of the original record are not kept in quarantine, so the
header-mismatch check has nothing to compare: the signed header, which the
verification covers, is what routing is checked against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from accord.config import KafkaConnection
from accord.errors import ReasonCode
from accord.models import Retract, Supersede
from accord.parties import country_of
from accord.plan import Plan
from accord.quarantine.records import QuarantinedRecord, iter_topic
from accord.receiver.assess import Refusal, assess
from accord.receiver.inbox import Delivery, Inbox, Status
from accord.receiver.service import MAX_RECORD_BYTES
from accord.trust import TrustStore
from accord.trust.feed import apply_item

Outcome = Literal["landed", "already-landed", "still-refused"]

HINTS: dict[str, str] = {
    ReasonCode.UNKNOWN_KEY: "the signer's certificate is not trusted yet: the sender's "
    "country publishes it (`accord pki publish`), then replay again",
    ReasonCode.UNTRUSTED_ISSUER: "the issuing root is not in this node's bundle",
    ReasonCode.REVOKED: "the key was revoked: the sender must re-send with its new key",
    ReasonCode.EXPIRED_CERT: "the certificate had expired when the message was signed",
    ReasonCode.OVERSIZED: "only a prefix was kept; ask the sender to re-send within limits",
    ReasonCode.REPLAY: "the inbox holds other content under this id: ask the sender",
}
DEFAULT_HINT = "this refusal does not depend on trust: ask the sender to correct and re-send"


@dataclass(frozen=True, slots=True)
class ReplayResult:
    record: QuarantinedRecord
    outcome: Outcome
    message_id: str | None = None
    reason: str | None = None
    detail: str | None = None

    @property
    def hint(self) -> str:
        return HINTS.get(self.reason or "", DEFAULT_HINT)


async def current_trust(conn: KafkaConnection, plan: Plan, bundle: Path, *,
                        timeout_s: float = 30.0) -> TrustStore:
    """Today's trust store, as the running node has it: its bundle, then the trust
    topic (rotations and revocations) read to its end."""
    store = TrustStore.from_bundle(bundle)
    async for r in iter_topic(conn, plan.trust_topic, stall_s=timeout_s):
        apply_item(store, r.key, r.value)
    return store


def replay(records: Iterable[QuarantinedRecord], *, agency: str, plan: Plan,
           trust: TrustStore, inbox: Inbox, now: datetime | None = None) -> list[ReplayResult]:
    """Replay each record in order; one landing transaction per record that passes."""
    at = now or datetime.now(UTC)
    country = country_of(agency)
    results: list[ReplayResult] = []
    for q in records:
        if q.original_size is not None:
            results.append(ReplayResult(q, "still-refused", reason=ReasonCode.OVERSIZED.value,
                                        detail=f"only a prefix of {q.original_size} bytes kept"))
            continue
        verdict = assess(q.value, topic=q.source_topic, kafka_headers=(), trust=trust,
                         plan=plan, country=country, now=at, max_bytes=MAX_RECORD_BYTES)
        if isinstance(verdict, Refusal):
            results.append(ReplayResult(q, "still-refused", reason=verdict.reason.value,
                                        detail=verdict.detail))
            continue
        v = verdict.verified
        h = v.header
        mid = str(h.message_id)
        known = inbox.payload_digest(mid)
        if known is not None:
            if known != v.payload_sha256:
                results.append(ReplayResult(q, "still-refused", mid, ReasonCode.REPLAY.value,
                                            "message id reused for other content"))
            else:
                results.append(ReplayResult(q, "already-landed", mid))
            continue
        changes: list[tuple[str, Status]] = []
        if isinstance(v.body, Supersede | Retract):
            target = str(v.body.target_message_id)
            owner = inbox.sender_of(target)
            if owner is not None and owner != h.sender:
                results.append(ReplayResult(
                    q, "still-refused", mid, ReasonCode.NOT_ORIGINATOR.value,
                    f"{h.sender} may not change {owner}'s message"))
                continue
            changes.append((target, "superseded" if isinstance(v.body, Supersede)
                            else "retracted"))
        assert q.value is not None  # assess refuses an empty record
        delivery = Delivery(
            message_id=mid, type=h.type, sender=h.sender, scope=str(h.scope), area=str(h.area),
            sequence=h.sequence, issued_at=h.issued_at, topic=q.source_topic,
            partition=q.source_partition if q.source_partition is not None else -1,
            offset=q.source_offset if q.source_offset is not None else -1,
            payload_sha256=v.payload_sha256, payload=v.payload, raw=q.value,
        )
        # No offsets: the node's position on the exchange topics is its own business.
        landed, _ = inbox.land([delivery], {}, changes)
        results.append(ReplayResult(q, "landed" if landed else "already-landed", mid))
    return results
