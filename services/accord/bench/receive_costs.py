"""What the receiver spends per message, stage by stage, without a broker.

    python -m accord.bench.receive_costs                 # 2000 msgs, batches of 100, 5 rounds
    python -m accord.bench.receive_costs --log-level WARNING --json

Pre-signed records (the bench's 1 KiB bilateral counter-terrorism report from AUS.AFP,
with the routing and ``traceparent`` headers a publisher sends; one signature per 256
records, the plan's default, or per record with ``--signing per-message``) are fed to JPN.MOFA's
receive path in process; each stage is timed in CPU time (``time.process_time``) and
reported in µs per message, the median of ``--repeat`` rounds:

- verify: ``verify_sealed`` per record with a root cache, as the receiver calls it
  (size, shape, signature or inclusion proof, chain, payload, label, topic);
- assess: ``receiver.assess`` per record (verify, mirrored headers, entitlement,
  label against this node);
- step: ``receiver.step`` per batch against an empty inbox (its reads included);
- step + land: the step, then ``Inbox.land`` (one ``synchronous=FULL`` transaction
  per batch);
- receiver, no receipts: the node's own loop, ``Receiver.run``, over an in-memory
  consumer and producer, with ``send_receipts`` off: step, landing, offset commits,
  log lines at ``--log-level`` (JSON, to /dev/null), traces and metrics;
- receiver: the same loop as deployed, signed receipts and the receipt outbox too.

Each row's difference from the row above is what one more duty costs: the node's
own checks (assess), dedupe and sequence tracking (step), the inbox transaction
(land), the loop around them, then receipts.

The collector runs as in a node process (``--heap node``, the default): once the
material is made, the heap is frozen and the young generation's threshold raised,
as ``accord receive`` does once started (``accord.node.heap``); ``--heap frozen``
only freezes it (the threshold stays Python's); ``--heap default`` leaves Python's
collector as it is. The time the collector spent during the
"receiver" rows is printed too (gc callbacks).

The last row is what a receiving node's CPU does per message minus aiokafka's fetch
and the broker round trips (``accord bench`` measures those, on a real broker);
"per busy core" is 10⁶ over it. Other work on the machine inflates every figure, so
compare rows of one run, and runs on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord, TopicPartition

from accord.bench.pipeline import (
    AREA,
    RECEIVERS,
    SCOPE,
    SENDER,
    bench_body,
    bench_label,
    bench_plan,
)
from accord.bench.sink import AckingProducer
from accord.config import KafkaConnection, ReceiverSettings
from accord.envelope import Header
from accord.envelope.batch import RootCache, sign_batch
from accord.envelope.jws import Unsigned, sign_record, unsigned
from accord.envelope.v2 import verify_sealed
from accord.node.heap import tune_node_heap
from accord.observability.logs import configure_logging
from accord.observability.trace import TraceContext, headers_with_trace
from accord.parties import country_of
from accord.plan import Plan
from accord.publisher import routing_headers
from accord.publisher.service import BATCH_MAX
from accord.receiver import Inbox, Receiver
from accord.receiver.assess import assess
from accord.receiver.step import Context, step
from accord.trust.pki import Pki, provision

NODE = RECEIVERS[0]
STAGES = ("verify", "assess", "step", "step + land", "receiver, no receipts", "receiver")


class MemoryConsumer:
    """aiokafka's consumer surface the receiver uses, handing out pre-built batches.

    When the batches run out it calls ``drained`` (the harness stops the node)."""

    def __init__(
        self, batches: list[dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]]
    ) -> None:
        self._batches = list(batches)
        self.drained: Callable[[], None] = lambda: None
        self.committed = 0

    def subscribe(self, topics: Sequence[str], listener: Any = None) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def getmany(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        if not self._batches:
            self.drained()
            await asyncio.sleep(0)
            return {}
        return self._batches.pop(0)

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.committed += 1

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    def assignment(self) -> set[TopicPartition]:
        return set()


@dataclass
class Material:
    plan: Plan
    pki: Pki
    records: list[ConsumerRecord[bytes, bytes]]
    envelope_bytes: int
    directory: Path

    def batches(self, size: int) -> list[dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]]:
        out = []
        for i in range(0, len(self.records), size):
            chunk = self.records[i : i + size]
            tp = TopicPartition(chunk[0].topic, chunk[0].partition)
            out.append({tp: chunk})
        return out


def prepare(
    messages: int, body_size: int, directory: Path, *, signing: str = "batched"
) -> Material:
    """A PKI, the bench plan, and ``messages`` signed records on one partition: in
    batches of the publisher's ``BATCH_MAX`` under one signature each (the plan's
    default), or one signature per record (``signing="per-message"``)."""
    plan = bench_plan()
    pki = provision(directory / "pki", plan.agencies)
    signer = pki.signer(SENDER)
    label = bench_label()
    headers_of: list[Header] = []
    items: list[Unsigned] = []
    for i in range(messages):
        body = bench_body(i, body_size)
        header = Header.create(
            body.TYPE,
            sender=SENDER,
            scope=SCOPE,
            area=AREA,
            sequence=i + 1,
            namespace=plan.namespace,
        )
        headers_of.append(header)
        items.append(unsigned(header, label, body, signer))
    if signing == "batched":
        values = [
            record
            for i in range(0, len(items), BATCH_MAX)
            for record in sign_batch(signer, items[i : i + BATCH_MAX])
        ]
    else:
        values = [sign_record(signer, item) for item in items]
    records: list[ConsumerRecord[bytes, bytes]] = []
    for i, (header, value) in enumerate(zip(headers_of, values, strict=True)):
        headers = headers_with_trace(routing_headers(header), TraceContext.new())
        records.append(
            ConsumerRecord(
                topic=header.topic,
                partition=0,
                offset=i,
                timestamp=0,
                timestamp_type=0,
                key=SENDER.encode(),
                value=value,
                checksum=None,
                serialized_key_size=len(SENDER),
                serialized_value_size=len(value),
                headers=tuple(headers),
            )
        )
    return Material(plan, pki, records, len(records[0].value or b""), directory)


def step_context(m: Material) -> Context:
    # A root cache of its own, as the receiver keeps one (one verify per batch root).
    return Context(
        trust=m.pki.trust_store(),
        plan=m.plan,
        country=country_of(NODE),
        max_bytes=1_048_576,
        roots=RootCache(),
    )


def _cpu(run: Callable[[], None]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def stage_verify(m: Material) -> float:
    # With a root cache, as the receiver verifies (one Ed25519 verify per batch).
    trust, now, roots = m.pki.trust_store(), datetime.now(UTC), RootCache()

    def run() -> None:
        for r in m.records:
            verify_sealed(r.value or b"", trust, topic=r.topic, now=now, roots=roots)

    return _cpu(run)


def stage_assess(m: Material) -> float:
    c, now, roots = step_context(m), datetime.now(UTC), RootCache()

    def run() -> None:
        for r in m.records:
            assess(
                r.value,
                topic=r.topic,
                kafka_headers=r.headers,
                trust=c.trust,
                plan=c.plan,
                country=c.country,
                now=now,
                max_bytes=c.max_bytes,
                roots=roots,
            )

    return _cpu(run)


def stage_step(m: Material, batch: int, *, land: bool, round_: int) -> float:
    c = step_context(m)
    inbox = Inbox(m.directory / f"step-{land}-{round_}.db")
    batches = m.batches(batch)
    try:

        def run() -> None:
            for b in batches:
                out = step(b.values(), inbox, c, now=datetime.now(UTC))
                if land:
                    inbox.land(out.deliveries, out.offsets, out.status_changes)

        return _cpu(run)
    finally:
        inbox.close()


class CollectorTime:
    """What the cyclic collector took while registered: collections, CPU seconds, and
    the longest one (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.collections = 0
        self.seconds = 0.0
        self.longest = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.process_time()
            return
        took = time.process_time() - self._began
        self.collections += 1
        self.seconds += took
        self.longest = max(self.longest, took)

    @contextlib.contextmanager
    def counting(self) -> Iterator[CollectorTime]:
        gc.callbacks.append(self)
        try:
            yield self
        finally:
            gc.callbacks.remove(self)


@contextlib.contextmanager
def node_heap(mode: str) -> Iterator[None]:
    """The collector as a node process runs it (``node``: ``tune_node_heap``), with
    the heap frozen only (``frozen``), or as Python's default (``default``); given
    back as it was afterwards."""
    if mode == "default":
        yield
        return
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    if mode == "frozen":
        gc.collect()
        gc.freeze()
    else:
        tune_node_heap()
    try:
        yield
    finally:
        if not frozen:  # else what its caller froze stays frozen, with the rest
            gc.unfreeze()
        gc.set_threshold(*thresholds)


def stage_receiver(m: Material, batch: int, *, round_: int, receipts: bool = True) -> float:
    consumer = MemoryConsumer(m.batches(batch))
    receiver = Receiver(
        agency=NODE,
        connection=KafkaConnection(bootstrap_servers="127.0.0.1:9"),  # never dialled
        plan=m.plan,
        trust=m.pki.trust_store(),
        signer=m.pki.signer(NODE),
        inbox_path=m.directory / f"receiver-{round_}-{receipts}.db",
        settings=ReceiverSettings(follow_trust=False, batch_max=batch, send_receipts=receipts),
        consumer_factory=lambda *_a, **_k: consumer,
        producer_factory=lambda *_a, **_k: AckingProducer(),
    )
    consumer.drained = receiver.request_stop

    async def run() -> float:
        await receiver.start()
        start = time.process_time()
        try:
            await receiver.run()
        finally:
            await receiver.stop()
        spent = time.process_time() - start
        if receiver.stats.delivered != len(m.records):
            raise RuntimeError(f"delivered {receiver.stats.delivered} of {len(m.records)}")
        return spent

    return asyncio.run(run())


@dataclass
class Figures:
    messages: int
    batch: int
    envelope_bytes: int
    log_level: str
    signing: str
    heap: str = "node"
    rounds: dict[str, list[float]] = field(default_factory=dict)
    """µs per message of each stage, one entry per round."""
    collector: CollectorTime = field(default_factory=CollectorTime)
    """The collector during the "receiver" rows, all rounds."""

    def median(self, stage: str) -> float:
        return statistics.median(self.rounds[stage])

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "batch": self.batch,
            "envelope_bytes": self.envelope_bytes,
            "log_level": self.log_level,
            "signing": self.signing,
            "heap": self.heap,
            "us_per_message": {s: round(self.median(s), 1) for s in self.rounds},
            "rounds": {s: [round(v, 1) for v in vs] for s, vs in self.rounds.items()},
            "receiver_msgs_per_core": round(1e6 / self.median("receiver")),
            "collector": {
                "collections": self.collector.collections,
                "us_per_message": round(self.collector_us(), 2),
                "longest_ms": round(self.collector.longest * 1e3, 2),
            },
        }

    def collector_us(self) -> float:
        """The collector's CPU µs per message during the "receiver" rows."""
        return self.collector.seconds * 1e6 / (self.messages * len(self.rounds["receiver"]))


def measure(
    messages: int,
    batch: int,
    repeat: int,
    body_size: int,
    log_level: str,
    directory: Path,
    signing: str = "batched",
    heap: str = "node",
) -> Figures:
    with open(os.devnull, "w") as sink:
        # As a deployed node logs: JSON lines, here to /dev/null (rendering and the
        # write are counted, the terminal is not).
        configure_logging(log_level, json=True, stream=sink)
        m = prepare(messages, body_size, directory, signing=signing)
        figures = Figures(messages, batch, m.envelope_bytes, log_level.upper(), signing, heap)
        per = 1e6 / messages
        with node_heap(heap):
            for r in range(repeat):
                timings = {
                    "verify": stage_verify(m),
                    "assess": stage_assess(m),
                    "step": stage_step(m, batch, land=False, round_=r),
                    "step + land": stage_step(m, batch, land=True, round_=r),
                    "receiver, no receipts": stage_receiver(m, batch, round_=r, receipts=False),
                }
                with figures.collector.counting():
                    timings["receiver"] = stage_receiver(m, batch, round_=r)
                for stage, seconds in timings.items():
                    figures.rounds.setdefault(stage, []).append(seconds * per)
        configure_logging("WARNING", stream=sys.stderr)
    return figures


def render(f: Figures) -> str:
    lines = [
        f"receive costs: {f.messages} msgs in batches of {f.batch}, envelope "
        f"{f.envelope_bytes} B, signed {f.signing}, log level {f.log_level}, heap "
        f"{f.heap}, median of {len(f.rounds['receiver'])} rounds (CPU µs per message)",
        "",
    ]
    for stage in STAGES:
        rounds = " ".join(f"{v:.0f}" for v in f.rounds[stage])
        lines.append(f"  {stage:<21} {f.median(stage):8.1f}    rounds: {rounds}")
    lines.append("")
    lines.append(f"receiver, msgs/s per busy core: {1e6 / f.median('receiver'):.0f}")
    c = f.collector
    lines.append(
        f"collector in the receiver rows: {c.collections} collections, "
        f"{f.collector_us():.2f} µs a message, the longest {c.longest * 1e3:.2f} ms"
    )
    load = os.getloadavg()[0]
    lines.append(f"load average {load:.1f} at the end, {os.cpu_count()} cores")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accord.bench.receive_costs", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100, help="records per poll")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--body-size", type=int, default=1024)
    parser.add_argument("--log-level", default="INFO", help="the node's (default INFO)")
    parser.add_argument(
        "--signing",
        choices=("batched", "per-message"),
        default="batched",
        help="one signature per batch of 256 (the plan's default) or per record",
    )
    parser.add_argument(
        "--heap",
        choices=("node", "frozen", "default"),
        default="node",
        help="the collector as a node process tunes it (accord.node.heap), the heap "
        "frozen only, or Python's default",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="accord-receive-costs-") as tmp:
        figures = measure(
            args.messages,
            args.batch,
            args.repeat,
            args.body_size,
            args.log_level,
            Path(tmp),
            args.signing,
            args.heap,
        )
    print(json.dumps(figures.as_dict()) if args.json else render(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
