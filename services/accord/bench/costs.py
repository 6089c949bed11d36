"""The publisher's avoidable costs (issue 16, item 2), each timed before and after.

    python -m accord.bench.costs                 # 5000 messages, median of 3 rounds
    python -m accord.bench.costs --messages 20000 --rounds 5

Each row times, in this process and in the same run, the way the publisher used to
do one step per message ("before") against the way it does it now ("after"), as CPU
µs per message (``time.process_time``; other work on the machine moves wall time
more than CPU time). The last rows time the whole publisher, ``Publisher.publish_many``
into an in-memory producer that acknowledges at once (no broker: what is left is the
publisher's own CPU), per-message and batched signing, batched without the signed
``published`` announcements (the difference is what announcing costs), and batched
with one ``Publisher.publish`` a message, as calls through the node's API arrive.

"before" is reproduced from the calls the earlier publisher made (the statements,
the envelope parse, the validated header, the task, lock and shielded wait per
message, the INFO line through the lazy logger proxy), not by running old code.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from accord.bench.pipeline import AREA, SCOPE, SENDER, bench_body, bench_label, bench_plan
from accord.bench.sink import AckingProducer
from accord.config import KafkaConnection
from accord.envelope import Header, envelope_payload_sha256, new_message_id, seal
from accord.envelope.batch import sign_batch
from accord.envelope.jws import Unsigned, payload_bytes, sign_record, unsigned
from accord.labels import check_label
from accord.observability.logs import configure_logging, get_logger
from accord.observability.trace import TraceContext, bound
from accord.plan import Plan
from accord.publisher import Publisher
from accord.publisher.service import BATCH_MAX
from accord.publisher.state import PublisherState
from accord.receipts.build import acknowledgement, group_for_receipts, receipt_group
from accord.trust import Signer
from accord.trust.pki import provision


@dataclass(frozen=True)
class Cost:
    name: str
    before_us: float
    after_us: float


def _cpu_us(run: Callable[[], object], n: int) -> float:
    gc.collect()
    start = time.process_time()
    run()
    return (time.process_time() - start) / n * 1e6


class Fixture:
    """``n`` sealed and unsigned messages of the bench's sender, its key and state files."""

    def __init__(self, directory: Path, n: int) -> None:
        self.n = n
        self.directory = directory
        plan = bench_plan()
        self.plan: Plan = plan
        self.signer: Signer = provision(directory / "pki", [SENDER]).signer(SENDER)
        self.label = bench_label()
        self.body = bench_body(0)
        self.topic = plan.exchange_topic(SCOPE, AREA)
        self.headers = [self.header(i) for i in range(n)]
        self.envelopes = [seal(h, self.label, self.body, self.signer) for h in self.headers]
        self.unsigned: list[Unsigned] = [
            unsigned(h, self.label, self.body, self.signer) for h in self.headers
        ]
        self.payloads = [payload_bytes(h, self.label, self.body) for h in self.headers]
        self._dbs = 0

    def header(self, sequence: int) -> Header:
        return Header.create(
            self.body.TYPE,
            sender=SENDER,
            scope=SCOPE,
            area=AREA,
            sequence=sequence,
            namespace=self.plan.namespace,
        )

    def state(self) -> PublisherState:
        self._dbs += 1
        return PublisherState(self.directory / f"state{self._dbs}.sqlite")


def state_cost(f: Fixture) -> Cost:
    """Sequence and sent log: four autocommit statements per message (peek, take,
    record_sent, acknowledged) against a peek per message and two transactions per
    batch."""
    rows = [(str(h.message_id), h.topic, e) for h, e in zip(f.headers, f.envelopes, strict=True)]

    def before() -> None:
        state = f.state()
        for i, (mid, topic, envelope) in enumerate(rows):
            sequence = state.peek_sequence(topic)
            state.take_sequence(topic, sequence)
            state.record_sent(mid, topic, envelope)
            state.acknowledged(mid, partition=0, offset=i)
        state.close()

    def after() -> None:
        state = f.state()
        for start in range(0, len(rows), BATCH_MAX):
            batch = rows[start : start + BATCH_MAX]
            for _ in batch:
                state.peek_sequence(f.topic)  # each number still reads the database's
            state.record_batch({f.topic: (start + 1, start + len(batch))}, {}, batch)
            state.acknowledged_many([(0, start + i, mid) for i, (mid, _, _) in enumerate(batch)])
        state.close()

    return Cost("sequence + sent log (SQLite)", _cpu_us(before, f.n), _cpu_us(after, f.n))


def digest_cost(f: Fixture) -> Cost:
    """The announcement's payload digest: parsing the sealed envelope against hashing
    the payload bytes where ``unsigned`` has them, before it encodes them
    (``Unsigned.payload_sha256``, carried with the record)."""
    return Cost(
        "announcement payload digest",
        _cpu_us(lambda: [envelope_payload_sha256(e) for e in f.envelopes], f.n),
        _cpu_us(lambda: [hashlib.sha256(p).hexdigest() for p in f.payloads], f.n),
    )


def signing_cost(f: Fixture) -> Cost:
    """Ed25519 per record against one per batch of ``BATCH_MAX`` (a Merkle tree over
    the records' signing inputs and an inclusion proof each: SPEC 12)."""

    def after() -> None:
        for start in range(0, f.n, BATCH_MAX):
            sign_batch(f.signer, f.unsigned[start : start + BATCH_MAX])

    return Cost(
        "signature (per record -> per batch)",
        _cpu_us(lambda: [sign_record(f.signer, u) for u in f.unsigned], f.n),
        _cpu_us(after, f.n),
    )


def header_cost(f: Fixture) -> Cost:
    """``Header.create`` (derives the topic again) against validating the header with
    the plan's topic."""
    namespace = f.plan.namespace

    def before() -> None:
        for i in range(f.n):
            Header.create(
                f.body.TYPE, sender=SENDER, scope=SCOPE, area=AREA, sequence=i, namespace=namespace
            )

    def after() -> None:
        for i in range(f.n):
            Header.model_validate(
                {
                    "message_id": new_message_id(),
                    "type": f.body.TYPE,
                    "sender": SENDER,
                    "issued_at": datetime.now(UTC),
                    "scope": SCOPE,
                    "area": AREA,
                    "topic": f.topic,
                    "sequence": i,
                    "correlation_id": None,
                    "causation_id": None,
                }
            )

    return Cost("header built (Header.create)", _cpu_us(before, f.n), _cpu_us(after, f.n))


def label_cost(f: Fixture) -> Cost:
    """``check_label`` in the publisher and again in the seal, against once."""

    def check(times: int) -> None:
        for _ in range(f.n * times):
            check_label(f.label, SCOPE, sender=SENDER)

    return Cost("label check", _cpu_us(lambda: check(2), f.n), _cpu_us(lambda: check(1), f.n))


def asyncio_cost(f: Fixture) -> Cost:
    """Per message a task, a lock and a shielded wait_for, against one queue entry per
    message and one wait per batch (the batcher's shape)."""
    sink = AckingProducer()

    async def before() -> None:
        lock = asyncio.Lock()

        async def one() -> None:
            async with lock:
                queued = await sink.send("t", value=b"")
            await asyncio.wait_for(asyncio.shield(queued), timeout=120)

        await asyncio.gather(*(asyncio.create_task(one()) for _ in range(f.n)))

    async def after() -> None:
        lock = asyncio.Lock()
        for start in range(0, f.n, BATCH_MAX):
            futures = []
            async with lock:
                for _ in range(min(BATCH_MAX, f.n - start)):
                    futures.append(await sink.send("t", value=b""))
            await asyncio.wait(futures, timeout=120)

    return Cost(
        "asyncio per send",
        _cpu_us(lambda: asyncio.run(before()), f.n),
        _cpu_us(lambda: asyncio.run(after()), f.n),
    )


def log_cost(f: Fixture) -> Cost:
    """The per-message event at INFO through the lazy module proxy (re-bound on every
    call, one JSON line each), against DEBUG on a logger bound once, at INFO."""
    sink = io.StringIO()
    configure_logging("INFO", json=True, stream=sink)
    fields = {
        "message_id": str(f.headers[0].message_id),
        "sender": SENDER,
        "topic": f.topic,
        "partition": 0,
        "offset": 1,
        "sequence": 1,
        "type": f.body.TYPE,
    }
    proxy = get_logger("accord.publisher.service")
    bound = proxy.bind()
    try:
        before = _cpu_us(
            lambda: [proxy.info("publisher.published", **fields) for _ in range(f.n)], f.n
        )
        after = _cpu_us(
            lambda: [bound.debug("publisher.published", **fields) for _ in range(f.n)], f.n
        )
    finally:
        configure_logging("WARNING", stream=sys.stderr)
    return Cost("published event (INFO line -> DEBUG)", before, after)


def trace_cost(f: Fixture) -> Cost:
    """The trace bound around each ``publish()`` (and handover, and API request): its
    fields as structlog context variables, against the one context variable that
    ``merge_trace`` reads as an event is logged."""
    trace = TraceContext.new()

    def before() -> None:
        for _ in range(f.n):
            with bound(trace), structlog.contextvars.bound_contextvars(**trace.log_fields()):
                pass

    def after() -> None:
        for _ in range(f.n):
            with bound(trace):
                pass

    return Cost("trace bound per publish()", _cpu_us(before, f.n), _cpu_us(after, f.n))


def publisher_cost(
    f: Fixture, signing: str, *, announce: bool = True, one_by_one: bool = False
) -> float:
    """``Publisher.publish_many`` into an acknowledging in-memory producer, µs/message.

    ``announce=False``: without the signed ``published`` announcements, to show what
    they cost (a plan's publishers announce; the bench's peer has no such duty).
    ``one_by_one``: one ``Publisher.publish`` per message instead, 512 at a time, as
    an agency system's calls through the node's API arrive (and the bench's paced
    runs publish)."""
    plan = f.plan.model_copy(
        update={
            "scopes": {
                s: sp.model_copy(update={"signing": signing}) for s, sp in f.plan.scopes.items()
            }
        }
    )

    async def run() -> float:
        publisher = Publisher(
            agency=SENDER,
            connection=KafkaConnection(),
            plan=plan,
            signer=f.signer,
            state_path=f.directory / f"publisher-{signing}-{time.monotonic_ns()}.sqlite",
            producer=AckingProducer(),
            announce=announce,
        )
        async with publisher:
            bodies = [f.body] * 512

            async def publish() -> None:
                if one_by_one:
                    await asyncio.gather(
                        *(
                            publisher.publish(body, scope=SCOPE, area=AREA, label=f.label)
                            for body in bodies
                        )
                    )
                else:
                    await publisher.publish_many(bodies, scope=SCOPE, area=AREA, label=f.label)

            await publish()  # warm
            gc.collect()
            start = time.process_time()
            for _ in range(0, f.n, 512):
                await publish()
            return (time.process_time() - start) / (512 * -(-f.n // 512)) * 1e6

    return asyncio.run(run())


def acknowledgement_cost(f: Fixture) -> Cost:
    """A receipt's acknowledgements (an announcement's, as a receiver's): one validated
    model each, against each receipt group's list validated in one call
    (``group_for_receipts``), ``BATCH_MAX`` messages a receipt."""
    items = [(h, hashlib.sha256(p).hexdigest()) for h, p in zip(f.headers, f.payloads, strict=True)]
    batches = [items[start : start + BATCH_MAX] for start in range(0, f.n, BATCH_MAX)]

    def before() -> None:
        for batch in batches:
            groups: dict[object, list[object]] = {}
            for header, digest in batch:
                groups.setdefault(receipt_group(header), []).append(acknowledgement(header, digest))

    def after() -> None:
        for batch in batches:
            group_for_receipts(batch)

    return Cost("acknowledgements (one call a receipt)", _cpu_us(before, f.n), _cpu_us(after, f.n))


def measure(n: int, rounds: int) -> tuple[list[Cost], dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="accord-costs-") as tmp:
        f = Fixture(Path(tmp), n)
        steps = (
            state_cost,
            digest_cost,
            header_cost,
            label_cost,
            asyncio_cost,
            log_cost,
            trace_cost,
            acknowledgement_cost,
            signing_cost,
        )
        per_round = [[step(f) for step in steps] for _ in range(rounds)]
        costs = [
            Cost(
                row[0].name,
                statistics.median(c.before_us for c in row),
                statistics.median(c.after_us for c in row),
            )
            for row in zip(*per_round, strict=True)
        ]
        whole = {
            signing: statistics.median(publisher_cost(f, signing) for _ in range(rounds))
            for signing in ("per-message", "batched")
        }
        whole["batched, no announcements"] = statistics.median(
            publisher_cost(f, "batched", announce=False) for _ in range(rounds)
        )
        whole["batched, one publish() a message"] = statistics.median(
            publisher_cost(f, "batched", one_by_one=True) for _ in range(rounds)
        )
    return costs, whole


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m accord.bench.costs", description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    # Log lines to stderr, at WARNING as the rows after log_cost run: stdout carries
    # only the figures (--json is read by programs).
    configure_logging("WARNING", stream=sys.stderr)
    costs, whole = measure(args.messages, args.rounds)
    if args.json:
        print(json.dumps({"costs": [c.__dict__ for c in costs], "publisher_us": whole}))
        return 0
    print(
        f"publisher costs, CPU µs per message: {args.messages} messages, median of "
        f"{args.rounds} rounds, Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    print()
    print(f"{'':40}{'before':>10}{'after':>10}{'saved':>10}")
    for c in costs:
        print(f"{c.name:40}{c.before_us:10.1f}{c.after_us:10.1f}{c.before_us - c.after_us:10.1f}")
    saved = sum(c.before_us - c.after_us for c in costs)
    print(f"{'total saved':40}{'':20}{saved:10.1f}")
    print()
    print("whole publisher into an in-memory producer (no broker), publish_many unless said:")
    for signing, us in whole.items():
        print(f"  signing: {signing:28}{us:10.1f} µs per message")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
