"""The batch step: what one poll's records become, decided without a broker.

    records + the inbox's state -> Outcome(deliveries, status changes,
                                           quarantines, duplicates, gaps, offsets)

Synchronous and free of I/O but for reads of the inbox, so every rule of the
receive path (ownership, dedupe, order, sequences, every reason code the
receiver gives) is unit-tested with plain records and a temporary inbox. The
supervisor (``accord.receiver.service``) writes the outcome: quarantine first,
then the inbox in one transaction, then receipts.

Identity is ``(sender, message_id)``: an agency's id can be reused by another
agency without touching the first one's message (each lands; neither is a
replay), and a supersede or retract only ever changes a message of its own
sender. Ownership is judged against the inbox AND the whole batch, in two
passes: a retract that arrives in the same poll as another agency's message of
that id is refused ``not-originator`` whichever comes first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from accord.confidentiality import Audiences, Keyring
from accord.envelope import Header, Rejected, Verified
from accord.envelope.batch import RootCache
from accord.errors import ReasonCode
from accord.models import Retract, Supersede
from accord.parties import Country
from accord.plan import Plan
from accord.receiver.assess import assess
from accord.receiver.inbox import Delivery, Status, StatusChange
from accord.trust import TrustStore


class Record(Protocol):
    """What the step reads of a Kafka record (aiokafka's ``ConsumerRecord`` fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class InboxState(Protocol):
    """The reads the step makes of the inbox (``Inbox`` fits)."""

    def payload_digests(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], str]: ...
    def senders_of(self, message_id: str) -> frozenset[str]: ...
    def last_sequence(self, sender: str, topic: str) -> int | None: ...


_NO_KEY = ("", "")
"""The identity slot of a refused record: it has none."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Sequence numbers of one sender's stream that never arrived (or not yet)."""

    sender: str
    topic: str
    expected: int
    got: int
    message_id: str

    @property
    def missing(self) -> int:
        return self.got - self.expected


@dataclass
class Outcome:
    deliveries: list[Delivery] = field(default_factory=list)
    accepted: dict[tuple[str, str], Verified] = field(default_factory=dict)
    """The verified message of each delivery, by (sender, message_id)."""
    status_changes: list[StatusChange] = field(default_factory=list)
    quarantined: list[tuple[Record, Rejected]] = field(default_factory=list)
    duplicates: list[Record] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    """Next offset of each partition in the batch, to land with the deliveries."""

    def receipt_items(self) -> list[tuple[Header, str]]:
        """(header, digest) of each delivery: what the receipts acknowledge."""
        return [
            (self.accepted[d.sender, d.message_id].header, d.payload_sha256)
            for d in self.deliveries
        ]


@dataclass(frozen=True, slots=True)
class Context:
    """What the step checks records against: this node and its trust."""

    trust: TrustStore
    plan: Plan
    country: Country
    max_bytes: int
    keyring: Keyring | None = None
    """This node's encryption keys (envelope v2); None: v1 only (accord.receiver.assess)."""
    roots: RootCache | None = None
    """Batch roots already verified (SPEC 12), kept by the receiver across batches."""
    agency: str | None = None
    """The reading agency, for need-to-know (SPEC ENC-09); None: the keyring's."""
    audiences: Audiences | None = None
    """Who may read each encrypted body under ``plan`` (ENC-06), remembered across
    polls; None: worked out per record."""


def step(
    partitions: Iterable[Sequence[Record]],
    inbox: InboxState,
    context: Context,
    *,
    now: datetime,
) -> Outcome:
    """Decide one poll's records; each partition's records in offset order."""
    out = Outcome()
    # Pass 1: what each record is on its own (size, signature, headers, entitlement,
    # label). Pure, and the costly part.
    # Each verified record with its identity (sender, message id), the id's text
    # made once, by assess: a UUID's str() is not free and the step needs it four times.
    assessed: list[tuple[Record, Verified | Rejected, tuple[str, str]]] = []
    in_batch: dict[str, set[str]] = {}
    entitled: dict[tuple[str, str, str], bool] = {}  # the plan's answers, this poll
    for records in partitions:
        if not records:
            continue
        for record in records:
            verdict = assess(
                record.value,
                topic=record.topic,
                kafka_headers=record.headers or (),
                trust=context.trust,
                plan=context.plan,
                country=context.country,
                now=now,
                max_bytes=context.max_bytes,
                keyring=context.keyring,
                roots=context.roots,
                entitled=entitled,
                agency=context.agency,
                audiences=context.audiences,
            )
            if isinstance(verdict, Rejected):
                assessed.append((record, verdict, _NO_KEY))
                continue
            v = verdict.verified
            key = (v.header.sender, verdict.message_id)
            assessed.append((record, v, key))
            in_batch.setdefault(key[1], set()).add(key[0])
        last = records[-1]
        out.offsets[(last.topic, last.partition)] = last.offset + 1
    # Pass 2: what each record is against the inbox and the rest of the batch. The
    # digests of what the inbox already holds come in one query for the whole batch.
    digests = inbox.payload_digests({key for _, o, key in assessed if not isinstance(o, Rejected)})
    last_sequence: dict[tuple[str, str], int] = {}
    for record, outcome, key in assessed:
        if isinstance(outcome, Rejected):
            out.quarantined.append((record, outcome))
            continue
        refusal = _admit(outcome, key, record, inbox, in_batch, digests, last_sequence, out)
        if refusal is not None:
            out.quarantined.append((record, refusal))
    return out


def _admit(
    v: Verified,
    key: tuple[str, str],
    record: Record,
    inbox: InboxState,
    in_batch: dict[str, set[str]],
    digests: dict[tuple[str, str], str],
    last_sequence: dict[tuple[str, str], int],
    out: Outcome,
) -> Rejected | None:
    known = digests.get(key)
    if known is not None:
        if known != v.payload_sha256:
            return Rejected(ReasonCode.REPLAY, "message id reused for other content")
        out.duplicates.append(record)
        return None
    change = _lifecycle_change(v, inbox, in_batch)
    if isinstance(change, Rejected):
        return change
    if change is not None:
        out.status_changes.append(change)
    digests[key] = v.payload_sha256
    gap = _sequence(v, inbox, last_sequence)
    if gap is not None:
        out.gaps.append(gap)
    out.accepted[key] = v
    out.deliveries.append(_delivery(v, key[1], record))
    return None


def _lifecycle_change(
    v: Verified, inbox: InboxState, in_batch: dict[str, set[str]]
) -> StatusChange | Rejected | None:
    body = v.body
    if not isinstance(body, Supersede | Retract):
        return None
    sender = v.header.sender
    target = str(body.target_message_id)
    # The body's own check (target_sender is the sender) ran in verify; ownership of
    # the id is judged here against everything this node holds or is landing.
    owners = inbox.senders_of(target) | in_batch.get(target, set())
    if owners and sender not in owners:
        return Rejected(
            ReasonCode.NOT_ORIGINATOR,
            f"{sender} may not change {', '.join(sorted(owners))}'s message",
        )
    status: Status = "superseded" if isinstance(body, Supersede) else "retracted"
    return StatusChange(sender, target, status)


def _sequence(
    v: Verified, inbox: InboxState, last_sequence: dict[tuple[str, str], int]
) -> Gap | None:
    sender, topic, seq = v.header.sender, v.header.topic, v.header.sequence
    last = last_sequence.get((sender, topic))
    if last is None:
        last = inbox.last_sequence(sender, topic)
    last_sequence[(sender, topic)] = seq if last is None else max(last, seq)
    expected = 1 if last is None else last + 1
    if seq > expected:
        return Gap(sender, topic, expected, seq, str(v.header.message_id))
    return None


def _delivery(v: Verified, message_id: str, record: Record) -> Delivery:
    h = v.header
    assert record.value is not None  # assess refuses a record without a value
    return Delivery(
        message_id=message_id,
        type=h.type,
        sender=h.sender,
        scope=str(h.scope),
        area=str(h.area),
        sequence=h.sequence,
        issued_at=h.issued_at,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        payload_sha256=v.payload_sha256,
        # v2: the decrypted payload; the digest stays the signed payload's (receipts)
        payload=v.plaintext if v.plaintext is not None else v.payload,
        raw=record.value,
    )
