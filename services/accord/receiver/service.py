"""The receiver: a long-running node that lands what its agency is entitled to.

    Kafka -> verify (size, signature, chain, revocation, label, topic)
          -> headers, entitlement, label vs this node -> dedupe
          -> inbox (messages + offsets, one transaction) -> commit -> signed receipt
    any failure -> the agency's quarantine topic (raw bytes + reason code)

Offsets are committed to Kafka only after the inbox write, and on (re)assignment
the consumer seeks to the inbox's own offsets, so the inbox, not Kafka's group
state, is the authority on what was delivered: a crash anywhere neither loses nor
double-delivers. Partitions of a batch are processed concurrently; records of one
partition strictly in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from accord.areas import Area
from accord.config import KafkaConnection
from accord.envelope import Verified, verify
from accord.errors import BrokerError, ReasonCode
from accord.handover import Dispatcher, Endpoint
from accord.kafka import (
    close_consumer,
    close_producer,
    new_consumer,
    new_producer,
    start_producer,
)
from accord.models import Acknowledgement, Retract, Supersede
from accord.observability.logs import get_logger
from accord.observability.metrics import NodeMetrics
from accord.parties import Scope, country_of
from accord.plan import Plan
from accord.receipts import build_receipt, chunks, group_for_receipts
from accord.receiver.assess import Refusal, assess
from accord.receiver.inbox import Delivery, Inbox, Status
from accord.trust import Signer, TrustStore
from accord.trust.feed import TrustFeed

log = get_logger(__name__)

Handler = Callable[[Verified], Awaitable[None]]
"""An agency system's hook: called once per newly delivered message, after the
durable inbox write. The inbox stays the source of truth; a handler that fails is
logged and does not undo the delivery."""

MAX_RECORD_BYTES = 1_048_576
QUARANTINE_MAX_BYTES = 262_144
"""Larger rejected records are quarantined as a prefix plus size and SHA-256."""
_MAX_RECEIPT_BATCHES_IN_FLIGHT = 4
_PENDING_RECEIPTS_EVERY_S = 10.0
_FETCH_MIN_BYTES = 256 * 1024
"""What a fetch waits (at most ``fetch_wait_ms``) to fill: ~100 signed 1 KiB messages."""


class _ProducerStuck(Exception):
    """The node's producer did not get acknowledgements in time."""


@dataclass
class ReceiverStats:
    delivered: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    gaps: int = 0
    receipts: int = 0
    recoveries: int = 0


class _SeekToInbox(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, resume from the inbox's offsets, not the group's."""

    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._receiver._on_assigned(assigned)


class Receiver:
    def __init__(
        self,
        *,
        agency: str,
        connection: KafkaConnection,
        plan: Plan,
        trust: TrustStore,
        signer: Signer,
        inbox_path: Path,
        handler: Handler | None = None,
        metrics: NodeMetrics | None = None,
        batch_max: int = 500,
        stall_timeout_s: float = 30.0,
        fetch_wait_ms: int = 10,
        send_receipts: bool = True,
        follow_trust: bool = True,
        handover: Endpoint | None = None,
    ) -> None:
        self.agency = agency
        self.country = country_of(agency)
        self._connection = connection
        self._plan = plan
        self._trust = trust
        self._signer = signer
        self.inbox = Inbox(inbox_path, outbox=handover is not None)
        # handover: the signed, retried webhook (accord.handover); its own task.
        self._handover = handover
        self._inbox_path = inbox_path
        self.dispatcher: Dispatcher | None = None
        self._handler = handler
        self.metrics = metrics or NodeMetrics()
        self._batch_max = batch_max
        self._stall_timeout_s = stall_timeout_s
        # The broker may hold a fetch up to this long to fill _FETCH_MIN_BYTES. Under
        # load a poll then carries ~100 messages, so the per-batch work (the inbox
        # transaction, one receipt signature, the offset commit, the fetch itself) is
        # shared by many; at low rates a message waits at most this much longer.
        # The trade-off, measured with `accord bench --fetch-wait-ms`, is in
        # docs/exchange.md. 0 = no wait.
        self._fetch_wait_ms = fetch_wait_ms
        self._send_receipts = send_receipts
        self._topics = plan.receive_topics(agency)
        self._group_id = plan.group_id(agency)
        self._quarantine = plan.quarantine_topic(agency)
        self._receipts_topic = plan.receipts_topic
        self._consumer: AIOKafkaConsumer | None = None
        self._uncommitted: dict[tuple[str, int], int] = {}
        self._counters: dict[tuple[str, str], Any] = {}
        # Bound once: every event of this node carries its agency, and the hot path
        # skips the lazy proxy's per-call configuration lookup.
        self._log = log.bind(agency=agency)
        self._latency = self.metrics.latency.labels(agency)
        self._commit_task: asyncio.Task[None] | None = None
        self._receipt_tasks: list[asyncio.Task[None]] = []
        self._producer_suspect = False
        self._receipts_checked = time.monotonic()
        # How long a send may wait for the broker's ack before the producer is
        # considered wedged and rebuilt.
        self._send_timeout_s = max(2 * stall_timeout_s, 10.0)
        # Rotations and revocations arrive on the trust topic while the node runs.
        self._trust_feed = (
            TrustFeed(connection, plan.trust_topic, trust) if follow_trust else None
        )
        self._producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._assigned: set[TopicPartition] = set()
        self.last_poll = 0.0
        self.stats = ReceiverStats()

    # -- lifecycle ---------------------------------------------------------

    @property
    def ready(self) -> bool:
        return bool(self._assigned) and not self._stopping.is_set()

    @property
    def healthy(self) -> bool:
        return time.monotonic() - self.last_poll < self._stall_timeout_s

    async def start(self) -> None:
        producer = new_producer(self._connection, client_id=f"accord-{self.agency}")
        await start_producer(producer, timeout_s=self._send_timeout_s)
        self._producer = producer
        if self._trust_feed is not None:
            await self._trust_feed.start()
        await self._start_consumer()
        if self._handover is not None:  # handover: rows landed before are picked up
            self.dispatcher = Dispatcher(self._handover, self._inbox_path,
                                         agency=self.agency, metrics=self.metrics)
            await self.dispatcher.start()
        self.last_poll = time.monotonic()
        self._log.info("receiver-started", topics=self._topics,
                 group_id=self._group_id)
        await self._flush_pending_receipts()

    async def stop(self) -> None:
        self._stopping.set()
        # Let in-flight receipts and the last commit finish; they are idempotent
        # to redo, but finishing them saves the next start some work.
        pending = [t for t in (*self._receipt_tasks, self._commit_task) if t is not None]
        if pending:
            await asyncio.wait(pending, timeout=10)
        if self._trust_feed is not None:
            await self._trust_feed.stop()
        if self._consumer is not None:
            failure = await close_consumer(self._consumer, timeout_s=10)
            if failure is not None:
                self._log.warning("consumer-stop-failed", error=failure)
            self._consumer = None
        if self._producer is not None:
            # Receipts still unacknowledged are kept in the inbox's outbox and
            # resent on the next start, so a bounded close loses nothing.
            await close_producer(self._producer, timeout_s=10)
            self._producer = None
        if self.dispatcher is not None:  # handover
            await self.dispatcher.stop()
            self.dispatcher = None
        self.inbox.close()
        self._log.info("receiver-stopped")

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Poll until ``request_stop``; rebuild the consumer if it stalls.

        Two kinds of stall. A ``getmany`` that neither returns nor raises within the
        stall timeout. And one that keeps returning nothing while the broker holds
        records past the inbox's offsets: after a broker restart aiokafka can be left
        with a dead coordinator or a fetcher that never resumes, and then polls
        "successfully" forever. So once the consumer has been idle for the stall
        timeout, the broker's end offsets are compared with the inbox's (the
        authority on what was delivered); a consumer that is behind, unassigned, or
        cannot reach the broker is rebuilt. The inbox offsets make a rebuild safe.
        """
        idle_since = time.monotonic()
        while not self._stopping.is_set():
            consumer = self._consumer
            assert consumer is not None
            try:
                batch = await asyncio.wait_for(
                    consumer.getmany(timeout_ms=500, max_records=self._batch_max),
                    timeout=self._stall_timeout_s,
                )
            except (TimeoutError, KafkaError) as exc:
                await self._recover(type(exc).__name__)
                idle_since = time.monotonic()
                continue
            now = time.monotonic()
            self.last_poll = now
            if self._producer_suspect:
                await self._rebuild_producer()
            if batch:
                idle_since = now
                try:
                    await self._process(batch)
                except _ProducerStuck as exc:
                    await self._rebuild_producer()
                    await self._recover(str(exc))  # refetch the batch from the inbox offsets
                    idle_since = time.monotonic()
                continue
            if now - self._receipts_checked >= _PENDING_RECEIPTS_EVERY_S:
                self._receipts_checked = now
                if not any(not t.done() for t in self._receipt_tasks):
                    await self._flush_pending_receipts()
            if now - idle_since >= self._stall_timeout_s:
                why = await self._stalled(consumer)
                if why is not None:
                    await self._recover(why)
                idle_since = time.monotonic()

    async def _stalled(self, consumer: AIOKafkaConsumer) -> str | None:
        """Why an idle consumer is wedged rather than caught up, or None if caught up."""
        assigned = list(consumer.assignment())
        if not assigned:
            return "no-assignment"
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(assigned),
                                          timeout=self._stall_timeout_s)
            starts = await asyncio.wait_for(consumer.beginning_offsets(assigned),
                                            timeout=self._stall_timeout_s)
        except (TimeoutError, KafkaError) as exc:
            return f"broker-unreachable ({type(exc).__name__})"
        done = self.inbox.next_offsets()
        for tp, end in ends.items():
            if end > done.get((tp.topic, tp.partition), starts.get(tp, 0)):
                return "no-progress"
        return None

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # -- consumer management ----------------------------------------------

    async def _start_consumer(self) -> None:
        consumer = new_consumer(
            self._connection,
            group_id=self._group_id,
            client_id=f"accord-{self.agency}",
            max_partition_fetch_bytes=MAX_RECORD_BYTES * 2,
            fetch_min_bytes=_FETCH_MIN_BYTES if self._fetch_wait_ms else 1,
            fetch_max_wait_ms=self._fetch_wait_ms,
        )
        consumer.subscribe(self._topics, listener=_SeekToInbox(self))
        self._consumer = consumer
        await consumer.start()

    async def _on_assigned(self, assigned: list[TopicPartition]) -> None:
        self._assigned = set(assigned)
        offsets = self.inbox.next_offsets()
        consumer = self._consumer
        if consumer is None:
            return
        fresh = []
        for tp in assigned:
            nxt = offsets.get((tp.topic, tp.partition))
            if nxt is None:
                fresh.append(tp)
            else:
                consumer.seek(tp, nxt)
        if fresh:
            # The inbox has never seen these partitions: start from the beginning,
            # whatever the group committed (a rebuilt inbox must get everything again).
            await consumer.seek_to_beginning(*fresh)
        self._log.info("partitions-assigned", count=len(assigned))

    async def _rebuild_producer(self) -> None:
        """Replace a producer that stopped getting acks; bounded at every step."""
        self._producer_suspect = False
        self._log.warning("producer-rebuilding")
        old, self._producer = self._producer, None
        if old is not None:
            await close_producer(old, timeout_s=10)
        while not self._stopping.is_set():
            producer = new_producer(self._connection, client_id=f"accord-{self.agency}")
            try:
                await start_producer(producer, timeout_s=self._stall_timeout_s)
            except (BrokerError, KafkaError) as exc:
                self._log.warning("producer-restart-failed", error=type(exc).__name__)
                await close_producer(producer, timeout_s=10)
                await asyncio.sleep(2.0)
                continue
            self._producer = producer
            return

    async def _recover(self, why: str) -> None:
        self.stats.recoveries += 1
        self.metrics.recoveries.labels(self.agency).inc()
        self._log.warning("consumer-recovering", reason=why)
        old, self._consumer = self._consumer, None
        if old is not None:
            failure = await close_consumer(old, timeout_s=10)
            if failure is not None:
                self._log.warning("consumer-stop-failed", error=failure)
        await asyncio.sleep(1.0)
        while not self._stopping.is_set():
            # Bounded, in a task of its own: aiokafka's start can wait on an absent
            # broker indefinitely and need not honour cancellation promptly.
            starting = asyncio.create_task(self._start_consumer())
            await asyncio.wait({starting}, timeout=self._stall_timeout_s)
            failure = _failure(starting)
            if failure is None:
                return
            starting.cancel()
            self._log.warning("consumer-restart-failed", error=failure)
            # Close the half-started consumer: a broker outage would otherwise
            # leak one client (sockets, tasks) per retry.
            failed, self._consumer = self._consumer, None
            if failed is not None:
                await close_consumer(failed, timeout_s=10)
            await asyncio.sleep(2.0)

    # -- processing --------------------------------------------------------

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """One poll's records: assess, quarantine, land in ONE transaction, then the rest.

        The inbox write (one fsync for the whole batch) is the commit point. Offset
        commits and receipts follow in the background: both are safe to lose in a
        crash (the inbox holds the offsets; pending receipts are resent on start),
        so the loop never waits on a broker round trip before its next poll.
        """
        now = datetime.now(UTC)
        deliveries: list[Delivery] = []
        accepted: dict[str, Verified] = {}
        status_changes: list[tuple[str, Status]] = []
        quarantined: list[tuple[ConsumerRecord, Refusal]] = []
        digests: dict[str, str] = {}
        last_sequence: dict[tuple[str, str], int] = {}
        offsets: dict[tuple[str, int], int] = {}
        for tp, records in batch.items():
            for record in records:
                self._log.debug("received", topic=record.topic,
                          partition=record.partition, offset=record.offset)
                refusal = self._admit(record, now, digests, last_sequence, status_changes,
                                      accepted, deliveries)
                if refusal is not None:
                    quarantined.append((record, refusal))
            offsets[(tp.topic, tp.partition)] = records[-1].offset + 1

        await self._quarantine_all(quarantined)
        receipts = group_for_receipts(
            (accepted[d.message_id].header, d.payload_sha256) for d in deliveries
        ) if self._send_receipts else {}
        landed, first_receipt = self.inbox.land(
            deliveries, offsets, status_changes,
            receipt_stream=self._receipts_topic if receipts else None,
            receipt_count=sum(len(list(chunks(acks))) for acks in receipts.values()),
        )
        landed_at = datetime.now(UTC)
        if landed and self.dispatcher is not None:  # handover
            self.dispatcher.notify()
        self._commit_soon(offsets)
        for mid in landed:
            v = accepted[mid]
            latency = (landed_at - v.header.issued_at).total_seconds()
            self._latency.observe(max(latency, 0.0))
            self._count("delivered", "")
            self.stats.delivered += 1
            self._log.info("delivered", message_id=mid, sender=v.header.sender,
                     topic=v.header.topic, latency_ms=round(latency * 1000, 2),
                     type=v.header.type)
        if self._handler is not None and landed:
            where = {d.message_id: (d.topic, d.partition) for d in deliveries}
            await self._hand_over(landed, accepted, where)
        if landed and receipts:
            # One writer, and duplicates were filtered before the write: what landed
            # is exactly what the receipts were grouped from.
            await self._receipts_soon(receipts, first_receipt)

    def _admit(
        self,
        record: ConsumerRecord,
        now: datetime,
        digests: dict[str, str],
        last_sequence: dict[tuple[str, str], int],
        status_changes: list[tuple[str, Status]],
        accepted: dict[str, Verified],
        deliveries: list[Delivery],
    ) -> Refusal | None:
        """Assess one record; on success add it to this batch's deliveries."""
        outcome = assess(
            record.value, topic=record.topic, kafka_headers=record.headers or (),
            trust=self._trust, plan=self._plan, country=self.country, now=now,
            max_bytes=MAX_RECORD_BYTES,
        )
        if isinstance(outcome, Refusal):
            return outcome
        v = outcome.verified
        mid = str(v.header.message_id)
        self._log.debug("verified", message_id=mid, sender=v.header.sender,
                  topic=record.topic, partition=record.partition, offset=record.offset)
        digest = v.payload_sha256
        known = digests.get(mid) or self.inbox.payload_digest(mid)
        if known is not None:
            if known != digest:
                return Refusal(ReasonCode.REPLAY, "message id reused for other content")
            self._count("duplicate", "")
            self.stats.duplicates += 1
            self._log.info("duplicate", message_id=mid, topic=record.topic,
                     partition=record.partition, offset=record.offset)
            return None
        change = self._lifecycle_change(v)
        if isinstance(change, Refusal):
            return change
        if change is not None:
            status_changes.append(change)
        digests[mid] = digest
        self._check_sequence(v, last_sequence)
        accepted[mid] = v
        deliveries.append(_delivery(v, record))
        return None

    def _commit_soon(self, offsets: dict[tuple[str, int], int]) -> None:
        """Commit offsets in the background, one commit in flight at a time."""
        self._uncommitted.update(offsets)
        consumer = self._consumer
        if consumer is None or (self._commit_task is not None and not self._commit_task.done()):
            return
        snapshot = {TopicPartition(t, p): o for (t, p), o in self._uncommitted.items()}
        self._uncommitted.clear()
        self._commit_task = asyncio.create_task(self._commit(consumer, snapshot))

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # Safe to lose: the inbox holds the offsets this node resumes from.
            self._log.warning("commit-failed", error=type(exc).__name__)
            return
        for tp, offset in offsets.items():
            self._log.debug("committed", topic=tp.topic,
                      partition=tp.partition, offset=offset)
            self._update_lag(consumer, tp, offset)

    async def _hand_over(
        self, landed: list[str], accepted: dict[str, Verified],
        where: dict[str, tuple[str, int]],
    ) -> None:
        """Call the handler in order within each partition, partitions concurrently."""
        by_partition: dict[tuple[str, int], list[Verified]] = {}
        for mid in landed:
            by_partition.setdefault(where[mid], []).append(accepted[mid])

        async def in_order(items: list[Verified]) -> None:
            for v in items:
                await self._call_handler(v)

        await asyncio.gather(*(in_order(items) for items in by_partition.values()))

    def _lifecycle_change(self, v: Verified) -> tuple[str, Status] | Refusal | None:
        body = v.body
        if isinstance(body, Supersede | Retract):
            target = str(body.target_message_id)
            owner = self.inbox.sender_of(target)
            if owner is not None and owner != v.header.sender:
                return Refusal(ReasonCode.NOT_ORIGINATOR,
                               f"{v.header.sender} may not change {owner}'s message")
            status: Status = "superseded" if isinstance(body, Supersede) else "retracted"
            return (target, status)
        return None

    def _check_sequence(self, v: Verified, last_sequence: dict[tuple[str, str], int]) -> None:
        sender, topic, seq = v.header.sender, v.header.topic, v.header.sequence
        last = last_sequence.get((sender, topic))
        if last is None:
            last = self.inbox.last_sequence(sender, topic)
        last_sequence[(sender, topic)] = seq if last is None else max(last, seq)
        expected = 1 if last is None else last + 1
        if seq > expected:
            missing = seq - expected
            self.stats.gaps += missing
            self.metrics.gaps.labels(self.agency, sender, topic).inc(missing)
            self._log.warning("sequence-gap", sender=sender, topic=topic,
                        expected=expected, got=seq, missing=missing,
                        message_id=str(v.header.message_id))

    async def _quarantine_all(self, items: list[tuple[ConsumerRecord, Refusal]]) -> None:
        if not items:
            return
        producer = self._producer
        assert producer is not None
        futures = []
        for record, refusal in items:
            headers = [
                ("accord-reason", refusal.reason.value.encode()),
                ("accord-detail", refusal.detail[:500].encode("utf-8", "replace")),
                ("accord-source-topic", record.topic.encode()),
                ("accord-source-partition", str(record.partition).encode()),
                ("accord-source-offset", str(record.offset).encode()),
                ("accord-agency", self.agency.encode()),
            ]
            value = record.value
            if value is not None and len(value) > QUARANTINE_MAX_BYTES:
                # An oversized record cannot be produced back whole (the producer and
                # broker refuse it, which would stop the node): keep a prefix as
                # evidence, with the original size and digest.
                headers += [
                    ("accord-original-size", str(len(value)).encode()),
                    ("accord-original-sha256", hashlib.sha256(value).hexdigest().encode()),
                ]
                value = value[:QUARANTINE_MAX_BYTES]
            futures.append(await producer.send(
                self._quarantine, value=value, key=record.key, headers=headers
            ))
        # The offsets only move once every quarantined record is acknowledged. A
        # producer that cannot get acks in time (aiokafka can wedge after a broker
        # restart) is rebuilt by run(), and the batch is fetched again from the
        # inbox's offsets: nothing is lost, and nothing is counted twice.
        try:
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self._send_timeout_s)
        except (TimeoutError, KafkaError) as exc:
            raise _ProducerStuck(f"quarantine not acknowledged: {type(exc).__name__}") from exc
        for record, refusal in items:
            self._count("rejected", refusal.reason.value)
            self.stats.rejected[refusal.reason.value] = (
                self.stats.rejected.get(refusal.reason.value, 0) + 1
            )
            self._log.warning("rejected", reason=refusal.reason.value,
                        detail=refusal.detail[:200], topic=record.topic,
                        partition=record.partition, offset=record.offset)

    async def _receipts_soon(
        self, receipts: dict[tuple[Scope, Area, str], list[Acknowledgement]], first_sequence: int
    ) -> None:
        """Sign and send receipts in the background; at most a few batches in flight."""
        self._receipt_tasks = [t for t in self._receipt_tasks if not t.done()]
        if len(self._receipt_tasks) >= _MAX_RECEIPT_BATCHES_IN_FLIGHT:
            # Backpressure, bounded: each task gives up after the send timeout.
            await asyncio.wait(self._receipt_tasks, return_when=asyncio.FIRST_COMPLETED)
            self._receipt_tasks = [t for t in self._receipt_tasks if not t.done()]
        self._receipt_tasks.append(
            asyncio.create_task(self._sign_and_send_receipts(receipts, first_sequence))
        )

    async def _sign_and_send_receipts(
        self, receipts: dict[tuple[Scope, Area, str], list[Acknowledgement]], first_sequence: int
    ) -> None:
        producer = self._producer
        if producer is None:
            return
        sequence = first_sequence
        ids: list[str] = []
        try:
            futures = []
            for (scope, area, namespace), acks in receipts.items():
                for chunk in chunks(acks):
                    _header, envelope = build_receipt(
                        chunk, scope=scope, area=area, namespace=namespace,
                        signer=self._signer, sequence=sequence,
                    )
                    sequence += 1
                    futures.append(await producer.send(
                        self._receipts_topic, value=envelope, key=self.agency.encode()
                    ))
                    ids += [str(a.message_id) for a in chunk]
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self._send_timeout_s)
        except (TimeoutError, KafkaError) as exc:
            # The rows stay receipt_pending: resent once the producer is healthy.
            self._log.warning("receipts-failed", error=type(exc).__name__,
                        count=len(ids))
            self._producer_suspect = True
            return
        self.inbox.receipts_sent(ids)
        self.stats.receipts += len(ids)
        self.metrics.receipts.labels(self.agency).inc(len(ids))
        self._log.info("receipt-sent", messages=len(ids),
                 receipts=sequence - first_sequence, message_id=ids[0] if len(ids) == 1 else None)

    async def _flush_pending_receipts(self) -> None:
        """Receipts a crash left unsent: re-verify from the raw bytes and send."""
        pending = self.inbox.pending_receipts()
        if not pending or not self._send_receipts:
            return
        accepted: dict[str, Verified] = {}
        for stored in pending:
            verdict = verify(stored.raw, self._trust, topic=stored.topic)
            if isinstance(verdict, Verified):
                accepted[stored.message_id] = verdict
        if accepted:
            receipts = group_for_receipts((v.header, v.payload_sha256) for v in accepted.values())
            count = sum(len(list(chunks(acks))) for acks in receipts.values())
            first = self.inbox.reserve_sequences(self._receipts_topic, count)
            await self._sign_and_send_receipts(receipts, first)

    async def _call_handler(self, v: Verified) -> None:
        assert self._handler is not None
        try:
            await self._handler(v)
        except Exception as exc:  # an agency's hook must not stop the node
            self._log.error("handler-failed", message_id=str(v.header.message_id),
                      error=type(exc).__name__, detail=str(exc)[:200])

    def _count(self, outcome: str, reason: str) -> None:
        # Label lookups cost more than the increment: keep the children.
        child = self._counters.get((outcome, reason))
        if child is None:
            child = self._counters[(outcome, reason)] = self.metrics.records.labels(
                self.agency, outcome, reason
            )
        child.inc()

    def _update_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition, position: int) -> None:
        high = consumer.highwater(tp)
        if high is not None:
            self.metrics.lag.labels(self.agency, tp.topic, str(tp.partition)).set(
                max(high - position, 0)
            )


def _failure(task: asyncio.Task[None]) -> str | None:
    """Why a bounded client task did not succeed, or None; never raises.

    (``Task.exception()`` raises on a cancelled task, and aiokafka's clients can
    end cancelled when the broker is gone: that must not kill the node's loop.)
    """
    if not task.done():
        return "timeout"
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return None if exc is None else type(exc).__name__


def _delivery(v: Verified, record: ConsumerRecord) -> Delivery:
    h = v.header
    return Delivery(
        message_id=str(h.message_id), type=h.type, sender=h.sender, scope=str(h.scope),
        area=str(h.area), sequence=h.sequence, issued_at=h.issued_at, topic=record.topic,
        partition=record.partition, offset=record.offset, payload_sha256=v.payload_sha256,
        payload=v.payload,
        raw=record.value,
    )
