"""The publisher: model -> label check -> envelope -> sign -> topic -> Kafka.

Every refusal carries the same reason code that verification would give, so an
integration engineer sees the same vocabulary on both sides. A publish returns
only when the broker has acknowledged it with ``acks=all`` on an idempotent
producer; transient failures are retried with the very same signed bytes, so a
retry can never make a second, different message.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from accord.areas import Area
from accord.confidentiality import SenderEncryption, recipient_agencies, resolve_recipients
from accord.confidentiality.feed import announcement_key
from accord.config import KafkaConnection
from accord.envelope import Header, Rejected, Verified, envelope_payload_sha256, seal
from accord.envelope.jws import Sealed
from accord.envelope.v2 import open_sealed, seal_encrypted, verify_sealed
from accord.errors import BrokerError, PublishError, ReasonCode, Refused
from accord.kafka import close_producer, new_producer, start_producer
from accord.labels import Label, check_label
from accord.models import MessageBody
from accord.observability.logs import get_logger
from accord.observability.metrics import NodeMetrics
from accord.observability.trace import TRACEPARENT, TraceContext, headers_with_trace, span
from accord.observability.trace import current as current_trace
from accord.parties import Scope
from accord.plan import Plan
from accord.publisher.state import PublisherState
from accord.receipts import ReceiptSender
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


def routing_headers(header: Header) -> list[tuple[str, bytes]]:
    values = (str(header.message_id), header.type, header.sender, header.scope, header.area)
    return [(name, str(v).encode()) for name, v in zip(MIRRORED_HEADERS, values, strict=True)]


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
    ) -> None:
        """``encryption``: this agency's keys and the key directory. With it, bodies in
        a scope whose plan says ``encryption: required | optional`` go out as envelope
        v2; without it a ``required`` scope refuses to publish (fail closed)."""
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
        # Held only while a record is appended to the producer's batch, never while
        # its ack is awaited: concurrent sends then reach the partition in call order,
        # so sequence numbers arrive in order (aiokafka alone can reorder appends that
        # wait for a full batch to drain).
        self._enqueue = asyncio.Lock()

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._producer is None:
            self._producer = new_producer(self._connection)
        if self._owns_producer:
            await start_producer(self._producer, timeout_s=self._retry_deadline_s)

    async def stop(self) -> None:
        """Flush whatever is in flight, announcements included, then close."""
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
        """Check and sign a message without sending it; refusals raise ``Refused``."""
        if not self._plan.may_publish(self.agency, scope, area):
            self._refused(ReasonCode.NOT_ENTITLED)
            raise Refused(
                ReasonCode.NOT_ENTITLED,
                f"{self.agency} may not publish to {scope.value}/{area.value}",
                hint="add the area to the agency's publish list in the plan, or pick another",
            )
        try:
            check_label(label, scope, sender=self.agency)
        except Refused as exc:
            self._refused(exc.reason)
            raise
        topic = self._plan.exchange_topic(scope, area)
        sequence = self._state.peek_sequence(topic)
        header = Header.create(
            body.TYPE,
            sender=self.agency,
            scope=scope,
            area=area,
            sequence=sequence,
            namespace=self._plan.namespace,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        envelope = self._sign(header, label, body)
        self._check_size(header, envelope)
        # Taken only now, with nothing awaited since the peek: a refused message
        # leaves no hole in the stream, so receivers report no false gap.
        self._state.take_sequence(topic, sequence)
        return header, envelope

    def _sign(self, header: Header, label: Label, body: MessageBody) -> bytes:
        """v1, or v2 encrypted to the recipients the plan entitles (SPEC 11)."""
        mode = self._plan.scopes[header.scope].encryption
        if mode == "off" or (mode == "optional" and self._encryption is None):
            return seal(header, label, body, self._signer)
        if self._encryption is None:
            self._refused(ReasonCode.PLAINTEXT_REFUSED)
            raise Refused(
                ReasonCode.PLAINTEXT_REFUSED,
                f"scope {header.scope} requires encryption and this publisher has no keys",
                hint="issue the agency's encryption key (accord keys issue) and start the "
                "node with it",
            )
        e = self._encryption
        now = datetime.now(UTC)
        agencies = recipient_agencies(
            self._plan,
            sender=self.agency,
            scope=header.scope,
            area=header.area,
            need_to_know=label.need_to_know,
        )
        recipients = resolve_recipients(agencies, e.directory, now=now)  # NoEncryptionKey
        cwk, announcement = e.encryptor.cwk_for(recipients, now=now)
        if announcement is not None:
            e.keyring.open(announcement, e.directory.trust, now=now)  # to read our own
            self._key_announcements.append(
                (announcement_key(self.agency, cwk.cwk_id), announcement)
            )
        return seal_encrypted(header, label, body, self._signer, cwk)

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

    def _check_size(self, header: Header, envelope: bytes) -> None:
        """Refuse, before anything is sent or numbered, a record the broker would refuse."""
        size = (
            len(envelope)
            + len(header.sender)
            + _RECORD_OVERHEAD
            + _TRACE_HEADER_BYTES
            + sum(len(k) + len(v) for k, v in routing_headers(header))
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
        header, envelope = self.seal(
            body,
            scope=scope,
            area=area,
            label=label,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        return await self.send(header, envelope)

    async def send(self, header: Header, envelope: bytes) -> PublishResult:
        """Send a sealed envelope, retrying transient failures with the same bytes."""
        # Trace: a child of the caller's trace (an API request's), else a new one;
        # the traceparent header travels beside the signed bytes, never inside them.
        # An OpenTelemetry span from send to the broker's ack (non-recording, and
        # free, unless an SDK is configured); the record carries the span's context.
        with span(
            "accord.publish",
            _trace_for(header),
            topic=header.topic,
            message_id=str(header.message_id),
        ) as trace:
            return await self._send(header, envelope, trace)

    async def _send(self, header: Header, envelope: bytes, trace: TraceContext) -> PublishResult:
        producer = self._require_producer()
        message_id = str(header.message_id)
        self._check_size(header, envelope)
        self._state.record_sent(message_id, header.topic, envelope)
        await self._send_key_announcements()
        deadline = time.monotonic() + self._retry_deadline_s
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._enqueue:
                    queued = await producer.send(
                        header.topic,
                        value=envelope,
                        key=header.sender.encode(),
                        headers=headers_with_trace(routing_headers(header), trace),
                    )
                # aiokafka retries some errors (e.g. RequestTimedOut while too few
                # replicas are in sync) forever inside the producer: bound the wait by
                # our own deadline so the caller gets a PublishError, not a hang.
                left = max(deadline - time.monotonic(), 0.1)
                meta = await asyncio.wait_for(asyncio.shield(queued), timeout=left)
                break
            except TimeoutError as exc:
                raise self._failed(header, exc) from exc
            except KafkaError as exc:
                if not getattr(exc, "retriable", True) and attempt > 1:
                    raise self._failed(header, exc) from exc
                if time.monotonic() >= deadline:
                    raise self._failed(header, exc) from exc
                log.warning(
                    "publisher.publish_retry",
                    message_id=message_id,
                    topic=header.topic,
                    attempt=attempt,
                    error=type(exc).__name__,
                )
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
        self._state.acknowledged(message_id, partition=meta.partition, offset=meta.offset)
        self._metrics.published.labels(self.agency, header.topic).inc()
        if self._announce:
            self._announce_published(header, envelope, trace)
        log.info(
            "publisher.published",
            message_id=message_id,
            sender=self.agency,
            topic=header.topic,
            partition=meta.partition,
            offset=meta.offset,
            sequence=header.sequence,
            type=header.type,
        )
        return PublishResult(
            message_id,
            header.topic,
            meta.partition,
            meta.offset,
            header.sequence,
            envelope,
            trace.trace_id,
        )

    def _announce_published(self, header: Header, envelope: bytes, trace: TraceContext) -> None:
        """Queue a ``published`` acknowledgement of our own message for the monitor.

        Announcements are batched (one signed receipt per scope and area per
        flush, every ``_ANNOUNCE_EVERY_S`` or ``_ANNOUNCE_BATCH`` messages) so they
        cost a signature per batch, not per message. Best effort: the message is
        already acknowledged by the broker, and a lost announcement only means the
        monitor learns of the message from its first delivery receipt.
        """
        self._announcements.append((header, envelope_payload_sha256(envelope)))
        self._announce_traces[header.sender, str(header.message_id)] = trace
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
            producer = self._require_producer()
            try:
                await self._announcer_sender.send(
                    producer,
                    pending,
                    lambda: self._state.next_sequence(self._plan.receipts_topic),
                    traces=traces,
                )
            except BrokerError as exc:
                log.warning("publisher.announce_failed", messages=len(pending), error=str(exc))

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
