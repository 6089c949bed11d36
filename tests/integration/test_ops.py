"""Operators' view over a real broker: metrics, probes, the webhook handler hook."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from _exchange import label_for, report

from accord.areas import Area
from accord.envelope import Verified
from accord.exchange import LocalExchange
from accord.observability.http import OpsServer
from accord.parties import Scope

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM


async def test_metrics_and_probes_are_served(exchange: LocalExchange) -> None:
    receiver = await exchange.start_receiver("JPN.NPA")
    ops = OpsServer(
        receiver.metrics, healthy=lambda: receiver.healthy, ready=lambda: receiver.ready
    )
    await ops.start()
    try:
        pub = await exchange.publisher("AUS.AFP")
        for i in range(3):
            await pub.publish(report(i), scope=BI, area=CT, label=label_for("AUS.AFP", BI))
        assert await exchange.settle({"JPN.NPA": 3}, within_s=30)
        for _ in range(100):  # receipts follow the durable write
            if receiver.stats.receipts == 3:
                break
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{ops.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with http.get(f"{base}/readyz") as r:
                assert r.status == 200
            async with http.get(f"{base}/metrics") as r:
                text = await r.text()
        assert 'accord_records_total{agency="JPN.NPA",outcome="delivered",reason=""} 3.0' in text
        assert 'accord_end_to_end_latency_seconds_count{agency="JPN.NPA"} 3.0' in text
        assert 'accord_receipts_sent_total{agency="JPN.NPA"} 3.0' in text
        assert "accord_consumer_lag" in text
        receiver.request_stop()
        await asyncio.sleep(0)
        async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as r:
            assert r.status == 503  # a stopping node is not ready
    finally:
        await ops.stop()


async def test_the_handler_gets_each_delivered_message_once_in_order(
    exchange: LocalExchange,
) -> None:
    # The in-process hook (accord.Node(handler=...)); the signed, retried webhook
    # to an agency system is the handover outbox (tests/integration/test_handover.py).
    posted: list[dict[str, Any]] = []

    async def take(v: Verified) -> None:
        posted.append(
            {
                "header": v.header.model_dump(mode="json"),
                "label": v.label.model_dump(mode="json"),
                "body": v.body.model_dump(mode="json"),
                "signers": list(v.signers),
            }
        )

    await exchange.start_receiver("JPN.NPA", handler=take)
    pub = await exchange.publisher("AUS.AFP")
    sent = [
        (await pub.publish(report(i), scope=BI, area=CT, label=label_for("AUS.AFP", BI))).message_id
        for i in range(2)
    ]
    assert await exchange.settle({"JPN.NPA": 2}, within_s=30)
    await exchange.quiesce(idle_s=1.0)
    assert [p["header"]["message_id"] for p in posted] == sent
    assert posted[0]["header"]["sender"] == "AUS.AFP"
    assert posted[0]["label"]["releasable_to"] == ["AUS", "JPN"]
    assert posted[0]["body"]["title"] == "Report 0"
    assert posted[0]["signers"] == ["AUS.AFP"]
