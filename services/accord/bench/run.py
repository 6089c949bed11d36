"""One ``accord bench`` run, on one broker: (a) raw Kafka, (b) the signed pipeline in
one process, (b) deployed (the receiving node in its own process, per pipeline
variant), the FastStream peer in one and in two processes, (c) bare Ed25519, and
the paced latency run; figures as a flat dict of numbers, the targets of issue 16
judged on them.

See docs/bench.md for what each figure means.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from accord.bench.deployed import DeployedRun, deployed_run
from accord.bench.ed25519 import bare_ed25519
from accord.bench.figures import median, peak_rss_mib, percentile
from accord.bench.pipeline import Pipeline, PipelineRun
from accord.bench.raw_kafka import ensure_topic, raw_roundtrip
from accord.bench.site import bench_site
from accord.bench.split import split_rates
from accord.bench.stages import commit_stalls
from accord.config import FETCH_WAIT_MS, KafkaConnection
from accord.node.heap import HeapMode
from accord.node.process import cpu_seconds
from accord.plan import Plan
from accord.trust.pki import Pki


def _signed(plan: Plan) -> Plan:
    return plan


async def _discard(directory: Path) -> None:
    """Remove a finished run's files (its nodes' inboxes, sent logs and logs), once its
    figures are read; a failed run keeps them for a look (its error names the place).

    Kept, they weighed on the runs after them: in one process, eight deployed runs of
    10 000 messages one after another, each run's files kept, the publisher spent 50
    µs a message in the first five and 56 to 69 in the last three, the difference in system
    time (the sent log's writes); each run's files removed once it ended, 50 to 51 in
    all eight (issue 16, twentieth pass). A node does not share its disk's page cache
    with a bench's earlier runs; the peer's runs lose their files the same way."""
    await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)


def _per_message(plan: Plan) -> Plan:
    scopes = {s: sp.model_copy(update={"signing": "per-message"}) for s, sp in plan.scopes.items()}
    return plan.model_copy(update={"scopes": scopes})


VARIANTS: dict[str, Callable[[Plan], Plan]] = {
    # name -> how the bench plan becomes this variant's plan. "signed" is the
    # protection the peer has (every message signed, bodies in clear), with the
    # plan's default signing (batched: one signature per batch, a proof per record),
    # and the one the targets judge; "per-message" signs each record on its own.
    "signed": _signed,
    "per-message": _per_message,
}
"""Pipeline variants, each run as deployed; the first is the one the targets judge."""


@dataclass(frozen=True)
class Target:
    """One of issue 16's targets: ``key`` compared with ``goal``."""

    name: str
    key: str
    goal: float
    at_least: bool
    unit: str = "x"

    def met(self, figures: Figures) -> bool:
        value = figures[self.key]
        return value >= self.goal if self.at_least else value <= self.goal

    def margin(self, figures: Figures) -> float:
        """How far past (positive) or short of (negative) the goal, as a fraction of it."""
        value = figures[self.key]
        return (value - self.goal) / self.goal * (1 if self.at_least else -1)


TARGETS = (
    Target(
        "deployed throughput >= 1.0 x two-process peer", "ratio_deployed_peer2", 1.0, at_least=True
    ),
    Target(
        "publisher CPU per message <= 1.0 x peer's",
        "ratio_cpu_publisher_peer2",
        1.0,
        at_least=False,
    ),
    Target(
        "receiver CPU per message <= 1.0 x peer's", "ratio_cpu_receiver_peer2", 1.0, at_least=False
    ),
    Target(
        "receiver >= 5000 msgs/s per core",
        "receiver_msgs_per_core",
        5000.0,
        at_least=True,
        unit=" msgs/s",
    ),
    Target(
        "paced p99 <= 30 ms (deployed)", "paced_deployed_p99_ms", 30.0, at_least=False, unit=" ms"
    ),
)

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
    fetch_wait_ms: int = FETCH_WAIT_MS
    bootstrap: str | None = None
    broker_pid: int | None = None
    """With ``bootstrap``: the broker's process on this machine, for its CPU."""
    log_level: str = "WARNING"
    """The level (b) runs at, and the deployed node is started with."""
    variants: tuple[str, ...] = tuple(VARIANTS)
    peer_heap: HeapMode = "default"
    """The two-process peer's subscriber's collector."""


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


Step = tuple[str, str]
"""A timed run of a round after the split ones: (kind, which), as ``run_order`` names it."""


def run_order(variants: Sequence[str], *, peer_first: bool) -> list[Step]:
    """The order of a round's runs as deployed and the peer's.

    The two runs the throughput and CPU targets compare (the judged variant as deployed
    and the two-process peer) come first and back to back, the peer's first when
    ``peer_first`` (``bench`` alternates it between rounds): the machine's load drifts
    within a round (a shared host, the page cache of the runs before), and the smaller
    the time between two runs, the less of that drift lands on one side of a ratio.
    Then the other runs, accord's and the peer's in the same alternation."""
    judged = [("deployed", variants[0]), ("peer", "2 processes")]
    accord = [("deployed", name) for name in variants[1:]]
    accord.append(("paced deployed", variants[0]))
    peer = [("peer", "1 process"), ("paced peer", "2 processes")]
    if peer_first:
        return [*reversed(judged), *peer, *accord]
    return [*judged, *accord, *peer]


async def run_once(
    conn: KafkaConnection,
    directory: Path,
    options: BenchOptions,
    pki: Pki,
    progress: Callable[[str], None] = lambda _: None,
    broker_pid: int | None = None,
    peer_first: bool = False,
) -> Figures:
    """Every figure of one repeat. A fresh namespace (topics, groups, inboxes) each time.

    ``peer_first`` runs the peer's runs before accord's as deployed (``run_order``):
    ``bench`` alternates it between repeats, so a drift in the machine's load favours
    neither side.
    """
    figures: Figures = {"receivers": float(options.receivers)}
    pipeline = Pipeline(
        conn,
        directory / "pipeline",
        receivers=options.receivers,
        pki=pki,
        body_size=options.body_size,
        fetch_wait_ms=options.fetch_wait_ms,
    )
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
        figures.update(
            {
                "raw_msgs_per_s": raw.per_second,
                "raw_p50_ms": raw.p50_ms or 0.0,
                "raw_p99_ms": raw.p99_ms or 0.0,
            }
        )
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
        figures.update(
            await _encrypted(conn, directory / "encrypted", options, pki, progress, broker_pid)
        )
        await _discard(directory / "encrypted")
        figures["ratio_encrypted_signed"] = (
            figures["encrypted_msgs_per_s"] / figures["pipeline_msgs_per_s"]
        )

        # paced: (b) at a fixed rate (the latency target is judged as deployed, below).
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
    await _discard(directory / "pipeline")

    # (b) taken apart: each side alone, in a namespace of its own.
    progress(f"(b) split: publisher alone, then receiver alone, {options.messages} messages")
    publish, receive = await split_rates(
        conn, directory / "split", pki, options.messages, options.body_size, options.fetch_wait_ms
    )
    figures["publish_only_msgs_per_s"] = publish.per_second
    figures["receive_only_msgs_per_s"] = receive.per_second
    await _discard(directory / "split")

    async def as_deployed(
        where: Path,
        count: int,
        plan_of: Callable[[Plan], Plan],
        rate: float | None = None,
        stages: bool = False,
    ) -> DeployedRun:
        # The settings every deployed run of the round shares; each adds its own.
        return await deployed_run(
            conn,
            where,
            pki,
            count,
            body_size=options.body_size,
            warmup=options.warmup,
            broker_pid=broker_pid,
            fetch_wait_ms=options.fetch_wait_ms,
            log_level=options.log_level,
            plan_of=plan_of,
            rate=rate,
            stages=stages,
        )

    async def deployed(name: str, n: int) -> None:
        # (b) as deployed: the receiving node in a process of its own; CPU per process.
        progress(
            f"(b) deployed, {name}: receiving node as its own process, {options.messages} messages"
        )
        run = await as_deployed(
            directory / f"deployed-{name}", options.messages, plan_of=VARIANTS[name]
        )
        # The judged variant keeps the plain "deployed_" names; others are prefixed.
        figures.update(run.figures("" if n == 0 else f"{name}_"))
        await _discard(directory / f"deployed-{name}")

    async def paced_deployed() -> None:
        # Paced, as deployed: the latency target is judged here, on the same two
        # processes as the throughput targets (nodes run on machines of their own; in
        # (b) one core carries both sides, so at 500 msgs/s it queues).
        name = options.variants[0]
        progress(f"paced deployed, {name}: {options.rate:g} msgs/s for {options.seconds:g} s")
        paced = await as_deployed(
            directory / "deployed-paced",
            max(1, round(options.rate * options.seconds)),
            plan_of=VARIANTS[name],
            rate=options.rate,
            stages=True,
        )
        paced_figures = paced.figures()
        await _discard(directory / "deployed-paced")
        for key in ("msgs_per_s", "p50_ms", "p99_ms", "messages", "landed"):
            figures[f"paced_deployed_{key}"] = paced_figures[f"deployed_{key}"]
        # What the latency target's tail is made of: the node's commits that waited on
        # the disk, and the latency of the messages none of them held up.
        stalls = commit_stalls(paced.stages)
        for key in ("slow_commits", "longest_ms", "share_waited", "p99_others_ms"):
            figures[f"paced_deployed_{key}"] = float(stalls[key])

    async def peer(processes: Literal[1, 2]) -> None:
        from accord.bench.peer import peer_run

        progress(f"peer (FastStream), {processes} process(es), {options.messages} messages")
        run = await peer_run(
            conn.bootstrap_servers,
            directory / f"peer{processes}",
            options.messages,
            processes=processes,
            body_size=options.body_size,
            warmup=options.warmup,
            fetch_wait_ms=options.fetch_wait_ms,
            broker_pid=broker_pid,
            subscriber_heap=options.peer_heap,
        )
        figures.update(run.figures(f"peer{processes}"))
        await _discard(directory / f"peer{processes}")

    async def paced_peer() -> None:
        # Paced, two processes: the latency target's run for the peer, so that the
        # figure says what this machine allows a simpler pipeline at the same rate.
        from accord.bench.peer import peer_run

        progress(f"paced peer, two processes: {options.rate:g} msgs/s for {options.seconds:g} s")
        run = await peer_run(
            conn.bootstrap_servers,
            directory / "peer2-paced",
            max(1, round(options.rate * options.seconds)),
            processes=2,
            body_size=options.body_size,
            warmup=options.warmup,
            fetch_wait_ms=options.fetch_wait_ms,
            broker_pid=broker_pid,
            rate=options.rate,
            subscriber_heap=options.peer_heap,
        )
        figures.update(run.figures("paced_peer2"))
        await _discard(directory / "peer2-paced")

    steps: dict[Step, Callable[[], Awaitable[None]]] = {
        **{
            ("deployed", name): functools.partial(deployed, name, n)
            for n, name in enumerate(options.variants)
        },
        ("paced deployed", options.variants[0]): paced_deployed,
        ("peer", "2 processes"): functools.partial(peer, 2),
        ("peer", "1 process"): functools.partial(peer, 1),
        ("paced peer", "2 processes"): paced_peer,
    }
    for step in run_order(options.variants, peer_first=peer_first):
        await steps[step]()

    # (c) the ceiling: bare Ed25519 over an input as large as the signed one.
    progress(f"(c) bare Ed25519, {options.ed25519_loops} signs and verifies")
    sign, verify = await asyncio.to_thread(bare_ed25519, options.ed25519_loops, envelope)
    figures["sign_per_s"] = sign.per_second
    figures["verify_per_s"] = verify.per_second

    figures.update(ratios(figures))
    figures["peak_rss_mib"] = peak_rss_mib()
    return figures


def ratios(f: Figures) -> Figures:
    """accord over the peer, and the per-node rates (msgs/s one busy core carries)."""
    r = {
        "ratio_b_a": f["pipeline_msgs_per_s"] / f["raw_msgs_per_s"],
        "ratio_b_peer1": f["pipeline_msgs_per_s"] / f["peer1_msgs_per_s"],
        "ratio_deployed_peer2": f["deployed_msgs_per_s"] / f["peer2_msgs_per_s"],
        "ratio_cpu_b_peer1": f["pipeline_cpu_us_per_msg_process"]
        / f["peer1_cpu_us_per_msg_process"],
        "ratio_cpu_publisher_peer2": f["cpu_us_per_msg_publisher"]
        / f["peer2_cpu_us_per_msg_publisher"],
        "ratio_cpu_receiver_peer2": f["cpu_us_per_msg_receiver"]
        / f["peer2_cpu_us_per_msg_subscriber"],
        "publisher_msgs_per_core": 1e6 / f["cpu_us_per_msg_publisher"],
        "receiver_msgs_per_core": 1e6 / f["cpu_us_per_msg_receiver"],
        "peer_publisher_msgs_per_core": 1e6 / f["peer2_cpu_us_per_msg_publisher"],
        "peer_subscriber_msgs_per_core": 1e6 / f["peer2_cpu_us_per_msg_subscriber"],
    }
    # The broker's CPU is read from /proc in clock ticks (10 ms): a short run (the smoke
    # test's 300 messages at about 12 µs each) can read none, and then has no ratio.
    if f.get("cpu_us_per_msg_broker") is not None and f.get("peer2_cpu_us_per_msg_broker"):
        r["ratio_cpu_broker_peer2"] = f["cpu_us_per_msg_broker"] / f["peer2_cpu_us_per_msg_broker"]
    return r


async def encryption_figures(
    conn: KafkaConnection,
    directory: Path,
    pki: Pki,
    *,
    messages: int = 500,
    warmup: int = 100,
    progress: Callable[[str], None] = lambda _: None,
) -> Figures:
    """(b) signed-only, then (b) signed + encrypted, on the same broker and in this
    process, each in a namespace of its own: the figures of
    ``accord.cli.bench.encryption_line`` (what the demo prints), without the rest of
    the bench."""
    options = BenchOptions(messages=messages, warmup=warmup)
    pipeline = Pipeline(conn, directory / "signed", pki=pki)
    await pipeline.start()
    try:
        figures: Figures = {"envelope_bytes": float(pipeline.envelope_size())}
        if warmup:
            await pipeline.run(warmup)
        progress(f"(b) signed pipeline, {messages} messages")
        cpu0 = time.process_time()
        run = await pipeline.run(messages)
        figures.update(_pipeline_figures("pipeline", run))
        figures["pipeline_cpu_us_per_msg_process"] = (time.process_time() - cpu0) / run.count * 1e6
    finally:
        await pipeline.stop()
    figures.update(await _encrypted(conn, directory / "encrypted", options, pki, progress, None))
    figures["ratio_encrypted_signed"] = (
        figures["encrypted_msgs_per_s"] / figures["pipeline_msgs_per_s"]
    )
    return figures


async def _encrypted(
    conn: KafkaConnection,
    directory: Path,
    options: BenchOptions,
    pki: Pki,
    progress: Callable[[str], None],
    broker_pid: int | None,
) -> Figures:
    """(b) again with envelope v2 (signed + encrypted), in a namespace of its own."""
    pipeline = Pipeline(
        conn,
        directory,
        receivers=options.receivers,
        pki=pki,
        body_size=options.body_size,
        fetch_wait_ms=options.fetch_wait_ms,
        encrypted=True,
    )
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
    """Each figure's median over the runs; the ratios are then taken of the medians
    (a median of ratios would pair figures from different rounds inconsistently)."""
    # A figure some round lacks (a broker ratio where the peer's broker read no tick)
    # has no median; the ratios are taken again below from the medians that exist.
    keys = [key for key in runs[0] if all(key in r for r in runs[1:])]
    figures = {key: median([r[key] for r in runs]) for key in keys}
    figures.update(ratios(figures))
    return figures


def targets(figures: Figures) -> dict[str, bool]:
    return {t.key: t.met(figures) for t in TARGETS}


async def bench(
    options: BenchOptions, progress: Callable[[str], None] = lambda _: None
) -> list[Figures]:
    """Start a plain LocalBroker in a temp dir (unless ``bootstrap``), run ``repeat`` times."""
    async with bench_site(
        "accord-bench-",
        bootstrap=options.bootstrap,
        broker_pid=options.broker_pid,
        progress=progress,
    ) as site:
        runs = []
        for i in range(options.repeat):
            progress(f"repeat {i + 1}/{options.repeat}")
            runs.append(
                await run_once(
                    site.connection,
                    site.directory / f"run{i}",
                    options,
                    site.pki,
                    progress,
                    broker_pid=site.broker_pid,
                    peer_first=i % 2 == 1,
                )
            )
        return runs
