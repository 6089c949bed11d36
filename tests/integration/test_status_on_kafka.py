"""Each agency group as the broker sees it, and the monitor that exports it and
follows the trust topic; on the real broker."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from _exchange import fresh_plan, label_for, report

from accord.areas import Area
from accord.broker import LocalBroker
from accord.exchange import LocalExchange
from accord.monitor import Monitor
from accord.observability.metrics import MonitorMetrics
from accord.parties import Scope
from accord.status import GroupStatus, export_status, read_status
from accord.trust.feed import publish_trust

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM


def _on(g: GroupStatus, topic: str) -> tuple[int | None, int, int]:
    """(committed, end, lag) summed over the topic's partitions (None: never committed)."""
    parts = [p for p in g.partitions if p.topic == topic]
    assert parts, topic
    committed = [p.committed for p in parts if p.committed is not None]
    return (
        sum(committed) if committed else None,
        sum(p.end for p in parts),
        sum(p.lag for p in parts),
    )


async def _publish(ex: LocalExchange, n: int, start: int = 0) -> list[str]:
    pub = await ex.publisher("AUS.AFP")
    return [
        (await pub.publish(report(i), scope=BI, area=CT, label=label_for("AUS.AFP", BI))).message_id
        for i in range(start, start + n)
    ]


async def test_status_shows_offsets_members_and_lag_while_the_node_is_down(
    exchange: LocalExchange,
) -> None:
    receiver = await exchange.start_receiver("JPN.NPA")
    await _publish(exchange, 3)
    assert await exchange.settle({"JPN.NPA": 3}, within_s=30)
    topic = exchange.plan.exchange_topic(BI, CT)
    for _ in range(100):  # the commit follows the durable write
        (g,) = await read_status(exchange.connection, exchange.plan, ["JPN.NPA"])
        if g.lag == 0 and g.members:
            break
        await asyncio.sleep(0.1)
    assert g.group == exchange.plan.group_id("JPN.NPA")
    assert g.state == "Stable"
    assert len(g.members) == 1
    assert g.members[0].host
    assert _on(g, topic) == (3, 3, 0)
    assert receiver.ready

    await exchange.stop_receiver("JPN.NPA")
    await _publish(exchange, 2, start=3)
    (g,) = await read_status(exchange.connection, exchange.plan, ["JPN.NPA"])
    assert _on(g, topic) == (3, 5, 2)
    assert g.members == ()

    metrics = MonitorMetrics()
    export_status(metrics, [g])
    (p,) = [p for p in g.partitions if p.topic == topic and p.lag]
    labels = {"agency": "JPN.NPA", "topic": topic, "partition": str(p.partition)}
    assert metrics.registry.get_sample_value("accord_group_lag", labels) == 2
    assert metrics.registry.get_sample_value("accord_group_end_offset", labels) == p.end
    assert metrics.registry.get_sample_value("accord_group_committed_offset", labels) == p.committed
    assert metrics.registry.get_sample_value("accord_group_members", {"agency": "JPN.NPA"}) == 0


async def test_a_group_that_never_committed_lags_by_everything(exchange: LocalExchange) -> None:
    await _publish(exchange, 2)
    (g,) = await read_status(exchange.connection, exchange.plan, ["JPN.NPA"])
    topic = exchange.plan.exchange_topic(BI, CT)
    assert _on(g, topic) == (None, 2, 2)
    assert g.state in ("Dead", "Empty")


async def test_the_monitor_follows_a_key_rotation_on_the_trust_topic(
    kafka: LocalBroker, tmp_path: Path
) -> None:
    """The issue's case: a monitor that read the bundle once stopped counting the
    receipts of a rotated key. Following the trust topic, it counts them all."""
    ex = LocalExchange(plan=fresh_plan(), connection=kafka.connection(), directory=tmp_path)
    ex.apply()
    try:
        before = ex.pki.trust_store  # the bundle as it was before the rotation
        stale_following, stale_fixed = before(), before()
        ex.pki.directory.issue("JPN.NPA", rotate=True)  # receipts get signed with the new key
        ex.trust.add_certificate(ex.pki.signer("JPN.NPA").certificate)
        await ex.start_receiver("JPN.NPA")
        sent = await _publish(ex, 4)
        assert await ex.settle({"JPN.NPA": 4}, within_s=30)
        await ex.quiesce(idle_s=1.0)
        await publish_trust(ex.connection, ex.plan.trust_topic, ex.pki.trust_store().to_bundle())

        following = Monitor(
            connection=ex.connection, plan=ex.plan, trust=stale_following, deadline=timedelta(0)
        )
        new_kid = ex.pki.signer("JPN.NPA").kid
        assert stale_following.resolve(new_kid) is None
        assert await following.sync_trust() >= 1  # read to the topic's end, before receipts
        assert stale_following.resolve(new_kid) is not None
        await following.consume(idle_s=2.0)
        assert following.rejected == 0
        assert following.parked == 0
        assert len(following.ledger) == 4
        # every delivery acknowledged and counted
        assert all("JPN.NPA" in following.ledger.acknowledged_by(m) for m in sent)
        assert (
            following.metrics.registry.get_sample_value(
                "accord_acks_overdue", {"agency": "JPN.NPA"}
            )
            == 0
        )

        # Without the trust topic, the same receipts are rejected: the test means it.
        fixed = Monitor(
            connection=ex.connection,
            plan=ex.plan,
            trust=stale_fixed,
            deadline=timedelta(0),
            follow_trust=False,
        )
        await fixed.consume(idle_s=2.0)
        assert fixed.rejected_by["unknown-key"] >= 1
        assert not any("JPN.NPA" in fixed.ledger.acknowledged_by(m) for m in sent)
        assert (
            fixed.metrics.registry.get_sample_value(
                "accord_monitor_receipts_rejected_total", {"reason": "unknown-key"}
            )
            >= 1
        )
    finally:
        await ex.stop()


async def test_the_serving_monitor_exports_lag_of_a_node_that_never_ran(
    exchange: LocalExchange,
) -> None:
    """Lag is visible on /metrics while the agency's node is down."""
    import aiohttp

    from accord.observability.http import OpsServer

    await _publish(exchange, 3)
    monitor = Monitor(connection=exchange.connection, plan=exchange.plan, trust=exchange.trust)
    ops = OpsServer(monitor.metrics)
    await ops.start()
    stop = asyncio.Event()
    serving = asyncio.create_task(monitor.serve(status_every_s=0.5, stop=stop))
    topic = exchange.plan.exchange_topic(BI, CT)
    text = ""
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(120):
                async with http.get(f"http://127.0.0.1:{ops.port}/metrics") as r:
                    text = await r.text()
                if (
                    "accord_monitor_status_last_success_timestamp_seconds " in text
                    and f'topic="{topic}"' in text
                ):
                    break
                await asyncio.sleep(0.25)
    finally:
        stop.set()
        await asyncio.wait_for(serving, timeout=30)
        await ops.stop()
    lag = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("accord_group_lag{")
        and 'agency="JPN.NPA"' in line
        and f'topic="{topic}"' in line
    )
    assert lag == 3
    assert 'accord_group_members{agency="JPN.NPA"} 0.0' in text
    assert "accord_build_info{" in text
    assert "process_resident_memory_bytes" in text
