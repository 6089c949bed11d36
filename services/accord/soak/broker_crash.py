"""Scenario 1: a single broker SIGKILLed mid-exchange, then restarted on its data dir.

Claim: every acknowledged publish lands exactly once in every entitled inbox;
publishes caught by the crash are retried by ``Publisher.send`` (same signed
bytes) and the receivers drop the extra copies by message id.

Why acknowledged data survives: the broker answers ``acks=all`` once the record is
in the page cache, and the page cache belongs to the OS, not the JVM, so a process
kill loses nothing it acknowledged (a power cut would be another matter; that is
what replication, scenario 2, is for).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from accord.broker import LocalBroker
from accord.receiver.inbox import read_message_ids as inbox_ids
from accord.soak.common import RECEIVERS, SENDER, Stream, check_inboxes, wait_for
from accord.soak.exchange import new_exchange
from accord.soak.report import ScenarioResult
from accord.trust.pki import Pki

NAME = "broker-crash"


async def run(
    workdir: Path,
    *,
    messages: int = 10_000,
    pki: Pki | None = None,
    kill_after: float = 0.4,
    settle_s: float = 300.0,
) -> ScenarioResult:
    """Publish ``messages``; SIGKILL the broker once ``kill_after`` of them are acked."""
    result = ScenarioResult(NAME)
    broker = LocalBroker(workdir / "kafka", mode="plain")
    await asyncio.to_thread(broker.start)
    try:
        ex = new_exchange(broker.connection(), workdir / "exchange", pki=pki)
        try:
            await ex.start_receivers(RECEIVERS)
            publisher = await ex.publisher(SENDER)
            stream = Stream(publisher, messages)
            publishing = asyncio.create_task(stream.run())
            reached = await wait_for(
                lambda: len(stream.acknowledged) >= messages * kill_after or publishing.done(),
                within_s=settle_s,
            )
            if not reached:
                result.notes.append("the stream never reached the kill point")
            fault = time.monotonic()
            await asyncio.to_thread(broker.kill)
            result.faults += 1
            result.notes.append(
                f"broker SIGKILLed after {len(stream.acknowledged)} acks, "
                f"{stream.started - len(stream.acknowledged)} publishes in flight"
            )
            await asyncio.to_thread(broker.start)
            restarted = time.monotonic()
            acked_at_restart = len(stream.acknowledged)
            # Recovery: from the kill until a publish made after the restart is acked
            # and every receiver has delivered something past what it had at restart.
            counts = {a: ex.receivers[a].stats.delivered for a in RECEIVERS}
            resumed = await wait_for(
                lambda: (
                    len(stream.acknowledged) > acked_at_restart
                    and all(ex.receivers[a].stats.delivered > counts[a] for a in RECEIVERS)
                ),
                within_s=settle_s,
            )
            if resumed:
                result.recovery_s = time.monotonic() - fault
            result.notes.append(f"broker back after {restarted - fault:.1f} s")
            await publishing
            result.sent = stream.total
            result.acknowledged = len(stream.acknowledged)
            result.failed = len(stream.failed)
            expected = {a: len(stream.acknowledged) for a in RECEIVERS}
            await ex.settle(expected, within_s=settle_s)
            await ex.quiesce(idle_s=2.0, within_s=30)
            check_inboxes(
                result,
                stream.acknowledged,
                {a: inbox_ids(ex.inbox_path(a)) for a in RECEIVERS},
                # A publish that gave up may still have been written: it may land, once.
                allowed=stream.failed,
            )
            for agency in RECEIVERS:
                stats = ex.receivers[agency].stats
                result.duplicates += stats.duplicates
                result.recoveries += stats.recoveries
                result.gaps += stats.gaps
                for reason, n in stats.rejected.items():
                    result.quarantined[reason] = result.quarantined.get(reason, 0) + n
        finally:
            await ex.stop()
    finally:
        await asyncio.to_thread(broker.stop)
    return result
