"""Scenario 2: a 3-node cluster (RF 3, min.insync.replicas 2) loses its partition leader.

Claims: killing the leader of the partition being written mid-stream loses and
duplicates nothing at the inboxes; with two of three nodes down, a publish is
refused with a clear ``PublishError`` (its hint names min.insync.replicas and the
brokers) instead of being accepted on a single copy.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from accord.broker import LocalCluster
from accord.errors import BrokerError, PublishError
from accord.kafka import new_admin
from accord.observability.logs import get_logger
from accord.publisher import Publisher
from accord.receiver.inbox import read_message_ids as inbox_ids
from accord.soak.common import (
    BI,
    CT,
    RECEIVERS,
    SENDER,
    Stream,
    check_inboxes,
    label_for,
    report,
    wait_for,
)
from accord.soak.exchange import new_exchange, replicated_plan
from accord.soak.report import ScenarioResult
from accord.trust.pki import Pki

NAME = "failover"

log = get_logger(__name__)


async def _leader(cluster: LocalCluster, topic: str, partition: int) -> int:
    admin = new_admin(cluster.connection())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for p in described["partitions"]:
        if p["partition"] == partition:
            return int(p["leader"])
    raise LookupError(f"{topic}/{partition} not described")


async def run(
    workdir: Path,
    *,
    messages: int = 10_000,
    pki: Pki | None = None,
    kill_after: float = 0.4,
    settle_s: float = 300.0,
    refusal_deadline_s: float = 5.0,
) -> ScenarioResult:
    result = ScenarioResult(NAME, refusal_expected=True)
    cluster = LocalCluster(workdir / "cluster", nodes=3, mode="plain")
    await asyncio.to_thread(cluster.start)
    try:
        ex = new_exchange(
            cluster.connection(), workdir / "exchange", plan=replicated_plan(), pki=pki
        )
        try:
            await ex.start_receivers(RECEIVERS)
            publisher = await ex.publisher(SENDER)
            # One publish first: the key (the sender) fixes the partition, whose
            # leader is then the node to kill.
            first = await publisher.publish(report(0), scope=BI, area=CT, label=label_for(SENDER))
            leader = await _leader(cluster, first.topic, first.partition)
            stream = Stream(publisher, messages - 1)
            publishing = asyncio.create_task(stream.run())
            await wait_for(
                lambda: len(stream.acknowledged) >= messages * kill_after or publishing.done(),
                within_s=settle_s,
            )
            fault = time.monotonic()
            log.info(
                "soak.failover_phase",
                phase="kill-leader",
                node=leader,
                acked=len(stream.acknowledged),
            )
            await asyncio.to_thread(cluster.kill, leader)
            result.faults += 1
            acked_at_kill = len(stream.acknowledged)
            counts = {a: ex.receivers[a].stats.delivered for a in RECEIVERS}
            resumed = await wait_for(
                lambda: (
                    len(stream.acknowledged) > acked_at_kill + 10
                    and all(ex.receivers[a].stats.delivered > counts[a] for a in RECEIVERS)
                ),
                within_s=settle_s,
            )
            if resumed:
                result.recovery_s = time.monotonic() - fault
            log.info(
                "soak.failover_phase",
                phase="resumed" if resumed else "not-resumed",
                acked=len(stream.acknowledged),
                failed=len(stream.failed),
            )
            await publishing
            log.info(
                "soak.failover_phase",
                phase="published",
                acked=len(stream.acknowledged),
                failed=len(stream.failed),
            )
            result.notes.append(
                f"killed node {leader} (leader of {first.topic}/{first.partition}) "
                f"after {acked_at_kill} acks"
            )
            acknowledged = [first.message_id, *stream.acknowledged]
            result.sent = messages
            result.acknowledged = len(acknowledged)
            result.failed = len(stream.failed)
            await ex.settle({a: len(acknowledged) for a in RECEIVERS}, within_s=settle_s)
            await ex.quiesce(idle_s=2.0, within_s=30)
            log.info(
                "soak.failover_phase",
                phase="settled",
                delivered={a: ex.receivers[a].stats.delivered for a in RECEIVERS},
            )
            check_inboxes(
                result,
                acknowledged,
                {a: inbox_ids(ex.inbox_path(a)) for a in RECEIVERS},
                allowed=stream.failed,
            )
            for agency in RECEIVERS:
                stats = ex.receivers[agency].stats
                result.duplicates += stats.duplicates
                result.recoveries += stats.recoveries
                result.gaps += stats.gaps
            await ex.stop()
            log.info("soak.failover_phase", phase="exchange-stopped")

            # Two of three down: below min.insync.replicas, acks=all cannot be met.
            # The publisher is started first, while a majority is up: an idempotent
            # producer needs a producer id, which a cluster without its controller
            # quorum may be unable to grant (that case is the start check below).
            strict = await ex.publisher(SENDER, retry_deadline_s=refusal_deadline_s)
            second = next(n.node_id for n in cluster.nodes if n.node_id != leader)
            log.info("soak.failover_phase", phase="kill-second", node=second)
            await asyncio.to_thread(cluster.kill, second)
            result.faults += 1
            result.notes.append(f"then killed node {second} too: 1 of 3 left")
            try:
                await strict.publish(report(-1), scope=BI, area=CT, label=label_for(SENDER))
            except PublishError as exc:
                result.refusal = f"{exc} (hint: {exc.hint})"
                result.notes.append(f"publish with 1 of 3 nodes refused: {exc.hint}")
            else:
                result.notes.append("publish with 1 of 3 nodes was ACCEPTED")
            # A node started now must not hang: it starts, or fails with BrokerError.
            started = time.monotonic()
            fresh = Publisher(
                agency=SENDER,
                connection=ex.connection_for(SENDER),
                plan=ex.plan,
                signer=ex.pki.signer(SENDER),
                retry_deadline_s=refusal_deadline_s,
                announce=False,
            )
            try:
                await fresh.start()
                outcome = "started"
            except BrokerError as exc:
                outcome = f"refused ({exc.hint})"
            finally:
                await fresh.stop()
            result.figures["start_with_1_of_3_s"] = time.monotonic() - started
            result.notes.append(
                f"a publisher starting with 1 of 3 nodes: {outcome} in "
                f"{result.figures['start_with_1_of_3_s']:.1f} s"
            )
            # The refused record is still queued in the producer, which retries it
            # until replicas return; bring both back so closing (a flush) can finish.
            log.info("soak.failover_phase", phase="relaunching", nodes=[leader, second])
            for node_id in (leader, second):
                cluster.node(node_id).launch()
            for node_id in (leader, second):  # each must be back, else a clear BrokerError
                await asyncio.to_thread(cluster.node(node_id).wait_ready, 120.0, brokers=3)
            log.info("soak.failover_phase", phase="relaunched")
        finally:
            await ex.stop()
            log.info("soak.failover_phase", phase="stopped")
    finally:
        await asyncio.to_thread(cluster.kill_all)
    return result
