"""The monitor service: consumes receipts, verifies them, keeps the ledger.

Receipts are signed like any message; a forged or unverifiable receipt is
counted and logged, never believed.

Keys rotate and get revoked while the monitor runs, so it follows the trust topic
like a node does (``TrustFeed``), after first reading it to its end: a receipt is
verified against every certificate and CRL published before it was read. A
receipt signed with a key the monitor has not learned yet (``unknown-key``) is
parked, not counted as rejected, and verified again whenever the feed applies
something new and once more at the end of a pass; only then is it rejected.

``serve`` runs the monitor for good: it keeps reading receipts, and every
``status_every_s`` reads each agency group's offsets from the broker
(``accord.status``) into ``MonitorMetrics``, so lag shows while a node is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from accord.config import KafkaConnection
from accord.envelope import Rejected, verify
from accord.errors import AccordError, ReasonCode
from accord.kafka import close_consumer, new_admin, new_consumer
from accord.models import Receipt
from accord.monitor.ledger import Ledger, Outstanding
from accord.observability.logs import get_logger
from accord.observability.metrics import MonitorMetrics
from accord.parties import Scope
from accord.plan import Plan
from accord.status import export_status, read_status
from accord.trust import TrustStore
from accord.trust.feed import TrustFeed, apply_item

log = get_logger(__name__)

_MAX_PARKED = 10_000  # receipts waiting for a certificate: bounded, oldest dropped


class Monitor:
    def __init__(
        self,
        *,
        connection: KafkaConnection,
        plan: Plan,
        trust: TrustStore,
        deadline: timedelta = timedelta(seconds=30),
        follow_trust: bool = True,
        metrics: MonitorMetrics | None = None,
    ) -> None:
        self._connection = connection
        self._plan = plan
        self._trust = trust
        self.deadline = deadline
        self.ledger = Ledger(plan)
        self.metrics = metrics or MonitorMetrics()
        self.rejected = 0
        self.rejected_by: Counter[str] = Counter()
        self._parked: list[bytes] = []
        self._feed = TrustFeed(connection, plan.trust_topic, trust) if follow_trust else None
        self._feed_seen: float | None = None

    @property
    def parked(self) -> int:
        """Receipts waiting for a certificate the trust topic has not brought yet."""
        return len(self._parked)

    async def consume(self, *, idle_s: float = 2.0, until: float | None = None) -> None:
        """Read receipts until ``idle_s`` passes with none, or ``until`` seconds elapse.

        The ledger is rebuilt from the start of the receipts topic each time, so
        the monitor never commits offsets. The group id is still the plan's
        monitor group: with broker ACLs on, it is the only one the principal may use.
        """
        await self._start_trust()
        try:
            await self._read_receipts(idle_s=idle_s, until=until)
        finally:
            await self._stop_trust()
        self._retry_parked(final=True)
        self._export_ledger()

    async def serve(
        self, *, status_every_s: float = 15.0, stop: asyncio.Event | None = None
    ) -> None:
        """Read receipts and refresh the metrics until ``stop`` is set."""
        stop = stop or asyncio.Event()
        await self._start_trust()
        receipts = asyncio.create_task(self._read_receipts(idle_s=None, until=None, stop=stop))
        try:
            while not stop.is_set():
                await self.refresh_status()
                self._retry_parked(final=False)
                self._export_ledger()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=status_every_s)
                if receipts.done():
                    receipts.result()  # raises what the reader raised
        finally:
            stop.set()
            await asyncio.gather(receipts, return_exceptions=True)
            await self._stop_trust()

    async def refresh_status(self) -> None:
        """One reading of every agency group's offsets into the metrics; a failure
        is logged (the alert on the status timestamp fires), never raised."""
        try:
            groups = await read_status(self._connection, self._plan)
        except AccordError as exc:
            log.warning("monitor.status_failed", error=exc.message)
            return
        export_status(self.metrics, groups)

    # -- trust ---------------------------------------------------------------

    async def _start_trust(self) -> None:
        if self._feed is None:
            return
        await self.sync_trust()
        await self._feed.start()

    async def _stop_trust(self) -> None:
        if self._feed is not None:
            await self._feed.stop()

    async def sync_trust(self, timeout_s: float = 30.0) -> int:
        """Apply the trust topic up to its current end, now; return how many records.

        Done before any receipt is read, so receipts are checked against every
        certificate and CRL published before them. Never raises: a failure is
        logged and the background feed goes on trying.
        """
        topic = self._plan.trust_topic
        applied = 0
        admin = new_admin(self._connection)
        consumer = new_consumer(self._connection, group_id=None)
        try:
            await admin.start()
            described = await admin.describe_topics([topic])
            tps = [
                TopicPartition(topic, p["partition"])
                for t in described
                if t["error_code"] == 0
                for p in t["partitions"]
            ]
            if not tps:
                return 0
            await consumer.start()
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            deadline = time.monotonic() + timeout_s
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                if time.monotonic() > deadline:
                    log.warning("monitor.trust_catch_up_timeout", topic=topic)
                    return applied
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        apply_item(self._trust, r.key, r.value)
                        applied += 1
        except KafkaError as exc:
            log.warning("monitor.trust_catch_up_failed", topic=topic, error=type(exc).__name__)
        finally:
            await close_consumer(consumer, timeout_s=10)
            await admin.close()
        return applied

    # -- receipts ------------------------------------------------------------

    async def _read_receipts(
        self, *, idle_s: float | None, until: float | None, stop: asyncio.Event | None = None
    ) -> None:
        consumer = new_consumer(
            self._connection, self._plan.receipts_topic, group_id=self._plan.monitor.group
        )
        await consumer.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        last = started
        try:
            while stop is None or not stop.is_set():
                batch = await consumer.getmany(timeout_ms=250, max_records=1000)
                now = loop.time()
                for records in batch.values():
                    for r in records:
                        self._take(r.value)
                if batch:
                    last = now
                self._retry_parked(final=False)
                if idle_s is not None and now - last >= idle_s:
                    return
                if until is not None and now - started >= until:
                    return
        finally:
            await close_consumer(consumer, timeout_s=10)

    def _take(self, raw: bytes | None, *, final: bool = False) -> bool:
        """Verify and record one receipt; False if it was parked for later."""
        data = raw or b""
        verdict = verify(data, self._trust, topic=self._plan.receipts_topic)
        if isinstance(verdict, Rejected) and verdict.reason == ReasonCode.UNKNOWN_KEY and not final:
            if len(self._parked) >= _MAX_PARKED:
                self._reject(self._parked.pop(0), ReasonCode.UNKNOWN_KEY.value)
            self._parked.append(data)
            return False
        if isinstance(verdict, Rejected) or not isinstance(verdict.body, Receipt):
            reason = verdict.reason.value if isinstance(verdict, Rejected) else "not-a-receipt"
            self._reject(data, reason)
            return True
        h = verdict.header
        self.ledger.record(verdict.body, scope=Scope(h.scope), area=h.area, at=h.issued_at)
        return True

    def _reject(self, _raw: bytes, reason: str) -> None:
        self.rejected += 1
        self.rejected_by[reason] += 1
        self.metrics.receipts_rejected.labels(reason).inc()
        log.warning("monitor.receipt_rejected", reason=reason)

    def _retry_parked(self, *, final: bool) -> None:
        """Verify parked receipts again if the trust feed has applied something new
        (or, ``final``, one last time before they count as rejected)."""
        if not self._parked:
            return
        seen = self._feed.last_record if self._feed is not None else None
        if not final and seen == self._feed_seen:
            return
        self._feed_seen = seen
        parked, self._parked = self._parked, []
        for raw in parked:
            self._take(raw, final=final)

    def _export_ledger(self) -> None:
        self.metrics.messages.set(len(self.ledger))
        counts: Counter[str] = Counter()
        for o in self.outstanding():
            counts.update(o.missing)
        for agency in self._plan.agencies:
            self.metrics.overdue.labels(agency).set(counts.get(agency, 0))

    def outstanding(self, now: datetime | None = None) -> list[Outstanding]:
        return self.ledger.outstanding(now=now or datetime.now(UTC), deadline=self.deadline)
