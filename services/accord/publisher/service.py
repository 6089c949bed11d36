"""The publisher: model -> label check -> envelope -> sign -> topic -> Kafka.

Every refusal carries the same reason code that verification would give, so an
integration engineer sees the same vocabulary on both sides. A publish returns
only when the broker has acknowledged it with ``acks=all`` on an idempotent
producer; transient failures are retried with the very same signed bytes, so a
retry can never make a second, different message.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from accord.areas import Area
from accord.confidentiality import Audiences, SenderEncryption, resolve_recipients
from accord.confidentiality.feed import announcement_key
from accord.confidentiality.recipients import Recipient
from accord.config import KafkaConnection
from accord.envelope import Header, Rejected, Verified, envelope_payload_sha256
from accord.envelope.batch import sign_batch
from accord.envelope.ids import new_message_id
from accord.envelope.jws import Sealed, Unsigned, sign_record, unsigned
from accord.envelope.v2 import open_sealed, unsigned_encrypted, verify_sealed
from accord.errors import BrokerError, PublishError, ReasonCode, Refused
from accord.kafka import close_producer, new_producer, start_producer
from accord.kafka.batches import Placed, ProducerRecord, send_in_batches
from accord.labels import Label
from accord.models import MessageBody
from accord.observability.logs import get_logger
from accord.observability.metrics import NodeMetrics
from accord.observability.trace import TRACEPARENT, TraceContext, span
from accord.observability.trace import current as current_trace
from accord.parties import Scope
from accord.plan import Plan
from accord.publisher.state import PublisherState
from accord.receipts import ReceiptSender
from accord.receipts.build import Readers, announced_readers
from accord.trust import Signer, TrustStore

log = get_logger(__name__)

# Kafka record headers mirror routing fields for filtering; receivers never trust
# them and reject a record whose mirror disagrees with the signed header.
_ANNOUNCE_BATCH = 500
_ANNOUNCE_EVERY_S = 0.05

MAX_RECORD_BYTES = 1_048_576
"""The largest record a publish sends: aiokafka's ``max_request_size`` default, just
under the broker's ``message.max.bytes`` default, and the receivers' envelope limit."""
_RECORD_OVERHEAD = 128
"""Bytes a record adds to its value, key and headers (batch and record framing), rounded up."""
_TRACE_HEADER_BYTES = len(TRACEPARENT) + 55
"""The ``traceparent`` header every record carries (name + version-00 value)."""

MIRRORED_HEADERS = (
    "accord-message-id",
    "accord-type",
    "accord-sender",
    "accord-scope",
    "accord-area",
)


@dataclass(frozen=True, slots=True)
class PublishResult:
    message_id: str
    topic: str
    partition: int
    offset: int
    sequence: int
    envelope: bytes
    trace_id: str | None = field(default=None, compare=False)
    """The W3C trace the record was sent in (its ``traceparent`` header); None when
    nothing was sent (an earlier, acknowledged release returned again). Not part of
    the result's identity."""


_MIRROR_NAMES = sum(len(name) for name in MIRRORED_HEADERS)


def routing_headers(header: Header, message_id: str | None = None) -> list[tuple[str, bytes]]:
    """The record headers mirroring the signed header (``MIRRORED_HEADERS``).

    ``message_id``: the id's text, when the caller made it already (a UUID's ``str()``
    costs 1.4 µs, ``timeit``)."""
    if message_id is None:
        message_id = str(header.message_id)
    return [
        (MIRRORED_HEADERS[0], message_id.encode()),
        *_mirrored(header.type, header.sender, header.scope, header.area).headers,
    ]


def _record_headers(
    header: Header, message_id: str, trace: TraceContext
) -> list[tuple[str, bytes]]:
    """A record's headers as this publisher sends it: the mirrored ones and the trace's
    ``traceparent`` (``headers_with_trace`` of them, without looking for an earlier
    ``traceparent`` among headers that have none: 2.5 -> 1.7 µs a message)."""
    return [*routing_headers(header, message_id), (TRACEPARENT, trace.traceparent.encode("ascii"))]


class _StreamMirror(NamedTuple):
    """The mirrored values but the message id, the same on every message of a stream."""

    headers: tuple[tuple[str, bytes], ...]
    by_name: Mapping[str, bytes]
    length: int
    """Their bytes (``_check_size``)."""


@functools.lru_cache(maxsize=1024)
def _mirrored(type_: str, sender: str, scope: Scope, area: Area) -> _StreamMirror:
    # The same four values on every message of a stream: encoded once, not per
    # message (issue 16: routing_headers 3.8 -> 2.3 us), and what the publisher's size
    # check and a receiver's header check read of them made at the same time.
    values = (type_, sender, scope, area)
    headers = tuple(
        (name, str(v).encode()) for name, v in zip(MIRRORED_HEADERS[1:], values, strict=True)
    )
    return _StreamMirror(headers, dict(headers), sum(len(value) for _name, value in headers))


def mirrored_values(type_: str, sender: str, scope: Scope, area: Area) -> Mapping[str, bytes]:
    """The mirrored record headers but the message id, by name, as a publisher writes
    them: what a receiver compares a record's headers with (``header-mismatch``)."""
    return _mirrored(type_, sender, scope, area).by_name


BATCH_MAX = 256
"""Records a send batch holds at most (one transaction, and one signature when batched)."""
LINGER_S = 0.005
"""How long a batch waits for more records before it closes (0: the next loop turn)."""
_SUMMARY_EVERY_S = 10.0
"""Per-message events are DEBUG; at INFO a summary line this often at most."""


def _digest_and_need_to_know(envelope: bytes) -> tuple[str, tuple[str, ...] | None]:
    """SHA-256 (hex) of the signed payload of an envelope this node serialized itself,
    and its label's need-to-know list: what its ``published`` announcement says.

    Trusted bytes in accord's own serialization, which starts ``{"payload":"``: a v1
    payload is sliced out instead of parsing the whole envelope as JSON, and decoded
    once for both. The label is parsed only when the key occurs in the payload (v2:
    in clear text, escaped quotes aside): a message without a list costs a search."""
    if envelope[:12] != b'{"payload":"' or envelope[12:13] == b"{":  # v2, or not ours
        digest = envelope_payload_sha256(envelope)
        if b"need_to_know" not in envelope:
            return digest, None
        inner: str = json.loads(envelope)["payload"]
        doc = json.loads(inner if inner[:1] == "{" else _b64url(inner))
    else:
        encoded = envelope[12 : envelope.index(b'"', 12)]
        payload = base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4))
        digest = hashlib.sha256(payload).hexdigest()
        if b'"need_to_know"' not in payload:
            return digest, None
        doc = json.loads(payload)
    need = doc["label"].get("need_to_know")
    return digest, None if need is None else tuple(need)


async def _first(*events: asyncio.Event, within_s: float) -> None:
    """Return once any of ``events`` is set, or after ``within_s`` seconds."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_BATCH_ELEMENT = 1_200
"""Characters a batched signature element adds beyond a per-message one, at most: the
root statement (SPEC 12: at most 1024) and an audit path of 16 hashes, with framing."""


def _unsigned_digest(item: Unsigned) -> str:
    """SHA-256 (hex) of the payload a record of ``item`` signs: what receipts and
    ``published`` announcements acknowledge (``Verified.payload_sha256``)."""
    if item.payload_sha256:  # hashed by the builder from the bytes it encoded
        return item.payload_sha256
    if item.v2:
        return hashlib.sha256(item.payload.encode("utf-8")).hexdigest()
    padded = item.payload + "=" * (-len(item.payload) % 4)
    return hashlib.sha256(base64.urlsafe_b64decode(padded)).hexdigest()


def _record_size(item: Unsigned) -> int:
    """Bytes of a record of ``item`` signed in a batch, at most (so the size check runs
    before the record is queued, not after its batch is signed)."""
    payload = item.payload
    size = len(payload) if payload.isascii() else len(payload.encode("utf-8"))
    if item.v2:  # a JSON string in the record: quotes and backslashes escaped
        size += payload.count('"') + payload.count("\\")
    return size + len(item.protected_b64) + _BATCH_ELEMENT + 64


@dataclass(slots=True)
class _Outgoing:
    """One record on its way: queued, written to the sent log with its batch, sent, acked."""

    header: Header
    envelope: bytes | None
    """None until its batch is signed (``signing: batched``)."""
    unsigned: Unsigned | None
    digest: str
    """SHA-256 of the signed payload (what the ``published`` announcement acknowledges),
    computed when the record was sealed, never by parsing the envelope again."""
    headers: list[tuple[str, bytes]]
    """Routing headers and the ``traceparent``."""
    trace: TraceContext
    future: asyncio.Future[PublishResult]
    fresh_sequence: bool
    """True when the sequence number is taken by this record's batch (``publish``);
    False when ``seal`` already took it durably."""
    log_each: bool = False
    """Log ``publisher.published`` for this record when acked (no caller logs it)."""
    readers: Readers | None = None
    """Who its ``published`` announcement names as readers (need-to-know), if anyone."""
    message_id: str = ""
    """The header's message id as text, made once (the batch path needs it often): the
    caller's, when it made it already, else made here."""

    def __post_init__(self) -> None:
        if not self.message_id:
            self.message_id = str(self.header.message_id)

    @property
    def record(self) -> bytes:
        assert self.envelope is not None, "signed before its batch is logged or sent"
        return self.envelope

    @property
    def to_sign(self) -> Unsigned:
        assert self.unsigned is not None, "a record without an envelope has what to sign"
        return self.unsigned


class Publisher:
    """Publishes signed messages for one agency. Use as ``async with``."""

    def __init__(
        self,
        *,
        agency: str,
        connection: KafkaConnection,
        plan: Plan,
        signer: Signer,
        state_path: Path | None = None,
        metrics: NodeMetrics | None = None,
        retry_deadline_s: float = 120.0,
        close_timeout_s: float = 30.0,
        producer: AIOKafkaProducer | None = None,
        announce: bool = True,
        encryption: SenderEncryption | None = None,
        batch_max: int = BATCH_MAX,
        linger_s: float = LINGER_S,
    ) -> None:
        """``encryption``: this agency's keys and the key directory. With it, bodies in
        a scope whose plan says ``encryption: required | optional`` go out as envelope
        v2; without it a ``required`` scope refuses to publish (fail closed).

        ``batch_max`` and ``linger_s``: records go out in batches (one sent-log
        transaction, one signature when the scope signs ``batched``) that close at
        ``batch_max`` records or ``linger_s`` after the first (0: at the next turn
        of the event loop, with whatever is queued)."""
        if not 1 <= batch_max <= 65_536 or not 0 <= linger_s <= 1.0:
            raise ValueError("batch_max must be 1..65536 and linger_s 0..1 s")
        if signer.agency != agency:
            raise Refused(
                ReasonCode.SENDER_MISMATCH,
                f"signing certificate belongs to {signer.agency}, not {agency}",
                hint="load the key and certificate issued to this agency",
            )
        plan.agency(agency)  # fail early on an agency the plan does not know
        self.agency = agency
        self._connection = connection
        self._plan = plan
        self._audiences = Audiences(plan)  # whom each encrypted body goes to
        self._signer = signer
        self._state = PublisherState(state_path)
        self._metrics = metrics or NodeMetrics()
        self._retry_deadline_s = retry_deadline_s
        # How long stop() waits for the broker to acknowledge what is still queued.
        self._close_timeout_s = close_timeout_s
        self._producer = producer
        self._owns_producer = producer is None
        self._announce = announce
        self._encryption = encryption
        # CWK announcements not yet acknowledged: sent, and acked, before the next
        # message (the one that uses the CWK) is sent (SPEC 11.3).
        self._key_announcements: list[tuple[bytes, bytes]] = []  # (record key, value)
        self._key_lock = asyncio.Lock()
        self._announcements: list[tuple[Header, str]] = []
        self._announce_traces: dict[tuple[str, str], TraceContext] = {}
        self._announce_readers: dict[tuple[str, str], Readers] = {}
        self._announcer: asyncio.Task[None] | None = None
        # Bounded like stop(): an announcement must not outlive the brokers.
        self._announcer_sender = ReceiptSender(
            topic=plan.receipts_topic,
            signer=signer,
            status="published",
            timeout_s=close_timeout_s,
            mirror=routing_headers,
            enqueue=lambda: self._enqueue,
        )
        # Held only while records are appended to the producer's batch, never while
        # their acks are awaited: the one batch sender and the announcer then reach
        # each partition in order, so sequence numbers arrive in order (aiokafka alone
        # can reorder appends that wait for a full batch to drain).
        self._enqueue = asyncio.Lock()
        # The send batcher: callers queue records in call order; one task takes them
        # a batch at a time (see _run_batches).
        self._batch_max = batch_max
        self._linger_s = linger_s
        self._queue: list[_Outgoing] = []
        self._queued = asyncio.Event()
        self._full = asyncio.Event()
        self._batcher: asyncio.Task[None] | None = None
        self._acking: set[asyncio.Task[None]] = set()
        self._drained = asyncio.Event()
        """Set while no batch awaits its acks: the next batch then goes at once."""
        self._drained.set()
        self._closing = False
        # The next sequence number per topic, ahead of the database by what is queued
        # and not yet in a committed batch. The database's number is read once per
        # batch and topic (``_peeked``, cleared as the batcher takes a batch): another
        # process on the same state file (``accord publish`` beside a running node)
        # shows by the next batch, and a batch whose numbers it took meanwhile fails
        # at commit instead of reusing them (PublisherState.record_batch). A read per
        # message cost ~19 µs (a WAL read transaction: file locks).
        self._next_sequence: dict[str, int] = {}
        self._peeked: dict[str, int] = {}
        # The highest number per topic this publisher took durably itself (``seal``).
        self._sealed: dict[str, int] = {}
        self._summary = [0, 0, time.monotonic()]  # messages, batches, since
        # Resolved once at start: structlog's module-level proxy re-binds on every call.
        self._log = log

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._producer is None:
            # No linger in the client: the batcher already waits up to linger_s and
            # hands a whole batch over at once; aiokafka's own 5 ms on top only
            # delayed every batch (issue 16: paced latency).
            self._producer = new_producer(self._connection, linger_ms=0)
        if self._owns_producer:
            await start_producer(self._producer, timeout_s=self._retry_deadline_s)
        self._log = log.bind()
        self._closing = False

    async def stop(self) -> None:
        """Flush whatever is in flight, announcements included, then close."""
        self._closing = True
        if self._batcher is not None:
            self._queued.set()
            await self._batcher
            self._batcher = None
        if self._acking:
            # Bounded like the producer's close below: the brokers may be gone.
            await asyncio.wait(set(self._acking), timeout=self._close_timeout_s)
        if self._announcer is not None:
            await self._announcer
        if self._producer is not None and self._announcements:
            await self._flush_announcements()
        if self._producer is not None and self._owns_producer:
            abandoned = await close_producer(self._producer, timeout_s=self._close_timeout_s)
            if abandoned:
                # Their publish calls have already raised PublishError (or will now).
                log.error(
                    "publisher.closed_unconfirmed",
                    agency=self.agency,
                    batches=abandoned,
                    timeout_s=self._close_timeout_s,
                )
        for task in set(self._acking):
            task.cancel()  # its callers get a PublishError (_await_acks)
        if self._acking:
            await asyncio.wait(set(self._acking))
        self._producer = None
        self._state.close()

    # -- building ----------------------------------------------------------

    def seal(
        self,
        body: MessageBody,
        *,
        scope: Scope,
        area: Area,
        label: Label,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
    ) -> tuple[Header, bytes]:
        """Check and sign a message without sending it; refusals raise ``Refused``.

        The per-message API (one signature of its own, whatever the scope's ``signing``
        says): the sealed bytes may be stored and sent much later (``send``), so its
        sequence number is taken durably now."""
        header, envelope = self._seal(body, scope, area, label, correlation_id, causation_id)
        self._state.take_sequence(header.topic, header.sequence)
        self._sealed[header.topic] = header.sequence
        return header, envelope

    def _seal(
        self,
        body: MessageBody,
        scope: Scope,
        area: Area,
        label: Label,
        correlation_id: UUID | None,
        causation_id: UUID | None,
    ) -> tuple[Header, bytes]:
        """Check, number and sign, one signature per record; the number is taken in
        memory, not yet durably."""
        header, item = self._prepare(body, scope, area, label, correlation_id, causation_id)
        envelope = sign_record(self._signer, item)
        # Taken only now, with nothing awaited since the peek: a refused message
        # leaves no hole in the stream, so receivers report no false gap.
        self._next_sequence[header.topic] = header.sequence + 1
        return header, envelope

    def _prepare(
        self,
        body: MessageBody,
        scope: Scope,
        area: Area,
        label: Label,
        correlation_id: UUID | None,
        causation_id: UUID | None,
        *,
        batched: bool = False,
        resolved: Resolved | None = None,
    ) -> tuple[Header, Unsigned]:
        """Every check (entitlement, label, the seal's, size), then what to sign.

        ``batched``: the record goes through the batcher, whose commit refuses numbers
        another process took, so the database's number may be the one read for this
        batch; otherwise (``seal``, which takes its number durably at once) it is read
        now. ``resolved``: the recipients' keys already resolved in this call."""
        header = self._header(body, scope, area, correlation_id, causation_id, cached=batched)
        try:
            # Runs every check a verifier would (the label's included) before signing.
            item = self._unsigned(header, label, body, resolved)
        except Refused as exc:
            self._refused(exc.reason)
            raise
        self._check_size(header, _record_size(item))
        return header, item

    def _header(
        self,
        body: MessageBody,
        scope: Scope,
        area: Area,
        correlation_id: UUID | None,
        causation_id: UUID | None,
        *,
        cached: bool,
    ) -> Header:
        """The header of the next message on (scope, area), once the plan allows it."""
        if not self._plan.may_publish(self.agency, scope, area):
            self._refused(ReasonCode.NOT_ENTITLED)
            raise Refused(
                ReasonCode.NOT_ENTITLED,
                f"{self.agency} may not publish to {scope.value}/{area.value}",
                hint="add the area to the agency's publish list in the plan, or pick another",
            )
        topic = self._plan.exchange_topic(scope, area)
        stored = self._peeked.get(topic) if cached else None
        if stored is None:
            stored = self._peeked[topic] = self._state.peek_sequence(topic)
        sequence = max(self._next_sequence.get(topic, 0), stored)
        # Header.create would derive the topic again from (scope, area, namespace): the
        # plan's is the same by construction (ENV-43 is still checked when sealing).
        # Validation stays: pydantic-core validates a dict faster than model_construct
        # builds one without checks (python -m accord.bench.costs).
        return Header.model_validate(
            {
                "message_id": new_message_id(),
                "type": body.TYPE,
                "sender": self.agency,
                "issued_at": datetime.now(UTC),
                "scope": scope,
                "area": area,
                "topic": topic,
                "sequence": sequence,
                "correlation_id": correlation_id,
                "causation_id": causation_id,
            }
        )

    def _unsigned(
        self, header: Header, label: Label, body: MessageBody, resolved: Resolved | None = None
    ) -> Unsigned:
        """v1, or v2 encrypted to the recipients the plan entitles (SPEC 11): checked,
        what the signer signs (per record, or in a batch).

        ``resolved``: recipients' keys resolved earlier in the same call (``publish_many``),
        by agencies; what this one resolves is added. Each agency's current key is found
        once per call, at its first message, not once per message: its key statements
        and their certificates are checked each time (``resolve_recipients`` for the
        bench's bilateral report, six agencies: 21 µs, ``timeit``)."""
        mode = self._plan.scopes[header.scope].encryption
        if mode == "off" or (mode == "optional" and self._encryption is None):
            return unsigned(header, label, body, self._signer)
        if self._encryption is None:
            raise Refused(
                ReasonCode.PLAINTEXT_REFUSED,
                f"scope {header.scope} requires encryption and this publisher has no keys",
                hint="issue the agency's encryption key (accord keys issue) and start the "
                "node with it",
            )
        e = self._encryption
        now = datetime.now(UTC)
        agencies = self._audiences.of(
            sender=self.agency,
            scope=header.scope,
            area=header.area,
            need_to_know=label.need_to_know,
        )
        recipients = resolved.get(agencies) if resolved is not None else None
        if recipients is None:
            recipients = resolve_recipients(agencies, e.directory, now=now)  # NoEncryptionKey
            if resolved is not None:
                resolved[agencies] = recipients
        cwk, announcement = e.encryptor.cwk_for(recipients, now=now)
        if announcement is not None:
            e.keyring.open(announcement, e.directory.trust, now=now)  # to read our own
            self._key_announcements.append(
                (announcement_key(self.agency, cwk.cwk_id), announcement)
            )
        return unsigned_encrypted(header, label, body, self._signer, cwk)

    async def _send_key_announcements(self) -> None:
        """Send pending CWK announcements and wait for the broker's ack.

        An announcement leaves the list only once acknowledged, so an empty list means
        every CWK in use is on the broker; concurrent sends wait on the lock until the
        one sending it has its ack (and never send it twice)."""
        if not self._key_announcements:
            return
        async with self._key_lock:
            await self._drain_key_announcements()

    async def _drain_key_announcements(self) -> None:
        while self._key_announcements:
            key, announcement = self._key_announcements[0]
            producer = self._require_producer()
            try:
                queued = await producer.send(
                    self._plan.keys_topic(self.agency), value=announcement, key=key
                )
                await asyncio.wait_for(asyncio.shield(queued), timeout=self._retry_deadline_s)
            except (KafkaError, TimeoutError) as exc:
                raise PublishError(
                    f"key announcement not acknowledged on "
                    f"{self._plan.keys_topic(self.agency)}: "
                    f"{type(exc).__name__}",
                    hint="the message that needs it is not sent; retry the publish",
                ) from exc
            self._key_announcements.pop(0)

    def _check_size(self, header: Header, envelope_size: int) -> None:
        """Refuse, before anything is sent or numbered, a record the broker would refuse."""
        size = (
            envelope_size
            + len(header.sender)
            + _RECORD_OVERHEAD
            + _TRACE_HEADER_BYTES
            + _MIRROR_NAMES
            + 36  # a canonical UUID (the message id)
            + _mirrored(header.type, header.sender, header.scope, header.area).length
        )
        if size > MAX_RECORD_BYTES:
            self._refused(ReasonCode.OVERSIZED)
            raise Refused(
                ReasonCode.OVERSIZED,
                f"message {header.message_id} would be a {size}-byte record; "
                f"the limit is {MAX_RECORD_BYTES} bytes",
                hint="make the body smaller: send large content as attachments by reference "
                "(sha256, size, name) and move the bytes out of band",
            )

    # -- sending -----------------------------------------------------------

    async def publish(
        self,
        body: MessageBody,
        *,
        scope: Scope,
        area: Area,
        label: Label,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
    ) -> PublishResult:
        """Check, sign and send one message; return once the broker acknowledged it.

        Concurrent publishes share send batches (one sent-log transaction per batch),
        in call order: sequence numbers reach the partition in the order of the calls.
        The scope's ``signing`` (plan) says whether the batch shares one signature."""
        header, item = self._prepare(
            body, scope, area, label, correlation_id, causation_id, batched=True
        )
        envelope = None if self._batched(header) else sign_record(self._signer, item)
        self._next_sequence[header.topic] = header.sequence + 1  # as in _seal
        message_id = str(header.message_id)
        with span(
            "accord.publish", _trace_for(header), topic=header.topic, message_id=message_id
        ) as trace:
            return await self._enqueue_one(
                header,
                envelope,
                item,
                _unsigned_digest(item),
                trace,
                message_id=message_id,
                fresh_sequence=True,
                readers=self._readers(header, label.need_to_know),
            )

    def _batched(self, header: Header) -> bool:
        return self._plan.scopes[header.scope].signing == "batched"

    async def publish_many(
        self,
        bodies: Sequence[MessageBody],
        *,
        scope: Scope,
        area: Area,
        label: Label,
        correlation_id: UUID | None = None,
    ) -> list[PublishResult]:
        """Publish several messages on one (scope, area) under one label, in order;
        return once the broker acknowledged them all.

        The batch path: no task, span or future per message beyond what the batch
        needs. Each record still carries a ``traceparent`` of its own (a child of the
        caller's trace, if any). A refused message (``Refused``) stops the call: the
        messages before it are sent, and it raises once they are acknowledged."""
        loop = asyncio.get_running_loop()
        items: list[_Outgoing] = []
        refused: Refused | None = None
        readers: Readers | None = None
        resolved: Resolved = {}
        for body in bodies:
            try:
                header, unsigned = self._prepare(
                    body, scope, area, label, correlation_id, None, batched=True, resolved=resolved
                )
            except Refused as exc:
                refused = exc
                break
            envelope = None if self._batched(header) else sign_record(self._signer, unsigned)
            self._next_sequence[header.topic] = header.sequence + 1  # as in _seal
            if not items:  # one scope, area and label for the call
                readers = self._readers(header, label.need_to_know)
            item = _Outgoing(
                header,
                envelope,
                unsigned,
                _unsigned_digest(unsigned),
                [],
                _trace_for(header),
                loop.create_future(),
                fresh_sequence=True,
                log_each=True,
                readers=readers,
            )
            item.headers = _record_headers(header, item.message_id, item.trace)
            self._queue_item(item)
            items.append(item)
        # One wait per pending future, not one wait over all: a batch's acknowledgement
        # settles all its records' futures at once, so the first wait returns with the
        # rest already done, and a future nobody waits on settles without scheduling a
        # callback (asyncio.wait over the call's 256 put one on each). asyncio.wait,
        # not ``await``: a cancelled caller must not cancel the records' futures.
        for item in items:
            if not item.future.done():
                await asyncio.wait((item.future,))
        # Every outcome retrieved (no "never retrieved" noise); the first failure raised.
        failures = [e for item in items if (e := item.future.exception()) is not None]
        if failures:
            raise failures[0]
        if refused is not None:
            raise refused
        return [item.future.result() for item in items]

    async def send(self, header: Header, envelope: bytes) -> PublishResult:
        """Send a sealed envelope, retrying transient failures with the same bytes."""
        self._check_size(header, len(envelope))
        # Trace: a child of the caller's trace (an API request's), else a new one;
        # the traceparent header travels beside the signed bytes, never inside them.
        # An OpenTelemetry span from send to the broker's ack (non-recording, and
        # free, unless an SDK is configured); the record carries the span's context.
        message_id = str(header.message_id)
        with span(
            "accord.publish", _trace_for(header), topic=header.topic, message_id=message_id
        ) as trace:
            digest, need_to_know = _digest_and_need_to_know(envelope)
            return await self._enqueue_one(
                header,
                envelope,
                None,
                digest,
                trace,
                message_id=message_id,
                fresh_sequence=False,
                readers=self._readers(header, need_to_know),
            )

    async def _enqueue_one(
        self,
        header: Header,
        envelope: bytes | None,
        unsigned: Unsigned | None,
        digest: str,
        trace: TraceContext,
        *,
        message_id: str,
        fresh_sequence: bool,
        readers: Readers | None = None,
    ) -> PublishResult:
        item = _Outgoing(
            header,
            envelope,
            unsigned,
            digest,
            [],
            trace,
            asyncio.get_running_loop().create_future(),
            fresh_sequence,
            readers=readers,
            message_id=message_id,
        )
        item.headers = _record_headers(header, item.message_id, trace)
        self._queue_item(item)
        result = await item.future
        # Here, in the caller's task, the span's trace is bound to the event.
        self._log_published(header, result.message_id, result.partition, result.offset)
        return result

    def _queue_item(self, item: _Outgoing) -> None:
        """Queue a record for the batcher; nothing is awaited, so call order is kept."""
        if self._closing:
            raise PublishError("publisher is stopping", hint="publish before stop()")
        self._require_producer()
        self._queue.append(item)
        self._queued.set()
        if len(self._queue) >= self._batch_max:
            self._full.set()
        if self._batcher is None or self._batcher.done():
            # A context of its own: a batch is no one message's, so no trace is bound.
            self._batcher = asyncio.create_task(self._run_batches(), context=contextvars.Context())

    async def _run_batches(self) -> None:
        """Take queued records a batch at a time: at ``batch_max`` records, once the
        batches before it are acknowledged, or ``linger_s`` after its first record,
        whichever comes first (0: the next loop turn).

        Lingering only while a batch is in flight (as TCP's Nagle algorithm does):
        a message to an idle publisher goes at once, and under load the records
        that arrive while the broker acknowledges one batch make up the next."""
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._queued.clear()
                await self._queued.wait()
                continue
            if len(self._queue) < self._batch_max and not self._closing:
                if self._linger_s > 0 and not self._drained.is_set():
                    self._full.clear()
                    await _first(self._full, self._drained, within_s=self._linger_s)
                else:
                    await asyncio.sleep(0)
            batch = self._queue[: self._batch_max]
            self._peeked.clear()  # records queued from now on read the database again
            del self._queue[: len(batch)]
            try:
                await self._send_batch(batch)
            except Exception as exc:  # e.g. the sent log's disk; the callers get it
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _send_batch(self, batch: list[_Outgoing]) -> None:
        """Log a batch durably, hand it to the producer in order, await acks apart."""
        producer = self._require_producer()
        to_sign = [item for item in batch if item.envelope is None]
        if to_sign:
            # ONE signature for the batch's records (SPEC 12): a Merkle tree over
            # their signing inputs, v1 and v2 alike; each record carries the signed
            # root and its own inclusion proof, and verifies alone.
            signed = sign_batch(self._signer, [i.to_sign for i in to_sign])
            for item, record in zip(to_sign, signed, strict=True):
                item.envelope = record
        await self._send_key_announcements()
        taken: dict[str, tuple[int, int]] = {}
        for item in batch:
            if item.fresh_sequence:  # in call order: first and last per topic
                topic, number = item.header.topic, item.header.sequence
                taken[topic] = (taken.get(topic, (number, 0))[0], number)
        # One transaction, before any record can reach the broker (state.record_batch).
        self._state.record_batch(
            taken, self._sealed, [(i.message_id, i.header.topic, i.record) for i in batch]
        )
        records = [
            ProducerRecord(
                item.header.topic, item.header.sender.encode(), item.record, item.headers
            )
            for item in batch
        ]
        async with self._enqueue:
            placed = await send_in_batches(producer, records)
        # Acks are awaited by a task of their own, so the next batch goes out meanwhile.
        task = asyncio.create_task(self._await_acks(batch, placed))
        self._acking.add(task)
        self._drained.clear()
        task.add_done_callback(self._acked)

    def _acked(self, task: asyncio.Task[None]) -> None:
        self._acking.discard(task)
        if not self._acking:
            self._drained.set()

    async def _await_acks(self, batch: list[_Outgoing], placed: list[Placed]) -> None:
        try:
            await self._acks_of(batch, placed)
        except Exception as exc:  # e.g. the sent log's disk: no caller may wait forever
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
        except asyncio.CancelledError:  # stop() gave up on the brokers
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(
                        PublishError(
                            f"the publisher stopped before the broker acknowledged "
                            f"{item.message_id}",
                            hint="the publish can be retried safely once the brokers are back",
                        )
                    )
            raise

    async def _acks_of(self, batch: list[_Outgoing], placed: list[Placed]) -> None:
        # aiokafka retries some errors (e.g. RequestTimedOut while too few replicas
        # are in sync) forever inside the producer: bound the wait by our own deadline
        # so the caller gets a PublishError, not a hang.
        deadline = time.monotonic() + self._retry_deadline_s
        futures = {future for future, _ in placed}
        await asyncio.wait(futures, timeout=self._retry_deadline_s)
        for future in futures:
            if not future.done():
                future.add_done_callback(_consume)
        acked: list[tuple[_Outgoing, _Ack]] = []
        retries: list[tuple[_Outgoing, BaseException]] = []
        for item, (future, index) in zip(batch, placed, strict=True):
            if not future.done():
                exc: BaseException = TimeoutError()
                _fail(item, self._failed(item.header, exc), exc)
            elif (error := future.exception()) is not None:
                retries.append((item, error))
            else:
                meta = future.result()  # the record batch's: its first record's offset
                acked.append((item, _Ack(meta.partition, meta.offset + index)))
        if retries:
            outcomes = await asyncio.gather(
                *(self._retry(item, error, deadline) for item, error in retries),
                return_exceptions=True,
            )
            for (item, _error), outcome in zip(retries, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    _fail(item, outcome, outcome)
                else:
                    acked.append((item, outcome))
        if acked:
            self._acknowledge(acked)

    async def _retry(self, item: _Outgoing, error: BaseException, deadline: float) -> _Ack:
        """Send one record again (same bytes) until acked or the deadline passes."""
        header = item.header
        attempt = 1
        while True:
            # `from error`: the broker's error stays the cause, which is what
            # accord.kafka reads to name it (acl-denied, too-large, ...).
            if isinstance(error, TimeoutError) or not isinstance(error, KafkaError):
                raise self._failed(header, error) from error
            if not getattr(error, "retriable", True) and attempt > 1:
                raise self._failed(header, error) from error
            if time.monotonic() >= deadline:
                raise self._failed(header, error) from error
            log.warning(
                "publisher.publish_retry",
                message_id=str(header.message_id),
                topic=header.topic,
                attempt=attempt,
                error=type(error).__name__,
            )
            await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
            attempt += 1
            try:
                async with self._enqueue:
                    queued = await self._require_producer().send(
                        header.topic,
                        value=item.record,
                        key=header.sender.encode(),
                        headers=item.headers,
                    )
                left = max(deadline - time.monotonic(), 0.1)
                meta = await asyncio.wait_for(asyncio.shield(queued), timeout=left)
                return _Ack(meta.partition, meta.offset)
            except (KafkaError, TimeoutError) as exc:
                error = exc

    def _acknowledge(self, acked: list[tuple[_Outgoing, _Ack]]) -> None:
        """One transaction for the batch's acks; counters, announcements, results."""
        self._state.acknowledged_many(
            [(meta.partition, meta.offset, item.message_id) for item, meta in acked]
        )
        for topic, n in Counter(item.header.topic for item, _ in acked).items():
            self._metrics.published.labels(self.agency, topic).inc(n)
        debug = self._log.is_enabled_for(logging.DEBUG)
        for item, meta in acked:
            header = item.header
            if self._announce:
                self._announce_published(
                    header, item.message_id, item.digest, item.trace, item.readers
                )
            if item.log_each and debug:  # no caller's task to bind the trace: pass it
                self._log_published(
                    header, item.message_id, meta.partition, meta.offset, item.trace.log_fields()
                )
            if not item.future.done():
                item.future.set_result(
                    PublishResult(
                        item.message_id,
                        header.topic,
                        meta.partition,
                        meta.offset,
                        header.sequence,
                        item.record,
                        item.trace.trace_id,
                    )
                )
        self._summarize(len(acked))

    def _log_published(
        self,
        header: Header,
        message_id: str,
        partition: int,
        offset: int,
        trace: dict[str, str] | None = None,
    ) -> None:
        self._log.debug(
            "publisher.published",
            message_id=message_id,
            sender=self.agency,
            topic=header.topic,
            partition=partition,
            offset=offset,
            sequence=header.sequence,
            type=header.type,
            **(trace or {}),
        )

    def _summarize(self, messages: int) -> None:
        """At INFO, one line every ``_SUMMARY_EVERY_S`` at most (per message: DEBUG)."""
        summary = self._summary
        summary[0] += messages
        summary[1] += 1
        now = time.monotonic()
        if now - summary[2] >= _SUMMARY_EVERY_S:
            self._log.info(
                "publisher.published_summary",
                sender=self.agency,
                messages=summary[0],
                batches=summary[1],
                seconds=round(now - summary[2], 1),
            )
            self._summary = [0, 0, now]

    def _readers(self, header: Header, need_to_know: tuple[str, ...] | None) -> Readers | None:
        if need_to_know is None:  # the common case: no call beyond this
            return None
        return announced_readers(
            self._plan,
            sender=self.agency,
            scope=Scope(header.scope),
            area=Area(header.area),
            need_to_know=need_to_know,
        )

    def _announce_published(
        self,
        header: Header,
        message_id: str,
        digest: str,
        trace: TraceContext,
        readers: Readers | None = None,
    ) -> None:
        """Queue a ``published`` acknowledgement of our own message for the monitor.

        Announcements are batched (one signed receipt per scope and area per
        flush, every ``_ANNOUNCE_EVERY_S`` or ``_ANNOUNCE_BATCH`` messages) so they
        cost a signature per batch, not per message. Best effort: the message is
        already acknowledged by the broker, and a lost announcement only means the
        monitor learns of the message from its first delivery receipt.

        ``readers``: the label's need-to-know list narrows who reads (SPEC 7), so the
        monitor waits for those agencies only, not every entitled one.
        """
        self._announcements.append((header, digest))
        self._announce_traces[header.sender, message_id] = trace
        if readers is not None:
            self._announce_readers[header.sender, message_id] = readers
        if len(self._announcements) >= _ANNOUNCE_BATCH:
            self._flush_soon(0.0)
        else:
            self._flush_soon(_ANNOUNCE_EVERY_S)

    def _flush_soon(self, delay: float) -> None:
        if self._announcer is None or self._announcer.done():
            # A context of its own: the batch is no one message's, so no trace is bound.
            self._announcer = asyncio.create_task(
                self._flush_announcements(delay), context=contextvars.Context()
            )

    async def _flush_announcements(self, delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        while self._announcements:
            pending, self._announcements = self._announcements, []
            traces, self._announce_traces = self._announce_traces, {}
            readers, self._announce_readers = self._announce_readers, {}
            producer = self._require_producer()
            try:
                await self._announcer_sender.send(
                    producer,
                    pending,
                    lambda: self._state.next_sequence(self._plan.receipts_topic),
                    traces=traces,
                    readers=readers,
                )
            except BrokerError as exc:
                log.warning("publisher.announce_failed", messages=len(pending), error=str(exc))
            if self._announcements and len(self._announcements) < _ANNOUNCE_BATCH:
                # Gather the next batch as the first was gathered. Sending at once what
                # arrived during the send above would, under a steady trickle (a few
                # hundred messages a second), make nearly every message an announcement
                # of its own: a signature, a sequence number and a produce request each.
                if self._closing:
                    continue  # stop(): flush now, do not wait
                await asyncio.sleep(_ANNOUNCE_EVERY_S)

    # -- trilateral release ------------------------------------------------

    async def release_trilateral(
        self,
        original_id: str,
        trust: TrustStore,
        *,
        label: Label | None = None,
        correlation_id: UUID | None = None,
    ) -> PublishResult:
        """Release one of this agency's bilateral messages to the trilateral scope.

        The release is a new signed message whose causation id is the original's;
        it is the only path by which bilateral content reaches the USA. Only the
        originator can do it, since only the originator holds the original in its
        sent log and only its certificate can sign as the sender. Idempotent per
        original: a second release returns the first copy (sending it again, same
        bytes, if the broker never acknowledged it). Only a message the broker
        acknowledged can be released. The release's correlation id is
        ``correlation_id``, else the original's, else the original's message id.
        """
        earlier = self._state.release_of(original_id)
        if earlier is not None:
            return await self._release_again(earlier, trust)
        sent = self._state.sent(original_id)
        if sent is None:
            raise Refused(
                ReasonCode.NOT_ORIGINATOR,
                f"message {original_id} was not published by {self.agency} from this node",
                hint="only the originator may release its own message; run this on its node",
            )
        if not sent.acknowledged:
            raise PublishError(
                f"message {original_id} was never acknowledged by the broker: "
                "there is nothing to release",
                hint="publish it again (a retry sends the same bytes), then release it",
            )
        verdict = self._read_own(sent.envelope, trust)
        if isinstance(verdict, Rejected):
            raise Refused(verdict.reason, f"original no longer verifies: {verdict.detail}")
        original: Verified = verdict
        if original.header.scope == Scope.TRILATERAL:
            raise Refused(
                ReasonCode.SCOPE_VIOLATION,
                f"message {original_id} is already trilateral",
                hint="releases go from the bilateral scope to the trilateral one",
            )
        trilateral = tuple(sorted(Scope.TRILATERAL.members))
        released_label = label or Label.model_validate(
            {**original.label.model_dump(), "releasable_to": trilateral}
        )
        fields = original.body.model_dump()
        if "references" in fields:
            # The release points back at what it releases, for the audit trail.
            fields["references"] = (*fields["references"], original.header.message_id)
        body = type(original.body).model_validate(fields)
        header, envelope = self.seal(
            body,
            scope=Scope.TRILATERAL,
            area=Area(original.header.area),
            label=released_label,
            correlation_id=(
                correlation_id or original.header.correlation_id or original.header.message_id
            ),
            causation_id=original.header.message_id,
        )
        # Recorded before the send, with nothing awaited since the check above: a
        # second release, even a concurrent one, finds this copy.
        self._state.record_sent(str(header.message_id), header.topic, envelope)
        self._state.record_release(original_id, str(header.message_id))
        return await self.send(header, envelope)

    async def _release_again(self, release_id: str, trust: TrustStore) -> PublishResult:
        sent = self._state.sent(release_id)
        assert sent is not None  # recorded together with the release
        verdict = self._read_own(sent.envelope, trust, topic=sent.topic)
        if isinstance(verdict, Rejected):
            raise Refused(
                verdict.reason, f"the earlier release no longer verifies: {verdict.detail}"
            )
        if not sent.acknowledged or sent.partition is None or sent.offset is None:
            return await self.send(verdict.header, sent.envelope)
        return PublishResult(
            release_id,
            sent.topic,
            sent.partition,
            sent.offset,
            verdict.header.sequence,
            sent.envelope,
        )

    def _read_own(
        self, envelope: bytes, trust: TrustStore, *, topic: str | None = None
    ) -> Verified | Rejected:
        """Verify one of our own envelopes; an encrypted one is opened with our own keys
        (the sender is always a recipient), so a release re-encrypts the plaintext to
        the trilateral recipients under a new CWK."""
        verdict = verify_sealed(envelope, trust, topic=topic, now=datetime.now(UTC))
        if not isinstance(verdict, Sealed):
            return verdict
        if self._encryption is None:
            return Rejected(ReasonCode.UNDECRYPTABLE, "encrypted and this publisher has no keys")
        try:
            return open_sealed(verdict, self._encryption.keyring)
        except Refused as refused:
            return Rejected(refused.reason, refused.message, refused.rule)

    def sent_envelope(self, message_id: str) -> bytes | None:
        """The sealed envelope of one of this node's own publishes, or None."""
        return self._state.sent_envelope(message_id)

    def read_own(self, envelope: bytes, trust: TrustStore) -> Verified | Rejected:
        """One of this node's own envelopes verified, and decrypted if it is v2."""
        return self._read_own(envelope, trust)

    # -- internals ---------------------------------------------------------

    def _require_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise PublishError("publisher is not started", hint="use `async with Publisher(...)`")
        return self._producer

    def _refused(self, reason: ReasonCode) -> None:
        self._metrics.publish_refused.labels(self.agency, reason.value).inc()

    def _failed(self, header: Header, exc: BaseException) -> PublishError:
        self._metrics.publish_failed.labels(self.agency).inc()
        detail = str(exc) or (
            f"no acknowledgement within {self._retry_deadline_s:g}s"
            if isinstance(exc, TimeoutError)
            else "no detail"
        )
        log.error(
            "publisher.publish_failed",
            message_id=str(header.message_id),
            topic=header.topic,
            error=type(exc).__name__,
            detail=detail[:200],
        )
        return PublishError(
            f"broker did not acknowledge {header.message_id} on {header.topic}: "
            f"{type(exc).__name__}: {detail}",
            hint="check that the brokers are up and that enough replicas are in sync "
            "(min.insync.replicas); the publish can be retried safely",
        )


def _trace_for(header: Header) -> TraceContext:
    """The trace a send goes out in, carrying the signed header's correlation id."""
    correlation = None if header.correlation_id is None else str(header.correlation_id)
    outer = current_trace()
    if outer is None:
        return TraceContext.new(correlation_id=correlation)
    return outer.child().with_correlation(correlation or outer.correlation_id)


Resolved = dict[tuple[str, ...], tuple[Recipient, ...]]
"""Recipients' keys resolved in one publishing call, by the agencies they were for."""


class _Ack(NamedTuple):
    """Where the broker put a record."""

    partition: int
    offset: int


def _fail(item: _Outgoing, error: BaseException, cause: BaseException) -> None:
    if not item.future.done():
        if error is not cause:
            error.__cause__ = cause
        item.future.set_exception(error)


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve the late outcome of a record given up on (no "never retrieved" noise)."""
    if not future.cancelled():
        future.exception()
