"""A receiver killed with SIGKILL mid-stream, restarted, ends with every message once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _exchange import label_for, report

from accord.areas import Area
from accord.exchange import LocalExchange
from accord.parties import Scope
from accord.plan import dump_plan
from accord.receiver.inbox import read_message_ids as inbox_ids

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM


def _start_node(
    ex: LocalExchange, agency: str, plan_file: Path, data_dir: Path, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ACCORD_BOOTSTRAP_SERVERS": ex.connection.bootstrap_servers,
        "ACCORD_PLAN": str(plan_file),
        "ACCORD_PKI_DIR": str(ex.pki.bundle_path.parent),
        "ACCORD_DATA_DIR": str(data_dir),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "accord", "--log-json", "receive", "--agency", agency],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _wait_for(predicate: object, within_s: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while loop.time() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


async def test_sigkill_mid_stream_loses_and_duplicates_nothing(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    total = 1500
    plan_file = dump_plan(exchange.plan, tmp_path / "plan.yaml")
    data_dir = tmp_path / "jpn.npa"
    inbox = data_dir / "inbox.sqlite"
    log = tmp_path / "node.log"
    node = _start_node(exchange, "JPN.NPA", plan_file, data_dir, log)
    pub = await exchange.publisher("AUS.AFP")
    sent: list[str] = []

    async def publish_all() -> None:
        for i in range(total):
            r = await pub.publish(report(i), scope=BI, area=CT, label=label_for("AUS.AFP", BI))
            sent.append(r.message_id)

    publishing = asyncio.create_task(publish_all())
    kills = 0
    try:
        for threshold in (200, 600, 1000):
            assert await _wait_for(lambda t=threshold: len(inbox_ids(inbox)) >= t, 90), (
                f"node never reached {threshold} deliveries; see {log}"
            )
            node.send_signal(signal.SIGKILL)
            node.wait(timeout=10)
            kills += 1
            node = _start_node(exchange, "JPN.NPA", plan_file, data_dir, log)
        await publishing
        assert await _wait_for(lambda: len(inbox_ids(inbox)) >= total, 120)
        await asyncio.sleep(2.0)  # anything extra would land now
        ids = inbox_ids(inbox)
    finally:
        publishing.cancel()
        node.terminate()
        node.wait(timeout=20)
    assert kills == 3
    assert len(ids) == len(set(ids)) == total
    assert set(ids) == set(sent)
    assert node.returncode == 0  # SIGTERM is a clean stop
