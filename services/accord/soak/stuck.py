"""Scenario 6: the broker disappears for longer than the receivers' stall timeout.

aiokafka can be left wedged after a broker restart (a coordinator marked dead, a
fetcher that never resumes: the consumer then polls "successfully" and returns
nothing forever). Claim: the receiver's watchdog notices that it is idle while
the broker holds records it has not delivered (or cannot reach the broker at
all), rebuilds its consumer by itself, and delivery resumes with nothing lost.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from accord.broker import LocalBroker
from accord.receiver.inbox import read_message_ids as inbox_ids
from accord.soak.common import RECEIVERS, SENDER, Stream, check_inboxes
from accord.soak.exchange import new_exchange
from accord.soak.report import ScenarioResult
from accord.trust.pki import Pki

NAME = "stuck"


async def run(
    workdir: Path,
    *,
    messages: int = 2_000,
    pki: Pki | None = None,
    stall_timeout_s: float = 5.0,
    outage_s: float | None = None,
    settle_s: float = 180.0,
) -> ScenarioResult:
    result = ScenarioResult(NAME)
    outage = outage_s if outage_s is not None else 2 * stall_timeout_s + 2
    broker = LocalBroker(workdir / "kafka", mode="plain")
    await asyncio.to_thread(broker.start)
    try:
        ex = new_exchange(broker.connection(), workdir / "exchange", pki=pki)
        try:
            for agency in RECEIVERS:
                await ex.start_receiver(agency, stall_timeout_s=stall_timeout_s)
            publisher = await ex.publisher(SENDER)
            before = Stream(publisher, messages // 2)
            await before.run()
            await ex.settle({a: len(before.acknowledged) for a in RECEIVERS}, within_s=settle_s)
            # A real outage, not a pause: the broker process is gone for ``outage``.
            await asyncio.to_thread(broker.kill)
            result.faults = 1
            await asyncio.sleep(outage)
            await asyncio.to_thread(broker.start)
            back = time.monotonic()
            after = Stream(publisher, messages - messages // 2)
            await after.run()
            acknowledged = before.acknowledged + after.acknowledged
            # Recovery: from the broker's return until every receiver has it all,
            # with nobody touching the receivers.
            if await ex.settle({a: len(acknowledged) for a in RECEIVERS}, within_s=settle_s):
                result.recovery_s = time.monotonic() - back
            await ex.quiesce(idle_s=1.0, within_s=30)
            result.sent = messages
            result.acknowledged = len(acknowledged)
            result.failed = len(before.failed) + len(after.failed)
            check_inboxes(
                result,
                acknowledged,
                {a: inbox_ids(ex.inbox_path(a)) for a in RECEIVERS},
                allowed=before.failed + after.failed,
            )
            for agency in RECEIVERS:
                receiver = ex.receivers[agency]
                result.recoveries += receiver.stats.recoveries
                result.duplicates += receiver.stats.duplicates
                metric = receiver.metrics.registry.get_sample_value(
                    "accord_consumer_recoveries_total", {"agency": agency}
                )
                result.figures[f"metric_recoveries_{agency}"] = metric or 0.0
            result.figures["outage_s"] = outage
            result.figures["stall_timeout_s"] = stall_timeout_s
        finally:
            await ex.stop()
    finally:
        await asyncio.to_thread(broker.stop)
    return result
