"""The monitor service: consumes receipts, verifies them, keeps the ledger.

Receipts are signed like any message; a forged or unverifiable receipt is
counted and logged, never believed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from accord.config import KafkaConnection
from accord.envelope import Rejected, verify
from accord.kafka import close_consumer, new_consumer
from accord.models import Receipt
from accord.monitor.ledger import Ledger, Outstanding
from accord.observability.logs import get_logger
from accord.parties import Scope
from accord.plan import Plan
from accord.trust import TrustStore

log = get_logger(__name__)


class Monitor:
    def __init__(
        self, *, connection: KafkaConnection, plan: Plan, trust: TrustStore,
        deadline: timedelta = timedelta(seconds=30),
    ) -> None:
        self._connection = connection
        self._plan = plan
        self._trust = trust
        self.deadline = deadline
        self.ledger = Ledger(plan)
        self.rejected = 0

    async def consume(self, *, idle_s: float = 2.0, until: float | None = None) -> None:
        """Read receipts until ``idle_s`` passes with none, or ``until`` seconds elapse.

        The ledger is rebuilt from the start of the receipts topic each time, so
        the monitor never commits offsets. The group id is still the plan's
        monitor group: with broker ACLs on, it is the only one the principal may use.
        """
        consumer = new_consumer(self._connection, self._plan.receipts_topic,
                                group_id=self._plan.monitor.group)
        await consumer.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        last = started
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=250, max_records=1000)
                now = loop.time()
                for records in batch.values():
                    for r in records:
                        self._take(r.value)
                if batch:
                    last = now
                if now - last >= idle_s or (until is not None and now - started >= until):
                    return
        finally:
            await close_consumer(consumer, timeout_s=10)

    def _take(self, raw: bytes | None) -> None:
        verdict = verify(raw or b"", self._trust, topic=self._plan.receipts_topic)
        if isinstance(verdict, Rejected) or not isinstance(verdict.body, Receipt):
            self.rejected += 1
            reason = verdict.reason.value if isinstance(verdict, Rejected) else "not-a-receipt"
            log.warning("receipt-rejected", reason=reason)
            return
        h = verdict.header
        self.ledger.record(verdict.body, scope=Scope(h.scope), area=h.area,
                           at=h.issued_at)

    def outstanding(self, now: datetime | None = None) -> list[Outstanding]:
        return self.ledger.outstanding(now=now or datetime.now(UTC), deadline=self.deadline)
