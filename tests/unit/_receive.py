"""Test material for the receive path without a broker: records, messages, a PKI."""

from __future__ import annotations

import asyncio
import functools
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from accord.areas import Area
from accord.bench.sink import MemoryBatch
from accord.envelope import Header, Verified, seal, verify
from accord.envelope.samples import SAMPLES
from accord.labels import scope_label
from accord.models import MessageBody, Receipt, Retract, Supersede
from accord.parties import Scope, country_of
from accord.plan import Plan, load_plan
from accord.publisher import routing_headers
from accord.receiver.step import Context, Outcome, step
from accord.trust.pki import Pki, provision

BI = Scope.BILATERAL
SA = Area.STRATEGIC_ASSESSMENTS
NODE = "JPN.MOFA"
"""The receiving node of these tests; it reads bilateral strategic assessments."""


@functools.cache
def plan() -> Plan:
    return load_plan(None)


@functools.cache
def plaintext_plan() -> Plan:
    """The deployed plan with ``encryption: off`` in every scope: for tests of what a
    publisher or receiver does with plaintext (v1), not of encryption (the deployed
    plan requires it)."""
    scopes = {s: sp.model_copy(update={"encryption": "off"}) for s, sp in plan().scopes.items()}
    return plan().model_copy(update={"scopes": scopes})


@functools.cache
def pki() -> Pki:
    return provision(Path(tempfile.mkdtemp(prefix="accord-test-receive-")), plan().agencies)


def context(max_bytes: int = 1_048_576) -> Context:
    return Context(
        trust=pki().trust_store(), plan=plan(), country=country_of(NODE), max_bytes=max_bytes
    )


@dataclass(frozen=True)
class FakeRecord:
    """A consumer record as the step reads it."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = field(default=())


@dataclass
class MemoryProducer:
    """aiokafka's ``send`` and batch interface over a list, as httpx tests use a
    ``MockTransport``: ``ack=False`` never acknowledges, ``fail`` fails every send
    with that error, ``ack_after_s`` acknowledges that long after the send (a broker
    round trip); ``batch_records`` bounds a record batch (aiokafka bounds its bytes)."""

    ack: bool = True
    fail: BaseException | None = None
    ack_after_s: float = 0.0
    batch_records: int | None = None
    sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = field(
        default_factory=list
    )
    batches: list[list[int]] = field(default_factory=list)
    """The indexes in ``sent`` of each record batch sent with ``send_batch``."""

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        self.sent.append((topic, value, key, list(headers or ())))
        return self._outcome(RecordMetadata(topic, 0, len(self.sent) - 1))

    def create_batch(self) -> MemoryBatch:
        return MemoryBatch(self.batch_records)

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    async def send_batch(
        self, batch: MemoryBatch, topic: str, *, partition: int
    ) -> asyncio.Future[Any]:
        first = len(self.sent)
        self.sent += [(topic, value, key, headers) for key, value, headers in batch.records]
        self.batches.append(list(range(first, len(self.sent))))
        return self._outcome(RecordMetadata(topic, partition, first))

    def _outcome(self, metadata: RecordMetadata) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            future.set_exception(self.fail)
        elif self.ack and self.ack_after_s:
            asyncio.get_running_loop().call_later(
                self.ack_after_s, lambda: future.done() or future.set_result(metadata)
            )
        elif self.ack:
            future.set_result(metadata)
        return future


def published_receipts(producer: MemoryProducer) -> Iterator[Receipt]:
    """The publisher's ``published`` announcements among what ``producer`` was sent,
    each verified as the monitor verifies it."""
    for topic, value, _, _ in producer.sent:
        if topic != plan().receipts_topic:
            continue
        verdict = verify(value or b"", pki().trust_store(), topic=topic)
        assert isinstance(verdict, Verified)
        assert isinstance(verdict.body, Receipt)
        assert verdict.body.status == "published"
        yield verdict.body


@dataclass(frozen=True)
class RecordMetadata:
    topic: str
    partition: int
    offset: int


def sealed(
    sender: str,
    sequence: int,
    body: MessageBody | None = None,
    *,
    message_id: UUID | None = None,
    scope: Scope = BI,
    area: Area = SA,
) -> tuple[Header, bytes]:
    header = Header.create(
        (body or _assessment()).TYPE,
        sender=sender,
        scope=scope,
        area=area,
        sequence=sequence,
        message_id=message_id,
        namespace=plan().namespace,
    )
    label = scope_label(sender, scope, legal_basis="Test message under the originator's laws.")
    return header, seal(header, label, body or _assessment(), pki().signer(sender))


def retract(target: Header, *, by: str) -> MessageBody:
    """A retract by ``by`` of ``target``'s id, naming itself as the target's sender
    (the only form its own body check lets through)."""
    return Retract(target_message_id=target.message_id, target_sender=by, reason="Withdrawn.")


def supersede(target: Header, *, by: str) -> MessageBody:
    return Supersede(
        target_message_id=target.message_id,
        target_sender=by,
        reason="Revised.",
        replacement_summary="A revised assessment.",
    )


def records(
    *envelopes: tuple[Header, bytes], start: int = 0, partition: int = 0
) -> list[FakeRecord]:
    """Envelopes as consecutive records of one partition, with their routing headers."""
    return [
        FakeRecord(
            topic=h.topic,
            partition=partition,
            offset=start + i,
            value=raw,
            key=h.sender.encode(),
            headers=tuple(routing_headers(h)),
        )
        for i, (h, raw) in enumerate(envelopes)
    ]


def run(batch: list[FakeRecord], inbox: object) -> Outcome:
    return step([batch], inbox, context(), now=datetime.now(UTC))  # type: ignore[arg-type]


def _assessment() -> MessageBody:
    return SAMPLES["accord.strategic-assessment.v1"].body
