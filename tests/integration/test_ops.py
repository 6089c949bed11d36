"""Operators' view over a real broker: metrics, probes, the webhook handler hook."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from _exchange import label_for, report
from aiohttp import web

from accord.areas import Area
from accord.exchange import LocalExchange
from accord.observability.http import OpsServer
from accord.parties import Scope
from accord.receiver.webhook import webhook_handler

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM


async def test_metrics_and_probes_are_served(exchange: LocalExchange) -> None:
    receiver = await exchange.start_receiver("JPN.NPA")
    ops = OpsServer(receiver.metrics, healthy=lambda: receiver.healthy,
                    ready=lambda: receiver.ready)
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


async def test_webhook_handler_posts_each_delivered_message(exchange: LocalExchange) -> None:
    posted: list[dict[str, Any]] = []

    async def take(request: web.Request) -> web.Response:
        posted.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/inbound", take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await exchange.start_receiver(
            "JPN.NPA", handler=webhook_handler(f"http://127.0.0.1:{port}/inbound")
        )
        pub = await exchange.publisher("AUS.AFP")
        sent = [
            (await pub.publish(report(i), scope=BI, area=CT,
                               label=label_for("AUS.AFP", BI))).message_id
            for i in range(2)
        ]
        assert await exchange.settle({"JPN.NPA": 2}, within_s=30)
        await exchange.quiesce(idle_s=1.0)
    finally:
        await runner.cleanup()
    assert [p["header"]["message_id"] for p in posted] == sent
    assert posted[0]["header"]["sender"] == "AUS.AFP"
    assert posted[0]["label"]["releasable_to"] == ["AUS", "JPN"]
    assert posted[0]["body"]["title"] == "Report 0"
    assert posted[0]["signers"] == ["AUS.AFP"]
