"""(b) as deployed, and where the CPU goes.

In (b) the publisher and the receiver share one Python process, so one core. In a
deployment each agency's node is a process of its own (usually a machine of its
own). Here the receiving node is ``accord receive`` started as a separate process,
and the publishing node stays in this one, beside the same broker:

    this process: Publisher  ->  Kafka (JVM)  ->  `accord receive` process: inbox

The node is ``accord receive`` run through ``accord.bench.probed_node``, which adds
(b)'s landing probe, at the bench's log level: so the deployed figures and (b) end
at the same point (the inbox transaction has committed) with the same logging.
Throughput: first seal to the last message's landing. Latency per message: its
``issued_at`` to that landing (both stamps from this machine's clock).

CPU: the user+system seconds each of the three processes used during the timed
run, divided by the messages. Their sum is what one message costs this machine;
``cores / sum`` is the most any arrangement of these three processes could carry
here, which is the honest bound for a throughput target on this machine.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from accord.bench.figures import percentile
from accord.bench.node_time import NodeTime, load_landing_times, split
from accord.bench.pipeline import (
    RECEIVERS,
    SENDER,
    bench_body,
    bench_label,
    bench_plan,
    publish_many,
)
from accord.bench.probed_node import Stamps, landing_times_path, read_landings, read_stages
from accord.config import FETCH_WAIT_MS, KafkaConnection, inbox_path
from accord.exchange import LocalExchange
from accord.node.heap import tune_node_heap
from accord.node.process import cpu_seconds, stop_process
from accord.plan import Plan, dump_plan
from accord.receiver.inbox import count_messages
from accord.trust.pki import Pki


@dataclass(frozen=True)
class DeployedRun:
    count: int
    seconds: float
    latencies: list[float]
    cpu_publisher_s: float
    cpu_receiver_s: float
    cpu_broker_s: float | None
    """None when the broker is not a local process (``--bootstrap``)."""
    stages: list[Stamps] = field(default_factory=list)
    """Each timed message's stamps, when the run was asked for them (``stages``)."""
    node_time: NodeTime | None = None
    """Where the receiving node's loop spent the timed landings' wall time; None where
    the kernel keeps no scheduler statistics (``accord.bench.node_time``)."""

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def cpu_us_per_message(self) -> dict[str, float]:
        parts = {"publisher": self.cpu_publisher_s, "receiver": self.cpu_receiver_s}
        if self.cpu_broker_s is not None:
            parts["broker"] = self.cpu_broker_s
        return {k: v / self.count * 1e6 for k, v in parts.items()}

    def figures(self, prefix: str = "") -> dict[str, float]:
        """Every figure, each key prefixed with ``prefix`` (a pipeline variant's)."""
        cpu = self.cpu_us_per_message()
        total = sum(cpu.values())
        cores = float(os.cpu_count() or 1)
        figures = {
            "deployed_msgs_per_s": self.per_second,
            "deployed_p50_ms": percentile(self.latencies, 50) * 1000,
            "deployed_p99_ms": percentile(self.latencies, 99) * 1000,
            "deployed_messages": float(self.count),
            "deployed_landed": float(len(self.latencies)),
            "cores": cores,
            "cpu_us_per_msg_total": total,
            "cpu_ceiling_msgs_per_s": cores * 1e6 / total if total else 0.0,
        }
        figures.update({f"cpu_us_per_msg_{k}": v for k, v in cpu.items()})
        if self.node_time is not None:
            figures.update(self.node_time.figures("deployed_node_"))
        return {prefix + k: v for k, v in figures.items()}


async def _until(predicate: Callable[[], bool], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return bool(predicate())


def start_probed_node(
    *,
    agency: str,
    connection: KafkaConnection,
    plan_file: Path,
    pki_dir: Path,
    data_dir: Path,
    log: Path,
    landings: Path,
    log_level: str,
    fetch_wait_ms: int,
    stages: bool = False,
) -> subprocess.Popen[bytes]:
    """``accord --log-level L --log-json receive --agency A`` through the landing probe
    (with ``stages``, its stage stamps too); the environment as
    ``accord.node.process.start_receiver_process`` sets it."""
    env = {
        **os.environ,
        "ACCORD_BOOTSTRAP_SERVERS": connection.bootstrap_servers,
        "ACCORD_PLAN": str(plan_file),
        "ACCORD_PKI_DIR": str(pki_dir),
        "ACCORD_DATA_DIR": str(data_dir),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "accord.bench.probed_node",
                str(landings),
                *(["--stages"] if stages else []),
                "--",
                "--log-level",
                log_level,
                "--log-json",
                "receive",
                "--agency",
                agency,
                "--fetch-wait-ms",
                str(fetch_wait_ms),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _same(plan: Plan) -> Plan:
    return plan


async def deployed_run(
    conn: KafkaConnection,
    directory: Path,
    pki: Pki,
    count: int,
    *,
    body_size: int = 1024,
    warmup: int = 500,
    broker_pid: int | None = None,
    fetch_wait_ms: int = FETCH_WAIT_MS,
    log_level: str = "WARNING",
    plan_of: Callable[[Plan], Plan] = _same,
    within_s: float = 600.0,
    rate: float | None = None,
    stages: bool = False,
) -> DeployedRun:
    """``count`` messages from this process to a receiving node in its own process;
    ``plan_of`` turns the bench plan into a pipeline variant's (see ``run.VARIANTS``);
    ``rate``: paced at that many messages a second, one publish each (the latency run);
    ``stages``: each message's stage stamps too (``probed_node --stages``)."""
    ex = LocalExchange(plan=plan_of(bench_plan()), connection=conn, directory=directory, pki=pki)
    await asyncio.to_thread(ex.apply)
    agency = RECEIVERS[0]
    data_dir = directory / "receiver"
    inbox = inbox_path(data_dir)
    landings = directory / "landings.json"
    node = start_probed_node(
        agency=agency,
        connection=conn,
        plan_file=dump_plan(ex.plan, directory / "plan.yaml"),
        pki_dir=ex.pki.bundle_path.parent,
        data_dir=data_dir,
        log=directory / "receiver.log",
        landings=landings,
        log_level=log_level,
        fetch_wait_ms=fetch_wait_ms,
        stages=stages,
    )
    try:
        publisher = await ex.publisher(SENDER)
        label = bench_label()
        body = bench_body(0, body_size)

        # The warm-up also waits out the node's start and its group join.
        await publish_many(publisher, max(warmup, 1), body, label)
        if not await _until(lambda: count_messages(inbox) >= max(warmup, 1), within_s):
            raise RuntimeError(f"the receiving node never landed the warm-up; see {directory}")
        before = count_messages(inbox)
        # This process stands for the publishing node: its collector as a node runs it
        # (the peer's publisher, in this process too, runs under the same).
        tune_node_heap()

        started = datetime.now(UTC)
        cpu0 = (
            time.process_time(),
            cpu_seconds(node.pid),
            cpu_seconds(broker_pid) if broker_pid else None,
        )
        await publish_many(publisher, count, body, label, rate=rate)
        if not await _until(lambda: count_messages(inbox) >= before + count, within_s):
            raise RuntimeError(f"the receiving node landed too few messages; see {directory}")
        cpu1 = (
            time.process_time(),
            cpu_seconds(node.pid),
            cpu_seconds(broker_pid) if broker_pid else None,
        )
    finally:
        stop_process(node)
        await ex.stop()

    if node.returncode != 0:
        raise RuntimeError(f"the receiving node exited with {node.returncode}; see {directory}")
    timed = [(i, r) for i, r in read_landings(landings) if i >= started]
    last = max(r for _i, r in timed)
    broker_cpu = (cpu1[2] - cpu0[2]) if cpu0[2] is not None and cpu1[2] is not None else None
    return DeployedRun(
        count=count,
        seconds=(last - started).total_seconds(),
        latencies=[(r - i).total_seconds() for i, r in timed],
        cpu_publisher_s=cpu1[0] - cpu0[0],
        cpu_receiver_s=(cpu1[1] or 0.0) - (cpu0[1] or 0.0),
        cpu_broker_s=broker_cpu,
        stages=[r for r in read_stages(landings) if r[0] >= started.timestamp()] if stages else [],
        node_time=split(
            [
                t
                for t in load_landing_times(landing_times_path(landings))
                if t.ended >= started.timestamp()
            ]
        ),
    )
