"""A real Prometheus (the Debian binary, on a loopback port) scrapes a running node,
evaluates deploy/prometheus/alerts.yml, and the quarantine alert fires after one
hostile record reaches the node."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from accord.areas import Area
from accord.exchange import LocalExchange
from accord.kafka import close_producer, new_producer
from accord.observability.http import OpsServer
from accord.parties import Scope

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as r:
        return await r.json() if r.status == 200 else None


async def _until(check: Any, *, within_s: float, every_s: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy (a bound, not a timing test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        result = await check()
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(every_s)


async def test_prometheus_fires_the_quarantine_alert_on_a_hostile_record(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    assert binary, "prometheus not found: install it (apt-get install prometheus)"
    receiver = await exchange.start_receiver("JPN.NPA")
    receiver.metrics.watch_ready(lambda: receiver.ready, agency="JPN.NPA")
    ops = OpsServer(
        receiver.metrics, healthy=lambda: receiver.healthy, ready=lambda: receiver.ready
    )
    await ops.start()
    prom_port = _free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [
            {"job_name": "accord-nodes", "static_configs": [{"targets": [f"127.0.0.1:{ops.port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{prom_port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def scraped() -> bool:
                try:
                    body = await _get_json(http, f"{base}/api/v1/query?query=up")
                except aiohttp.ClientError:
                    return False
                results = body["data"]["result"] if body else []
                return any(r["value"][1] == "1" for r in results)

            assert await _until(scraped, within_s=60), "Prometheus never scraped the node"

            # One hostile record: bytes that are no envelope, on a topic the node reads.
            producer = new_producer(exchange.connection)
            await producer.start()
            try:
                topic = exchange.plan.exchange_topic(Scope.BILATERAL, Area.COUNTER_TERRORISM)
                await producer.send_and_wait(topic, b"not an envelope")
            finally:
                await close_producer(producer, timeout_s=10)

            async def quarantined() -> bool:
                return bool(receiver.stats.rejected)

            assert await _until(quarantined, within_s=30)
            (reason,) = receiver.stats.rejected

            async def firing() -> list[dict[str, Any]]:
                body = await _get_json(http, f"{base}/api/v1/alerts")
                alerts = body["data"]["alerts"] if body else []
                return [a for a in alerts if a["state"] == "firing"]

            alerts = await _until(firing, within_s=60)
            ready = await _get_json(http, f"{base}/api/v1/query?query=accord_node_ready")
        names = {a["labels"]["alertname"]: a["labels"] for a in alerts}
        assert "AccordQuarantine" in names, alerts
        assert names["AccordQuarantine"]["agency"] == "JPN.NPA"
        assert names["AccordQuarantine"]["reason"] == reason
        assert "AccordNodeDown" not in names
        (sample,) = ready["data"]["result"]
        assert sample["metric"]["agency"] == "JPN.NPA"
        assert sample["value"][1] == "1"  # the node is ready, as /readyz says
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=20)
        except TimeoutError:
            proc.kill()
            await asyncio.wait_for(proc.wait(), timeout=10)
        log.close()
        await ops.stop()
