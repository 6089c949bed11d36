"""Scenario 3: a receiver process SIGKILLed at random points, several times in one run.

Claim: its inbox ends identical to the set of messages sent to it. The inbox
writes deliveries and the next offsets in one SQLite transaction and the node
resumes from those offsets, so a kill at any instruction neither loses a message
nor lands one twice.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time
from pathlib import Path

from accord.config import KafkaConnection, inbox_path
from accord.node.process import start_receiver_process, stop_process
from accord.plan import dump_plan
from accord.receiver.inbox import read_message_ids as inbox_ids
from accord.soak.common import (
    SENDER,
    Stream,
    check_inboxes,
    wait_for,
)
from accord.soak.exchange import new_exchange
from accord.soak.report import ScenarioResult
from accord.trust.pki import Pki

NAME = "receiver-crash"
AGENCY = "JPN.NPA"


async def run(
    connection: KafkaConnection,
    workdir: Path,
    *,
    messages: int = 10_000,
    kills: int = 5,
    pki: Pki | None = None,
    seed: int | None = None,
    settle_s: float = 300.0,
) -> ScenarioResult:
    result = ScenarioResult(NAME)
    rng = random.Random(seed)  # noqa: S311 - reproducible fault points, not secrets
    ex = new_exchange(connection, workdir / "exchange", pki=pki)
    plan_file = dump_plan(ex.plan, workdir / "plan.yaml")
    data_dir = workdir / "node"
    inbox = inbox_path(data_dir)
    log = workdir / "receiver.log"

    def spawn() -> subprocess.Popen[bytes]:
        return start_receiver_process(
            agency=AGENCY,
            connection=connection,
            plan_file=plan_file,
            pki_dir=ex.pki.bundle_path.parent,
            data_dir=data_dir,
            log=log,
        )

    node = spawn()
    try:
        publisher = await ex.publisher(SENDER)
        stream = Stream(publisher, messages)
        publishing = asyncio.create_task(stream.run())
        # Random kill points, spread over the run; each also waits a random extra
        # moment so a kill can fall mid-batch, mid-commit or mid-receipt.
        points = sorted(rng.sample(range(messages // 20, messages * 19 // 20), kills))
        done = 0
        for point in points:

            def reached(p: int = point) -> bool:
                return len(inbox_ids(inbox)) >= p

            if not await wait_for(reached, settle_s, every=0.02):
                result.notes.append(f"node never reached {point} deliveries; see {log}")
                break
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            node.send_signal(signal.SIGKILL)
            await asyncio.to_thread(node.wait, 10)
            done += 1
            began = time.monotonic()
            before = len(inbox_ids(inbox))
            node = spawn()

            # Recovery: from the kill until the new process lands its first message.
            def landed(b: int = before) -> bool:
                return len(inbox_ids(inbox)) > b or b >= messages

            if await wait_for(landed, settle_s, every=0.02):
                took = time.monotonic() - began
                result.recovery_s = max(result.recovery_s or 0.0, took)
        result.notes.append(f"{done} SIGKILLs at deliveries {points}; recovery = worst")
        await publishing
        result.sent = stream.total
        result.acknowledged = len(stream.acknowledged)
        result.failed = len(stream.failed)
        await wait_for(lambda: len(inbox_ids(inbox)) >= len(stream.acknowledged), settle_s)
        await asyncio.sleep(2.0)  # anything extra would land now
        check_inboxes(
            result, stream.acknowledged, {AGENCY: inbox_ids(inbox)}, allowed=stream.failed
        )
        result.faults = done
    finally:
        stop_process(node)
        await ex.stop()
    return result
