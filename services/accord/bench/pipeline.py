"""(b) the full signed pipeline, publish to inbox, over a LocalExchange.

    Publisher (label check, sign: one signature per batch as the plan's default
    ``signing: batched`` says, sent log, acks=all send, signed "published"
    announcement) -> Kafka -> Receiver (verify, label, dedupe,
    SQLite inbox + offsets in one transaction, offset commit, signed receipt)

One publishing agency (AUS.AFP, bilateral counter-terrorism) and one or more
receiving agencies, each a real ``Receiver`` in this event loop.

What the latency is: ``Header.issued_at`` (stamped by the publisher when it
numbers the message, before it is queued for its batch's signature) to the
return of ``Inbox.land`` for the batch holding the message, i.e. after its
SQLite transaction (messages + offsets, ``synchronous=FULL``) has committed, but
before the Kafka offset commit, the handler and the receipt. Both ends read the
same wall clock (one process). It is the quantity the receiver's
``accord_end_to_end_latency_seconds`` histogram observes; we wrap ``Inbox.land``
on the receiver's own inbox instance to get exact values rather than histogram
buckets, and report the histogram's share
at or under 50 ms as a cross-check.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accord.areas import Area
from accord.config import FETCH_WAIT_MS, KafkaConnection
from accord.envelope import Header
from accord.exchange import LocalExchange
from accord.labels import Label, scope_label
from accord.models import InformationReport, MessageBody, Priority, Subject
from accord.node.heap import tune_node_heap
from accord.parties import Scope
from accord.plan import Plan, load_plan
from accord.publisher import Publisher
from accord.receiver import Receiver
from accord.receiver.inbox import Delivery, Landing, StatusChange
from accord.trust.pki import Pki

SENDER = "AUS.AFP"
SCOPE = Scope.BILATERAL
AREA = Area.COUNTER_TERRORISM
# Agencies entitled to bilateral counter-terrorism, other than the sender.
RECEIVERS = ("JPN.MOFA", "AUS.DFAT", "JPN.MOD", "AUS.DEFENCE", "JPN.NPA")
IN_FLIGHT = 512
"""Throughput run: sealed messages awaiting the broker's ack at most."""


def bench_plan(base: Plan | None = None, *, encrypted: bool = False) -> Plan:
    """The default plan in a namespace of its own (topics and groups never collide),
    with encryption set explicitly: the signed-only figures stay signed-only whatever
    the deployed plan says."""
    plan = (base or load_plan(None)).with_encryption("required" if encrypted else "off")
    return plan.model_copy(update={"namespace": f"b{uuid.uuid4().hex[:12]}"})


LEGAL_BASIS = "Benchmark message under the originator's laws and regulations."


def bench_label() -> Label:
    return scope_label(SENDER, SCOPE, legal_basis=LEGAL_BASIS)


def bench_body(n: int, size: int = 1024) -> InformationReport:
    """A report whose JSON body is ``size`` bytes (for n < 10**6)."""
    base = InformationReport(
        title=f"Bench {n:06d}",
        priority=Priority.PRIORITY,
        details="x",
        subjects=(Subject.TERRORISM,),
        region="South-East Asia",
        observed_at=datetime.now(UTC),
    )
    pad = max(1, size - len(base.model_dump_json()) + 1)
    return base.model_copy(update={"details": "x" * pad})


def _first_header(namespace: str) -> Header:
    """The header of the bench sender's first report: what the size of a record is
    worked out with."""
    return Header.create(
        InformationReport.TYPE,
        sender=SENDER,
        scope=SCOPE,
        area=AREA,
        sequence=1,
        namespace=namespace,
    )


def envelope_size(pki: Pki, namespace: str, body: InformationReport) -> int:
    """Bytes of one envelope of ``body`` as the bench's publisher sends it (no state
    touched): a record of a full ``CHUNK`` batch under the plan's default batched
    signing (each record carries the signed root and an inclusion proof of
    log2(CHUNK) hashes)."""
    from accord.envelope.batch import sign_batch
    from accord.envelope.jws import unsigned

    signer = pki.signer(SENDER)
    item = unsigned(_first_header(namespace), bench_label(), body, signer)
    return len(sign_batch(signer, [item] * CHUNK)[0])


CHUNK = 256
"""Unpaced runs publish through ``Publisher.publish_many`` this many at a time."""


async def scheduled(start: float, i: int, rate: float) -> None:
    """Sleep until message ``i`` of a run paced at ``rate``/s that began at ``start``
    (``time.perf_counter``) is due: the one pacing of every paced bench run."""
    delay = start + i / rate - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def publish_many(
    publisher: Publisher,
    count: int,
    body: MessageBody,
    label: Label,
    *,
    rate: float | None = None,
) -> None:
    """Publish ``count`` messages of ``body`` (each its own id, sequence and signature
    or inclusion proof), ``IN_FLIGHT`` awaiting acks at most. Unpaced: through
    ``Publisher.publish_many``, ``CHUNK`` at a time, as an application with a backlog
    would; paced at ``rate``/s: one ``Publisher.publish`` per message at its scheduled
    time, as messages arriving one by one. The first error stops the run and is raised."""
    if rate is None:
        chunks = asyncio.Semaphore(max(1, IN_FLIGHT // CHUNK))

        async def chunk(n: int) -> None:
            async with chunks:
                await publisher.publish_many([body] * n, scope=SCOPE, area=AREA, label=label)

        await asyncio.gather(*(chunk(min(CHUNK, count - i)) for i in range(0, count, CHUNK)))
        return
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    tasks: set[asyncio.Task[object]] = set()
    errors: list[BaseException] = []

    def done(task: asyncio.Task[object]) -> None:
        tasks.discard(task)
        in_flight.release()
        if not task.cancelled() and task.exception() is not None:
            errors.append(task.exception())  # type: ignore[arg-type]

    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    for i in range(count):
        await scheduled(start, i, rate)
        await in_flight.acquire()
        task: asyncio.Task[object] = loop.create_task(
            publisher.publish(body, scope=SCOPE, area=AREA, label=label)
        )
        tasks.add(task)
        task.add_done_callback(done)
        if errors:
            break
    if tasks:
        await asyncio.wait(set(tasks))
    if errors:
        raise errors[0]


@dataclass
class LandProbe:
    """Exact issued_at -> inbox-write latencies of one receiver (see module doc)."""

    latencies: list[float] = field(default_factory=list)
    last_landed: float = 0.0
    """``time.perf_counter()`` of the last land that delivered something."""

    def install(self, receiver: Receiver) -> None:
        inbox = receiver.inbox
        land = inbox.land

        def timed(
            deliveries: Iterable[Delivery],
            offsets: dict[tuple[str, int], int],
            status_changes: Iterable[StatusChange] = (),
            **options: Any,
        ) -> Landing:
            batch = list(deliveries)
            landing = land(batch, offsets, status_changes, **options)
            if landing.landed:
                now = datetime.now(UTC)
                self.last_landed = time.perf_counter()
                fresh = set(landing.landed)
                self.latencies.extend(
                    (now - d.issued_at).total_seconds()
                    for d in batch
                    if (d.sender, d.message_id) in fresh
                )
            return landing

        setattr(inbox, "land", timed)  # noqa: B010 - an instance attribute, on purpose

    def reset(self) -> None:
        self.latencies.clear()
        self.last_landed = 0.0


@dataclass(frozen=True)
class PipelineRun:
    """One run of (b): ``count`` messages to each of ``receivers`` agencies."""

    count: int
    receivers: int
    seconds: float
    """First seal to the last inbox write among all receivers."""
    latencies: list[float]
    """Seconds, one per (message, receiver)."""
    delivered: int
    """Deliveries counted by the receivers in this run (count x receivers when complete)."""
    rejected: int
    target_rate: float | None = None

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


class Pipeline:
    """A LocalExchange with one publisher and ``receivers`` receivers, ready to publish."""

    def __init__(
        self,
        connection: KafkaConnection,
        directory: Path,
        *,
        receivers: int = 1,
        pki: Pki | None = None,
        body_size: int = 1024,
        fetch_wait_ms: int = FETCH_WAIT_MS,
        encrypted: bool = False,
    ) -> None:
        """``encrypted``: envelope v2 (issue 14): the scope requires encryption, every
        agency has an encryption key, the publisher encrypts and announces its CWK on
        the trust topic, each receiver follows it and decrypts."""
        if not 1 <= receivers <= len(RECEIVERS):
            raise ValueError(f"receivers must be 1 to {len(RECEIVERS)}")
        plan = bench_plan(encrypted=encrypted)
        self.exchange = LocalExchange(
            plan=plan, connection=connection, directory=directory, pki=pki
        )
        self.encrypted = encrypted
        self.agencies = RECEIVERS[:receivers]
        self.fetch_wait_ms = fetch_wait_ms
        self.probes = {a: LandProbe() for a in self.agencies}
        self.body_size = body_size
        self._label = bench_label()
        # One body for every message (each still gets its own id, sequence and
        # signature): building bodies is the application's cost, not the pipeline's.
        self._body = bench_body(0, body_size)
        self._publisher: Publisher | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self.exchange.apply)
        # On the encrypted plan the exchange gives every agency its keys (receivers
        # follow the trust and key topics, the publisher encrypts).
        for agency in self.agencies:
            receiver = await self.exchange.start_receiver(agency, fetch_wait_ms=self.fetch_wait_ms)
            self.probes[agency].install(receiver)
        self._publisher = await self.exchange.publisher(SENDER)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not all(r.ready for r in self.exchange.receivers.values()):
            if loop.time() > deadline:
                raise TimeoutError("receivers were not assigned their partitions in 60 s")
            await asyncio.sleep(0.05)
        tune_node_heap()  # the collector as in a node process, the exchange started

    async def stop(self) -> None:
        await self.exchange.stop()

    def envelope_size(self) -> int:
        """Bytes of one envelope as this pipeline sends it (``envelope_size``)."""
        assert self._publisher is not None
        return envelope_size(self.exchange.pki, self.exchange.plan.namespace, self._body)

    def record_size(self) -> int:
        """Bytes of one record as this pipeline sends it, v1 or v2 (no state touched;
        batched, as ``envelope_size``)."""
        if not self.encrypted:
            return self.envelope_size()
        from accord.confidentiality import recipient_agencies, resolve_recipients
        from accord.confidentiality.wrap import seal_cwk
        from accord.envelope.batch import sign_batch
        from accord.envelope.v2 import unsigned_encrypted

        signer = self.exchange.pki.signer(SENDER)
        agencies = recipient_agencies(self.exchange.plan, sender=SENDER, scope=SCOPE, area=AREA)
        cwk, _ = seal_cwk(
            signer,
            resolve_recipients(agencies, self.exchange.encryption_keys()[0], now=datetime.now(UTC)),
        )
        header = _first_header(self.exchange.plan.namespace)
        item = unsigned_encrypted(header, self._label, self._body, signer, cwk)
        return len(sign_batch(signer, [item] * CHUNK)[0])

    def _counts(self) -> tuple[int, int]:
        receivers = self.exchange.receivers.values()
        return (
            sum(r.stats.delivered for r in receivers),
            sum(sum(r.stats.rejected.values()) for r in receivers),
        )

    async def run(
        self, count: int, *, rate: float | None = None, within_s: float = 300.0
    ) -> PipelineRun:
        """Publish ``count`` messages (as fast as possible, or paced at ``rate``/s) and
        wait until every receiver has landed all of them."""
        publisher = self._publisher
        assert publisher is not None
        for probe in self.probes.values():
            probe.reset()
        delivered0, rejected0 = self._counts()
        start = time.perf_counter()
        await publish_many(publisher, count, self._body, self._label, rate=rate)
        complete = await self._settle(delivered0, count, within_s)
        last = max(p.last_landed for p in self.probes.values())
        seconds = (last if complete else time.perf_counter()) - start
        delivered, rejected = self._counts()
        return PipelineRun(
            count=count,
            receivers=len(self.agencies),
            seconds=seconds,
            latencies=[x for p in self.probes.values() for x in p.latencies],
            delivered=delivered - delivered0,
            rejected=rejected - rejected0,
            target_rate=rate,
        )

    async def _settle(self, delivered0: int, count: int, within_s: float) -> bool:
        goal = delivered0 + count * len(self.agencies)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while loop.time() < deadline:
            if self._counts()[0] >= goal:
                return True
            await asyncio.sleep(0.01)
        return False

    def histogram_counts(self, seconds: float = 0.05) -> tuple[float, float]:
        """The receivers' own latency histogram, summed over receivers: observations
        at or under ``seconds`` (a bucket bound) and all observations, so far."""
        within = total = 0.0
        name = "accord_end_to_end_latency_seconds"
        for agency, receiver in self.exchange.receivers.items():
            registry = receiver.metrics.registry
            labels = {"agency": agency}
            within += (
                registry.get_sample_value(f"{name}_bucket", {**labels, "le": str(seconds)}) or 0.0
            )
            total += registry.get_sample_value(f"{name}_count", labels) or 0.0
        return within, total
