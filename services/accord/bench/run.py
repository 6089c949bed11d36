"""One ``accord bench`` run: (a) raw Kafka, (b) the signed pipeline, (c) bare Ed25519,
and the paced latency run, on the same broker; figures as a flat dict of numbers.

See docs/bench.md for what each figure means.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accord.bench.deployed import deployed_run
from accord.bench.ed25519 import bare_ed25519
from accord.bench.figures import median, peak_rss_mib, percentile
from accord.bench.pipeline import Pipeline, PipelineRun
from accord.bench.raw_kafka import ensure_topic, raw_roundtrip
from accord.bench.split import split_rates
from accord.config import KafkaConnection
from accord.node.process import cpu_seconds
from accord.plan import load_plan
from accord.trust.pki import Pki, provision

TARGET_B_OVER_C = 0.5
TARGET_P99_MS = 50.0

Figures = dict[str, float]


@dataclass(frozen=True)
class BenchOptions:
    messages: int = 20_000
    rate: float = 500.0
    seconds: float = 10.0
    receivers: int = 1
    repeat: int = 1
    body_size: int = 1024
    ed25519_loops: int = 20_000
    warmup: int = 500
    fetch_wait_ms: int = 10
    bootstrap: str | None = None


def _ms(seconds: list[float], q: float) -> float:
    return percentile(seconds, q) * 1000


def _pipeline_figures(prefix: str, run: PipelineRun) -> Figures:
    return {
        f"{prefix}_msgs_per_s": run.per_second,
        f"{prefix}_p50_ms": _ms(run.latencies, 50),
        f"{prefix}_p99_ms": _ms(run.latencies, 99),
        f"{prefix}_max_ms": max(run.latencies, default=0.0) * 1000,
        f"{prefix}_messages": float(run.count),
        f"{prefix}_deliveries": float(run.delivered),
        f"{prefix}_deliveries_expected": float(run.count * run.receivers),
        f"{prefix}_rejected": float(run.rejected),
        f"{prefix}_seconds": run.seconds,
    }


async def run_once(
    conn: KafkaConnection, directory: Path, options: BenchOptions, pki: Pki,
    progress: Callable[[str], None] = lambda _: None, broker_pid: int | None = None,
) -> Figures:
    """Every figure of one repeat. A fresh namespace (topics, groups, inboxes) each time."""
    figures: Figures = {"receivers": float(options.receivers)}
    pipeline = Pipeline(conn, directory, receivers=options.receivers, pki=pki,
                        body_size=options.body_size, fetch_wait_ms=options.fetch_wait_ms)
    progress("starting the exchange (topics, receivers, publisher)")
    await pipeline.start()
    try:
        envelope = pipeline.envelope_size()
        figures["envelope_bytes"] = float(envelope)

        # (a) raw records as large as (b)'s envelopes, so b/a isolates the processing.
        progress(f"(a) raw aiokafka, {options.messages} x {envelope} B")
        raw_topic = f"{pipeline.exchange.plan.namespace}.bench.raw.{uuid.uuid4().hex[:6]}"
        await ensure_topic(conn, raw_topic)
        raw_cpu = time.process_time()
        raw = await raw_roundtrip(conn, raw_topic, options.messages, size=envelope)
        figures["raw_cpu_us_per_msg_process"] = (
            (time.process_time() - raw_cpu) / options.messages * 1e6
        )
        figures.update({
            "raw_msgs_per_s": raw.per_second, "raw_p50_ms": raw.p50_ms or 0.0,
            "raw_p99_ms": raw.p99_ms or 0.0,
        })
        figures["peak_rss_mib_after_a"] = peak_rss_mib()

        # (b) throughput, after a warm-up that is not counted.
        if options.warmup:
            progress(f"(b) warm-up, {options.warmup} messages")
            await pipeline.run(options.warmup)
        progress(f"(b) signed pipeline, {options.messages} messages")
        cpu0 = time.process_time(), cpu_seconds(broker_pid) if broker_pid else None
        run = await pipeline.run(options.messages)
        cpu1 = time.process_time(), cpu_seconds(broker_pid) if broker_pid else None
        figures.update(_pipeline_figures("pipeline", run))
        figures["pipeline_cpu_us_per_msg_process"] = (cpu1[0] - cpu0[0]) / run.count * 1e6
        if cpu0[1] is not None and cpu1[1] is not None:
            figures["pipeline_cpu_us_per_msg_broker"] = (cpu1[1] - cpu0[1]) / run.count * 1e6
        figures["peak_rss_mib_after_b"] = peak_rss_mib()
        figures.update(await _encrypted(conn, directory / "encrypted", options, pki, progress,
                                        broker_pid))
        figures["ratio_encrypted_signed"] = (figures["encrypted_msgs_per_s"]
                                             / figures["pipeline_msgs_per_s"])

        # paced: (b) at a fixed rate; the latency target is judged here.
        paced_count = max(1, round(options.rate * options.seconds))
        progress(f"paced (b), {options.rate:g} msgs/s for {options.seconds:g} s")
        within0, total0 = pipeline.histogram_counts(0.05)
        paced = await pipeline.run(paced_count, rate=options.rate)
        within1, total1 = pipeline.histogram_counts(0.05)
        figures.update(_pipeline_figures("paced", paced))
        figures["paced_target_rate"] = options.rate
        # Cross-check from the receivers' own histogram (bucket bound 50 ms).
        observed = total1 - total0
        figures["paced_histogram_le_50ms"] = (within1 - within0) / observed if observed else -1.0
    finally:
        await pipeline.stop()

    # (b) taken apart: each side alone, in a namespace of its own.
    progress(f"(b) split: publisher alone, then receiver alone, {options.messages} messages")
    publish, receive = await split_rates(conn, directory / "split", pki, options.messages,
                                         options.body_size, options.fetch_wait_ms)
    figures["publish_only_msgs_per_s"] = publish.per_second
    figures["receive_only_msgs_per_s"] = receive.per_second

    # (b) as deployed: the receiving node in a process of its own; CPU per process.
    progress(f"(b) deployed: receiving node as its own process, {options.messages} messages")
    deployed = await deployed_run(conn, directory / "deployed", pki, options.messages,
                                  body_size=options.body_size, warmup=options.warmup,
                                  broker_pid=broker_pid, fetch_wait_ms=options.fetch_wait_ms)
    figures.update(deployed.figures())

    # (c) the ceiling: bare Ed25519 over an input as large as the signed one.
    progress(f"(c) bare Ed25519, {options.ed25519_loops} signs and verifies")
    sign, verify = await asyncio.to_thread(bare_ed25519, options.ed25519_loops, envelope)
    figures["sign_per_s"] = sign.per_second
    figures["verify_per_s"] = verify.per_second

    figures["ratio_b_a"] = figures["pipeline_msgs_per_s"] / figures["raw_msgs_per_s"]
    figures["ratio_b_c"] = figures["pipeline_msgs_per_s"] / figures["verify_per_s"]
    figures["ratio_deployed_c"] = figures["deployed_msgs_per_s"] / figures["verify_per_s"]
    figures["ratio_ceiling_c"] = figures["cpu_ceiling_msgs_per_s"] / figures["verify_per_s"]
    figures["peak_rss_mib"] = peak_rss_mib()
    return figures


async def _encrypted(
    conn: KafkaConnection, directory: Path, options: BenchOptions, pki: Pki,
    progress: Callable[[str], None], broker_pid: int | None,
) -> Figures:
    """(b) again with envelope v2 (signed + encrypted), in a namespace of its own."""
    pipeline = Pipeline(conn, directory, receivers=options.receivers, pki=pki,
                        body_size=options.body_size, fetch_wait_ms=options.fetch_wait_ms,
                        encrypted=True)
    await pipeline.start()
    try:
        figures: Figures = {"encrypted_record_bytes": float(pipeline.record_size())}
        if options.warmup:
            await pipeline.run(options.warmup)
        progress(f"(b) signed + encrypted pipeline, {options.messages} messages")
        cpu0 = time.process_time(), cpu_seconds(broker_pid) if broker_pid else None
        run = await pipeline.run(options.messages)
        cpu1 = time.process_time(), cpu_seconds(broker_pid) if broker_pid else None
        figures.update(_pipeline_figures("encrypted", run))
        figures["encrypted_cpu_us_per_msg_process"] = (cpu1[0] - cpu0[0]) / run.count * 1e6
        if cpu0[1] is not None and cpu1[1] is not None:
            figures["encrypted_cpu_us_per_msg_broker"] = (cpu1[1] - cpu0[1]) / run.count * 1e6
        return figures
    finally:
        await pipeline.stop()


def medians(runs: list[Figures]) -> Figures:
    return {key: median([r[key] for r in runs]) for key in runs[0]}


def targets(figures: Figures) -> dict[str, bool]:
    return {
        "b_over_c_at_least_0.5": figures["ratio_b_c"] >= TARGET_B_OVER_C,
        "paced_p99_under_50ms": figures["paced_p99_ms"] < TARGET_P99_MS,
    }


async def bench(
    options: BenchOptions, progress: Callable[[str], None] = lambda _: None
) -> list[Figures]:
    """Start a plain LocalBroker in a temp dir (unless ``bootstrap``), run ``repeat`` times."""
    from accord.broker import LocalBroker

    with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
        root = Path(tmp)
        broker: LocalBroker | None = None
        if options.bootstrap:
            conn = KafkaConnection(bootstrap_servers=options.bootstrap)
        else:
            progress("starting a local Kafka broker")
            broker = LocalBroker(root / "kafka", mode="plain")
            await asyncio.to_thread(broker.start)
            conn = broker.connection()
        try:
            pki = await asyncio.to_thread(provision, root / "pki", load_plan(None).agencies)
            runs = []
            for i in range(options.repeat):
                progress(f"repeat {i + 1}/{options.repeat}")
                runs.append(await run_once(conn, root / f"run{i}", options, pki, progress,
                                           broker_pid=broker.pid if broker else None))
            return runs
        finally:
            if broker is not None:
                await asyncio.to_thread(broker.stop)
