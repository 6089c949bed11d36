"""Replay: land what the quarantine holds and today's trust store now accepts.

Each record goes through the receiver's own batch step (``assess``: size,
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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from accord.confidentiality import Keyring
from accord.confidentiality.feed import NodeKeys, apply_key_record
from accord.config import KafkaConnection
from accord.envelope import MAX_BYTES
from accord.errors import ReasonCode
from accord.parties import country_of
from accord.plan import Plan
from accord.quarantine.records import QuarantinedRecord, iter_topic
from accord.receiver.inbox import Inbox
from accord.receiver.step import Context, step
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
    ReasonCode.UNDECRYPTABLE: "if its key announcement was missing (ENC-05), replay once the "
    "sender's key topic holds it; a body that does not open (ENC-07) the sender must re-send",
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


async def current_trust(
    conn: KafkaConnection, plan: Plan, bundle: Path, *, timeout_s: float = 30.0
) -> TrustStore:
    """Today's trust store, as the running node has it: its bundle, then the trust
    topic (rotations and revocations) read to its end."""
    store = TrustStore.from_bundle(bundle)
    async for r in iter_topic(conn, plan.trust_topic, stall_s=timeout_s):
        apply_item(store, r.key, r.value)
    return store


async def current_keys(
    conn: KafkaConnection, plan: Plan, keys: NodeKeys, *, timeout_s: float = 30.0
) -> NodeKeys:
    """``keys`` with every agency's key topic read to its end folded in (statements
    and CWK announcements), as the running node has them: an encrypted record
    quarantined ``undecryptable`` because its announcement had not arrived opens
    once it has (SPEC ENC-05)."""
    for topic in plan.keys_topics():
        async for r in iter_topic(conn, topic, stall_s=timeout_s):
            apply_key_record(keys, r.key, r.value)
    return keys


@dataclass(frozen=True, slots=True)
class _AsRecord:
    """A quarantined record as the batch step reads it: where it was first read from.

    The mirrored ``accord-*`` headers of the original are not kept in quarantine, so
    none are compared (they are never trusted anyway; the signed header decides)."""

    q: QuarantinedRecord

    @property
    def topic(self) -> str:
        return self.q.source_topic

    @property
    def partition(self) -> int:
        return self.q.source_partition if self.q.source_partition is not None else -1

    @property
    def offset(self) -> int:
        return self.q.source_offset if self.q.source_offset is not None else -1

    @property
    def key(self) -> bytes | None:
        return self.q.key

    @property
    def value(self) -> bytes | None:
        return self.q.value

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]:
        return ()


def replay(
    records: Iterable[QuarantinedRecord],
    *,
    agency: str,
    plan: Plan,
    trust: TrustStore,
    inbox: Inbox,
    now: datetime | None = None,
    keyring: Keyring | None = None,
) -> list[ReplayResult]:
    """Replay each record in order through the receiver's own batch step (the same
    checks, dedupe and ownership rules); one landing transaction per record that
    passes. No offsets move: the node's position on the exchange topics is its own.
    ``keyring``: the node's, with the CWKs it has opened (``current_keys``), so an
    encrypted record decrypts and the plan's ``encryption`` applies as on receipt."""
    at = now or datetime.now(UTC)
    context = Context(
        trust=trust,
        plan=plan,
        country=country_of(agency),
        max_bytes=MAX_BYTES,
        agency=agency,
        keyring=keyring,
    )
    results: list[ReplayResult] = []
    for q in records:
        if q.original_size is not None:
            results.append(
                ReplayResult(
                    q,
                    "still-refused",
                    reason=ReasonCode.OVERSIZED.value,
                    detail=f"only a prefix of {q.original_size} bytes kept",
                )
            )
            continue
        out = step([[_AsRecord(q)]], inbox, context, now=at)
        if out.quarantined:
            [(_, refusal)] = out.quarantined
            results.append(
                ReplayResult(q, "still-refused", reason=refusal.reason.value, detail=refusal.detail)
            )
            continue
        if out.duplicates:
            results.append(ReplayResult(q, "already-landed"))
            continue
        [delivery] = out.deliveries
        # Owed receipts like any landing: the node sends them (when it sends receipts).
        landing = inbox.land(out.deliveries, {}, out.status_changes, owe_receipts=True)
        results.append(
            ReplayResult(q, "landed" if landing.landed else "already-landed", delivery.message_id)
        )
    return results
