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
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.structs import ConsumerRecord, TopicPartition

from accord.confidentiality import Audiences
from accord.confidentiality.feed import NodeKeys
from accord.config import KafkaConnection
from accord.envelope import Header, Verified, verify
from accord.envelope.batch import RootCache
from accord.errors import BrokerError, ReasonCode
from accord.handover import Dispatcher, Endpoint
from accord.kafka import (
    broker_errors,
    close_consumer,
    close_producer,
    new_consumer,
    new_producer,
    start_producer,
    task_failure,
)
from accord.observability.logs import get_logger
from accord.observability.metrics import NodeMetrics
from accord.observability.trace import TraceContext, bound, continue_or_start
from accord.parties import country_of
from accord.plan import Plan
from accord.receipts import ReceiptSender, receipt_count
from accord.receiver.fetch import FetchPacing
from accord.receiver.inbox import Inbox, Landing
from accord.receiver.quarantine import QuarantineWriter
from accord.receiver.settings import ReceiverSettings
from accord.receiver.step import Context, Outcome, step
from accord.receiver.traces import DeliveryTraces
from accord.status import commit_metadata
from accord.trust import Signer, TrustStore
from accord.trust.feed import TrustFeed

log = get_logger(__name__)

Handler = Callable[[Verified], Awaitable[None]]
"""An agency system's hook: called once per newly delivered message, after the
durable inbox write. The inbox stays the source of truth; a handler that fails is
logged and does not undo the delivery."""

ConsumerFactory = Callable[..., AIOKafkaConsumer]
"""Builds the node's consumer from ``accord.kafka.new_consumer``'s arguments; the
default is that function. Injectable, as httpx takes a ``transport=``."""
ProducerFactory = Callable[..., AIOKafkaProducer]
"""Builds the node's producer from ``accord.kafka.new_producer``'s arguments."""

_MAX_RECEIPT_BATCHES_IN_FLIGHT = 4
_COMMIT_EVERY_S = 1.0
"""Offsets go to the group at most this often, and when the node goes quiet or stops.

The inbox holds them durably, in each landing's transaction, and is what the node
resumes from; a commit only tells the group (``accord status``, the lag metrics)
where the node is. One commit per poll cost a node and its broker 3 to 5 % and 9
to 13 % of their CPU per message at 50 and 500 msgs/s (``python -m
accord.bench.latency``, docs/exchange.md). Kafka's own auto-commit waits 5 s."""
_OWED_RECEIPTS_EVERY_S = 10.0


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
    """One agency's receiving node: lands what it is entitled to, exactly once.

    ``start()``, then ``run()`` until ``request_stop()``, then ``stop()`` (or
    ``async with``). ``handler`` is called once per newly landed message with its
    :class:`accord.envelope.Verified`; ``handover`` hands each landed message to an
    agency system's webhook, signed and retried (accord.handover).
    """

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
        settings: ReceiverSettings | None = None,
        handover: Endpoint | None = None,
        consumer_factory: ConsumerFactory = new_consumer,
        producer_factory: ProducerFactory = new_producer,
        keys: NodeKeys | None = None,
    ) -> None:
        """``keys``: this node's key directory and keyring (envelope v2: the node
        decrypts, applies the plan's ``encryption``, and follows key statements and
        CWK announcements on the trust topic)."""
        self.agency = agency
        self.country = country_of(agency)
        self._settings = settings = settings or ReceiverSettings()
        self._connection = connection
        self._plan = plan
        self._trust = trust
        self.inbox = Inbox(inbox_path, outbox=handover is not None)
        # Handover: the signed, retried webhook (accord.handover), in a task of its own.
        self._handover = handover
        self._inbox_path = inbox_path
        self.dispatcher: Dispatcher | None = None
        self._handler = handler
        self.metrics = metrics or NodeMetrics()
        self._new_consumer = consumer_factory
        self._new_producer = producer_factory
        self._context = Context(
            trust=trust,
            plan=plan,
            country=self.country,
            max_bytes=settings.max_record_bytes,
            keyring=keys.keyring if keys is not None else None,
            roots=RootCache(),
            agency=agency,
            audiences=Audiences(plan),
        )
        self._topics = plan.receive_topics(agency)
        self._group_id = plan.group_id(agency)
        self._send_timeout_s = settings.send_timeout_s
        self._quarantine = QuarantineWriter(
            topic=plan.quarantine_topic(agency), agency=agency, timeout_s=self._send_timeout_s
        )
        self._receipts = ReceiptSender(
            topic=plan.receipts_topic,
            signer=signer,
            status="delivered",
            timeout_s=self._send_timeout_s,
        )
        self._consumer: AIOKafkaConsumer | None = None
        self._fetch = FetchPacing(settings.fetch_wait_ms)
        self._uncommitted: dict[tuple[str, int], int] = {}
        self._counters: dict[tuple[str, str], Any] = {}
        # Bound once: every event of this node carries its agency, and the hot path
        # skips the lazy proxy's per-call configuration lookup.
        self._log = log.bind(agency=agency)
        self._latency = self.metrics.latency.labels(agency)
        self._commit_task: asyncio.Task[None] | None = None
        self._committed_at = 0.0
        self._receipt_tasks: list[asyncio.Task[None]] = []
        # The inbox's receipts_owed entries whose receipts the broker acknowledged:
        # cleared by the next landing transaction (or on their own when idle or
        # stopping). Lost in a crash, which only re-sends them.
        self._receipts_acked: list[int] = []
        self._producer_suspect = False
        self._receipts_checked = time.monotonic()
        # Rotations and revocations arrive on the trust topic while the node runs.
        self._trust_feed = (
            TrustFeed(
                connection,
                plan.trust_topic,
                trust,
                metrics=self.metrics,
                agency=agency,
                keys=keys,
                key_topics=plan.keys_topics() if keys is not None else (),
            )
            if settings.follow_trust
            else None
        )
        # Trust health on /metrics: CRL dates, and the feed's last poll and record.
        self.metrics.watch_trust(trust, feed=self._trust_feed, agency=agency)
        self._producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._recovering = False
        self._assigned: set[TopicPartition] = set()
        self.last_poll = 0.0
        self.stats = ReceiverStats()

    @property
    def settings(self) -> ReceiverSettings:
        return self._settings

    # -- lifecycle ---------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Assigned partitions, reached the broker within the stall timeout, and not
        rebuilding a consumer: this node is taking records now."""
        return (
            bool(self._assigned)
            and self.healthy
            and not self._recovering
            and not self._stopping.is_set()
        )

    @property
    def healthy(self) -> bool:
        """Liveness: the poll loop has come back from the broker lately."""
        return time.monotonic() - self.last_poll < self._settings.stall_timeout_s

    async def start(self) -> None:
        producer = self._new_producer(self._connection, client_id=f"accord-{self.agency}")
        await start_producer(producer, timeout_s=self._send_timeout_s)
        self._producer = producer
        if self._trust_feed is not None:
            await self._trust_feed.start()
        await self._start_consumer()
        if self._handover is not None:  # handover: rows landed before are picked up
            self.dispatcher = Dispatcher(
                self._handover, self._inbox_path, agency=self.agency, metrics=self.metrics
            )
            await self.dispatcher.start()
        self.last_poll = time.monotonic()
        self._log.info("receiver.started", topics=self._topics, group_id=self._group_id)
        await self._send_owed_receipts()

    async def stop(self) -> None:
        self._stopping.set()
        # Let in-flight receipts and the last commit finish; they are idempotent
        # to redo, but finishing them saves the next start some work.
        pending = [t for t in (*self._receipt_tasks, self._commit_task) if t is not None]
        if pending:
            await asyncio.wait(pending, timeout=10)
        self._commit_soon(at_once=True)  # what landed since the last commit
        if self._commit_task is not None and not self._commit_task.done():
            await asyncio.wait([self._commit_task], timeout=10)
        if self._trust_feed is not None:
            try:
                await self._trust_feed.stop()
            except Exception as exc:  # the clients and the inbox must still close
                # A feed that ended in error re-raises it here; stopping goes on.
                self._log.error(
                    "receiver.trust_feed_failed", error=type(exc).__name__, detail=str(exc)[:200]
                )
        if self._consumer is not None:
            failure = await close_consumer(self._consumer, timeout_s=10)
            if failure is not None:
                self._log.warning("receiver.consumer_stop_failed", error=failure)
            self._consumer = None
        if self._producer is not None:
            # Receipts still unacknowledged are kept in the inbox's outbox and
            # resent on the next start, so a bounded close loses nothing.
            await close_producer(self._producer, timeout_s=10)
            self._producer = None
        if self.dispatcher is not None:  # handover
            await self.dispatcher.stop()
            self.dispatcher = None
        self._clear_acked_receipts()
        self.inbox.close()
        self._log.info("receiver.stopped")

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
                with broker_errors("poll failed"):
                    batch = await asyncio.wait_for(
                        consumer.getmany(
                            timeout_ms=self._fetch.poll_timeout_ms,
                            max_records=self._settings.batch_max,
                        ),
                        timeout=self._settings.stall_timeout_s,
                    )
            except BrokerError as exc:
                await self._recover(type(exc.__cause__).__name__)
                idle_since = time.monotonic()
                continue
            now = time.monotonic()
            self.last_poll = now
            was_idle = self._fetch.mode == "idle"
            self._fetch.after_poll(consumer, bool(batch))
            if self._producer_suspect:
                await self._rebuild_producer()
            if batch:
                idle_since = now
                # One turn of the loop first: the consumer's fetcher sends the next
                # fetch now, so the broker gathers the next poll while this one is
                # verified and landed (both synchronous), instead of only after it.
                # Records that arrive meanwhile wait for the work in hand, not for
                # that work and then a fetch (docs/exchange.md).
                await asyncio.sleep(0)
                try:
                    await self._process(batch)
                except _ProducerStuck as exc:
                    await self._rebuild_producer()
                    await self._recover(str(exc))  # refetch the batch from the inbox offsets
                    idle_since = time.monotonic()
                continue
            self._commit_soon()  # what the last polls landed, once the interval is up
            if was_idle:
                # A quiet half second: no landing soon to carry them (a pause of a few
                # ms between busy polls leaves them to the next landing's transaction).
                self._clear_acked_receipts()
            if now - self._receipts_checked >= _OWED_RECEIPTS_EVERY_S:
                self._receipts_checked = now
                if not any(not t.done() for t in self._receipt_tasks):
                    await self._send_owed_receipts()
            if now - idle_since >= self._settings.stall_timeout_s:
                why = await self._stalled(consumer)
                if why is not None:
                    await self._recover(why)
                idle_since = time.monotonic()

    async def _stalled(self, consumer: AIOKafkaConsumer) -> str | None:
        """Why an idle consumer is wedged rather than caught up, or None if caught up."""
        assigned = list(consumer.assignment())
        if not assigned:
            return "no-assignment"
        bound = self._settings.stall_timeout_s
        try:
            with broker_errors("offsets unavailable"):
                ends = await asyncio.wait_for(consumer.end_offsets(assigned), timeout=bound)
                starts = await asyncio.wait_for(consumer.beginning_offsets(assigned), timeout=bound)
        except BrokerError as exc:
            return f"broker-unreachable ({type(exc.__cause__).__name__})"
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
        consumer = self._new_consumer(
            self._connection,
            group_id=self._group_id,
            client_id=f"accord-{self.agency}",
            max_partition_fetch_bytes=self._settings.max_record_bytes * 2,
            **self._fetch.consumer_options(),
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
        self._log.info("receiver.partitions_assigned", count=len(assigned))

    async def _rebuild_producer(self) -> None:
        """Replace a producer that stopped getting acks; bounded at every step."""
        self._producer_suspect = False
        self._log.warning("receiver.producer_rebuilding")
        old, self._producer = self._producer, None
        if old is not None:
            await close_producer(old, timeout_s=10)
        while not self._stopping.is_set():
            producer = self._new_producer(self._connection, client_id=f"accord-{self.agency}")
            try:
                with broker_errors("producer restart failed"):
                    await start_producer(producer, timeout_s=self._settings.stall_timeout_s)
            except BrokerError as exc:
                self._log.warning("receiver.producer_restart_failed", error=str(exc))
                await close_producer(producer, timeout_s=10)
                await asyncio.sleep(2.0)
                continue
            self._producer = producer
            return

    async def _recover(self, why: str) -> None:
        self._recovering = True
        try:
            await self._rebuild_consumer(why)
        finally:
            self._recovering = False

    async def _rebuild_consumer(self, why: str) -> None:
        self.stats.recoveries += 1
        self.metrics.recoveries.labels(self.agency).inc()
        self._log.warning("receiver.consumer_recovering", reason=why)
        old, self._consumer = self._consumer, None
        if old is not None:
            failure = await close_consumer(old, timeout_s=10)
            if failure is not None:
                self._log.warning("receiver.consumer_stop_failed", error=failure)
        await asyncio.sleep(1.0)
        while not self._stopping.is_set():
            # Bounded, in a task of its own: aiokafka's start can wait on an absent
            # broker indefinitely and need not honour cancellation promptly.
            starting = asyncio.create_task(self._start_consumer())
            await asyncio.wait({starting}, timeout=self._settings.stall_timeout_s)
            failure = task_failure(starting)
            if failure is None:
                return
            starting.cancel()
            self._log.warning("receiver.consumer_restart_failed", error=failure)
            # Close the half-started consumer: a broker outage would otherwise
            # leak one client (sockets, tasks) per retry.
            failed, self._consumer = self._consumer, None
            if failed is not None:
                await close_consumer(failed, timeout_s=10)
            await asyncio.sleep(2.0)

    # -- processing --------------------------------------------------------

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """One poll's records: decide (the batch step), quarantine, land in ONE
        transaction, then the rest.

        The inbox write (one fsync for the whole batch) is the commit point. Offset
        commits and receipts follow in the background: both are safe to lose in a
        crash (the inbox holds the offsets; pending receipts are resent on start),
        so the loop never waits on a broker round trip before its next poll.
        """
        now = datetime.now(UTC)
        out = step(batch.values(), self.inbox, self._context, now=now)
        unknown_kid = any(r.reason is ReasonCode.UNKNOWN_KEY for _, r in out.quarantined)
        unknown_cwk = any(
            r.reason is ReasonCode.UNDECRYPTABLE and r.rule == "ENC-05" for _, r in out.quarantined
        )
        if (
            self._trust_feed is not None
            and (unknown_kid or unknown_cwk)
            # Anyone can write records under kids nobody knows, so those catch-ups are
            # limited to one a second. A CWK id is met only after a trusted signature
            # verified (ENC-05 comes after ENV-23): a partner's first message under a
            # new key, whose announcement the feed may have read a moment after its
            # last catch-up. That one always catches up.
            and await self._trust_feed.sync(min_interval_s=0.0 if unknown_cwk else 1.0)
        ):
            # A just-rotated key: its certificate was on the trust topic but not yet
            # read; or a body under a CWK whose announcement (sent before the message,
            # on the trust topic) was not yet read. The step only decides (the inbox is
            # untouched), so deciding again with the caught-up trust store is safe.
            out = step(batch.values(), self.inbox, self._context, now=now)
        producer = self._producer
        assert producer is not None
        try:
            await self._quarantine.write(producer, out.quarantined)
        except BrokerError as exc:
            raise _ProducerStuck(str(exc)) from exc
        self._account(out)
        traces = DeliveryTraces(batch.values(), out)  # each made when first read
        items = out.receipt_items() if self._settings.send_receipts else []
        acked, self._receipts_acked = self._receipts_acked, []
        try:
            landing = self.inbox.land(
                out.deliveries,
                out.offsets,
                out.status_changes,
                owe_receipts=bool(items),
                receipt_stream=self._receipts.topic if items else None,
                receipt_count=receipt_count(items),
                traces={k: t.traceparent for k, t in traces.items()} if self.dispatcher else None,
                # The owed receipts of earlier batches that the broker has since
                # acknowledged: cleared here, not in an fsync of their own.
                receipts_sent=acked,
            )
        except BaseException:
            self._receipts_acked[:0] = acked  # still pending on disk; clear them later
            raise
        landed = landing.landed
        landed_at = datetime.now(UTC)
        if landed and self.dispatcher is not None:  # handover
            self.dispatcher.notify()
        self._commit_soon(out.offsets)
        self._delivered(landed, out, traces, landed_at)
        if self._handler is not None and landed:
            where = {(d.sender, d.message_id): (d.topic, d.partition) for d in out.deliveries}
            await self._hand_over(landed, out.accepted, where, traces)
        if landed and items:
            # One writer, and duplicates were filtered before the write: what landed
            # is exactly what the receipts were grouped from.
            await self._receipts_soon(items, landing, traces)

    def _delivered(
        self,
        landed: list[tuple[str, str]],
        out: Outcome,
        traces: Mapping[tuple[str, str], TraceContext],
        landed_at: datetime,
    ) -> None:
        """Metrics for each landed message; one INFO line for the batch.

        A line per message is DEBUG: at INFO it cost the node about as much as the
        inbox write (docs/bench.md). The batch line names the message, and carries
        its trace, when the batch has one message (the usual case at low rates).
        """
        if not landed:
            return
        per_message = self._log.is_enabled_for(logging.DEBUG)
        worst = 0.0
        for key in landed:
            v = out.accepted[key]
            latency = max((landed_at - v.header.issued_at).total_seconds(), 0.0)
            worst = max(worst, latency)
            self._latency.observe(latency)
            if per_message:
                # The trace's fields passed, not bound: a third of the cost.
                self._log.debug(
                    "receiver.delivered",
                    message_id=key[1],
                    sender=v.header.sender,
                    topic=v.header.topic,
                    latency_ms=round(latency * 1000, 2),
                    type=v.header.type,
                    **traces[key].log_fields(),
                )
        self._count("delivered", "", len(landed))
        self.stats.delivered += len(landed)
        one = landed[0] if len(landed) == 1 else None
        self._log.info(
            "receiver.batch_landed",
            messages=len(landed),
            duplicates=len(out.duplicates),
            rejected=len(out.quarantined),
            max_latency_ms=round(worst * 1000, 2),
            **(
                {"message_id": one[1], "sender": one[0], **traces[one].log_fields()}
                if one is not None
                else {}
            ),
        )

    def _account(self, out: Outcome) -> None:
        """Stats, metrics and log lines for what the step decided (and was quarantined)."""
        for record in out.duplicates:
            self._count("duplicate", "")
            self.stats.duplicates += 1
            self._log.info(
                "receiver.duplicate",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                **continue_or_start(record.headers).log_fields(),
            )
        for gap in out.gaps:
            self.stats.gaps += gap.missing
            self.metrics.gaps.labels(self.agency, gap.sender, gap.topic).inc(gap.missing)
            self._log.warning(
                "receiver.sequence_gap",
                sender=gap.sender,
                topic=gap.topic,
                expected=gap.expected,
                got=gap.got,
                missing=gap.missing,
                message_id=gap.message_id,
            )
        for record, refusal in out.quarantined:
            self._count("rejected", refusal.reason.value)
            self.stats.rejected[refusal.reason.value] = (
                self.stats.rejected.get(refusal.reason.value, 0) + 1
            )
            self._log.warning(
                "receiver.rejected",
                reason=refusal.reason.value,
                detail=refusal.detail[:200],
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                **continue_or_start(record.headers).log_fields(),
            )

    def _commit_soon(
        self, offsets: dict[tuple[str, int], int] | None = None, *, at_once: bool = False
    ) -> None:
        """Commit offsets in the background: one commit in flight at a time, and one
        every ``_COMMIT_EVERY_S`` at most (``at_once``: now, when stopping)."""
        if offsets:
            self._uncommitted.update(offsets)
        consumer = self._consumer
        if (
            consumer is None
            or not self._uncommitted
            or (self._commit_task is not None and not self._commit_task.done())
        ):
            return
        now = time.monotonic()
        if not at_once and now - self._committed_at < _COMMIT_EVERY_S:
            return
        self._committed_at = now
        snapshot = {TopicPartition(t, p): o for (t, p), o in self._uncommitted.items()}
        self._uncommitted.clear()
        self._commit_task = asyncio.create_task(self._commit(consumer, snapshot))

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            with broker_errors("offset commit failed"):
                # The commit's metadata carries its time, for `accord status`.
                at = commit_metadata()
                await consumer.commit({tp: (o, at) for tp, o in offsets.items()})
        except BrokerError as exc:
            # Safe to lose: the inbox holds the offsets this node resumes from.
            self._log.warning("receiver.commit_failed", error=str(exc))
            return
        for tp, offset in offsets.items():
            self._log.debug(
                "receiver.committed", topic=tp.topic, partition=tp.partition, offset=offset
            )
            self._update_lag(consumer, tp, offset)

    async def _hand_over(
        self,
        landed: list[tuple[str, str]],
        accepted: dict[tuple[str, str], Verified],
        where: dict[tuple[str, str], tuple[str, int]],
        traces: Mapping[tuple[str, str], TraceContext],
    ) -> None:
        """Call the handler in order within each partition, partitions concurrently."""
        by_partition: dict[tuple[str, int], list[tuple[Verified, TraceContext]]] = {}
        for key in landed:
            by_partition.setdefault(where[key], []).append((accepted[key], traces[key]))

        async def in_order(items: list[tuple[Verified, TraceContext]]) -> None:
            for v, trace in items:
                with bound(trace):  # the handler's own log events join the trace
                    await self._call_handler(v)

        await asyncio.gather(*(in_order(items) for items in by_partition.values()))

    async def _receipts_soon(
        self,
        items: list[tuple[Header, str]],
        landing: Landing,
        traces: Mapping[tuple[str, str], TraceContext],
    ) -> None:
        """Sign and send receipts in the background; at most a few batches in flight."""
        self._receipt_tasks = [t for t in self._receipt_tasks if not t.done()]
        if len(self._receipt_tasks) >= _MAX_RECEIPT_BATCHES_IN_FLIGHT:
            # Backpressure, bounded: each task gives up after the send timeout.
            await asyncio.wait(self._receipt_tasks, return_when=asyncio.FIRST_COMPLETED)
            self._receipt_tasks = [t for t in self._receipt_tasks if not t.done()]
        self._receipt_tasks.append(
            asyncio.create_task(self._settle_receipts(items, landing, traces))
        )

    async def _settle_receipts(
        self,
        items: list[tuple[Header, str]],
        landing: Landing,
        traces: Mapping[tuple[str, str], TraceContext],
    ) -> None:
        sent = await self._send_receipts(items, landing.first_receipt, traces)
        if sent and landing.receipts_owed is not None:
            # Cleared in the next landing transaction (or when idle): until then a
            # crash leaves them owed and the receipts are sent again, never lost.
            self._receipts_acked.append(landing.receipts_owed)

    async def _send_receipts(
        self,
        items: list[tuple[Header, str]],
        first_sequence: int,
        traces: Mapping[tuple[str, str], TraceContext] | None = None,
    ) -> bool:
        """Sign and send receipts for these items; True once the broker acknowledged
        them all."""
        producer = self._producer
        if producer is None:
            return False
        numbers = itertools.count(first_sequence)
        try:
            sent = await self._receipts.send(producer, items, lambda: next(numbers), traces=traces)
        except BrokerError as exc:
            # They stay owed in the inbox: resent once the producer is healthy.
            self._log.warning("receiver.receipts_failed", error=str(exc), count=len(items))
            self._producer_suspect = True
            return False
        count = len(sent.acknowledged)
        self.stats.receipts += count
        self.metrics.receipts.labels(self.agency).inc(count)
        # Only a receipt of one message names it (1.5 µs a message to name them all).
        key = None
        if count == 1:
            first = sent.acknowledged[0]
            key = (first.sender, str(first.message_id))
        one = traces.get(key) if traces and key is not None else None
        self._log.info(
            "receiver.receipt_sent",
            messages=count,
            receipts=sent.receipts,
            message_id=key[1] if key is not None else None,
            **(one.log_fields() if one is not None else {}),
        )
        return True

    def _clear_acked_receipts(self) -> None:
        """Clear the outbox rows of acknowledged receipts in a transaction of their own."""
        if self._receipts_acked:
            acked, self._receipts_acked = self._receipts_acked, []
            self.inbox.receipts_sent(acked)

    async def _send_owed_receipts(self) -> None:
        """Receipts a crash or a failed send left owed: re-verify from the raw bytes
        and send. A message that no longer verifies (its signer's trust is gone) gets
        no receipt now and stays owed, to be tried again."""
        self._clear_acked_receipts()  # acknowledged ones are not owed any more
        owed = self.inbox.owed_receipts()
        if not owed or not self._settings.send_receipts:
            return
        items = []
        unverified = []
        for stored in (m for landing in owed for m in landing.messages):
            verdict = verify(stored.raw, self._trust, topic=stored.topic)
            if isinstance(verdict, Verified):
                items.append((verdict.header, verdict.payload_sha256))
            else:
                unverified.append((stored.sender, stored.message_id))
        if not items:
            return
        first = self.inbox.reserve_sequences(self._receipts.topic, receipt_count(items))
        if await self._send_receipts(items, first):
            self.inbox.receipts_sent([o.entry for o in owed], still_owed=unverified)

    async def _call_handler(self, v: Verified) -> None:
        assert self._handler is not None
        try:
            await self._handler(v)
        except Exception as exc:  # an agency's hook must not stop the node
            self._log.error(
                "receiver.handler_failed",
                message_id=str(v.header.message_id),
                error=type(exc).__name__,
                detail=str(exc)[:200],
            )

    def _count(self, outcome: str, reason: str, n: int = 1) -> None:
        # Label lookups cost more than the increment: keep the children.
        child = self._counters.get((outcome, reason))
        if child is None:
            child = self._counters[(outcome, reason)] = self.metrics.records.labels(
                self.agency, outcome, reason
            )
        child.inc(n)

    def _update_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition, position: int) -> None:
        high = consumer.highwater(tp)
        if high is not None:
            self.metrics.lag.labels(self.agency, tp.topic, str(tp.partition)).set(
                max(high - position, 0)
            )
