"""The peer: what a Python developer would write instead of accord, on FastStream.

accord is compared with this, not with a bare Ed25519 loop. The same message as
(b) (a report with a 1 KiB JSON body, with an id, sender, sequence and issue time)
as a pydantic v2 model, and the same protection: each message signed alone as a
general-form JWS (RFC 7515 §7.2.1, EdDSA) with ``cryptography``'s Ed25519.

    publisher:  model -> JSON -> JWS -> FastStream publish (idempotent, acks=all,
                linger 5 ms, 256 KiB batches, at most ``IN_FLIGHT`` awaiting their
                ack, as (b))
    subscriber: FastStream batch subscriber -> per record: parse the JWS, verify,
                validate the payload with the model -> one SQLite transaction per
                batch (WAL, synchronous=FULL) with the rows and the next offsets
                -> commit the offsets

The subscriber's fetch settings are accord's receiver's (imported from it, so they
cannot drift apart). What the peer does not do, and accord does: per-sender
sequences and a sent log, receipts and announcements, certificate chains and CRLs,
labels and entitlements, per-message dedupe, quarantine. That is the point of the
comparison: what the extra guarantees cost.

Bench-only: FastStream comes with the ``bench`` extra (``pip install -e '.[bench]'``).
Run alone, ``python -m accord.bench.peer`` is the subscriber as its own process (the
two-process run starts it this way).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, ConfigDict

from accord.bench.figures import percentile
from accord.bench.node_time import (
    LandingTime,
    NodeTime,
    landing_time,
    load_landing_times,
    save_landing_times,
    split,
    start,
)
from accord.bench.pipeline import IN_FLIGHT, scheduled
from accord.config import FETCH_WAIT_MS
from accord.envelope import MAX_BYTES as MAX_RECORD_BYTES
from accord.kafka.clients import PRODUCE_BATCH_BYTES
from accord.node.heap import HeapMode, tune_node_heap
from accord.node.process import cpu_seconds, stop_process
from accord.receiver.fetch import busy_fetch_bounds

BATCH_MAX = 500
"""Records per poll at most: accord's ``Receiver(batch_max=500)`` default."""
KID = "peer-bench"


# -- the message ---------------------------------------------------------------------


class PeerReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    priority: Literal["routine", "priority", "immediate", "flash"]
    details: str
    subjects: tuple[str, ...]
    region: str
    observed_at: datetime


class PeerMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: uuid.UUID
    sender: str
    sequence: int
    issued_at: datetime
    body: PeerReport


def peer_body(size: int = 1024) -> PeerReport:
    """A report whose JSON is ``size`` bytes, as (b)'s ``bench_body``."""
    base = PeerReport(
        title="Bench 000000",
        priority="priority",
        details="x",
        subjects=("terrorism",),
        region="South-East Asia",
        observed_at=datetime.now(UTC),
    )
    pad = max(1, size - len(base.model_dump_json()) + 1)
    return base.model_copy(update={"details": "x" * pad})


def peer_record_size(body_size: int = 1024) -> int:
    """Bytes of one of the peer's records (its signed JWS) with a body of ``body_size``."""
    message = PeerMessage(
        message_id=uuid.uuid4(),
        sender="AUS.AFP",
        sequence=1,
        issued_at=datetime.now(UTC),
        body=peer_body(body_size),
    )
    signer = JwsSigner(Ed25519PrivateKey.generate())
    return len(signer.sign(message.model_dump_json().encode()))


def peer_body_size_for(record_bytes: int) -> int:
    """The smallest body size whose peer record is at least ``record_bytes`` long."""
    size = 1
    while (short := record_bytes - peer_record_size(size)) > 0:
        size += max(1, short * 3 // 4)  # the body is base64url'd: 3 bytes make 4
    return size


# -- JWS, general JSON serialization, EdDSA ----------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JwsSigner:
    def __init__(self, key: Ed25519PrivateKey, kid: str = KID) -> None:
        self._key = key
        self._protected = _b64(json.dumps({"alg": "EdDSA", "kid": kid}).encode())

    def sign(self, payload: bytes) -> bytes:
        payload_b64 = _b64(payload)
        signature = self._key.sign(f"{self._protected}.{payload_b64}".encode("ascii"))
        return json.dumps(
            {
                "payload": payload_b64,
                "signatures": [{"protected": self._protected, "signature": _b64(signature)}],
            }
        ).encode()


class JwsSignature(BaseModel):
    protected: str
    signature: str


class Jws(BaseModel):
    """A general-form JWS as FastStream hands it over (it decodes the JSON itself)."""

    payload: str
    signatures: list[JwsSignature]


class JwsInvalid(Exception):
    pass


def jws_verify(jws: Jws, keys: dict[str, Ed25519PublicKey]) -> bytes:
    """The payload of a general-form JWS that one of ``keys`` signed with EdDSA."""
    try:
        (sig,) = jws.signatures
        header = json.loads(_unb64(sig.protected))
        if header.get("alg") != "EdDSA":
            raise JwsInvalid("alg")
        keys[header["kid"]].verify(
            _unb64(sig.signature), f"{sig.protected}.{jws.payload}".encode("ascii")
        )
        return _unb64(jws.payload)
    except (ValueError, KeyError, TypeError, InvalidSignature) as exc:
        raise JwsInvalid(str(exc)) from exc


# -- the subscriber's store --------------------------------------------------------------


class PeerStore:
    """Rows and next offsets, one transaction per batch (WAL, synchronous=FULL)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS messages (message_id TEXT PRIMARY KEY, sender TEXT,"
            " sequence INTEGER, issued_at TEXT, received_at TEXT, body TEXT)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS offsets (topic TEXT, partition INTEGER,"
            " next INTEGER, PRIMARY KEY (topic, partition))"
        )

    def land(self, rows: Sequence[PeerMessage], offsets: dict[tuple[str, int], int]) -> None:
        now = datetime.now(UTC).isoformat()
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.executemany(
                "INSERT OR IGNORE INTO messages VALUES (?,?,?,?,?,?)",
                [
                    (
                        str(m.message_id),
                        m.sender,
                        m.sequence,
                        m.issued_at.isoformat(),
                        now,
                        m.body.model_dump_json(),
                    )
                    for m in rows
                ],
            )
            cur.executemany(
                "INSERT INTO offsets VALUES (?,?,?) ON CONFLICT(topic, partition)"
                " DO UPDATE SET next = excluded.next",
                [(t, p, o) for (t, p), o in offsets.items()],
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()


class TimedStore(PeerStore):
    """A ``PeerStore`` that stamps each landing as accord's probed node does
    (``accord.bench.node_time``), so the two receiving loops' time splits compare."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.times: list[LandingTime] = []

    def land(self, rows: Sequence[PeerMessage], offsets: dict[tuple[str, int], int]) -> None:
        began = start()
        super().land(rows, offsets)
        took = landing_time(began)
        if took is not None:
            self.times.append(took)


def count_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
        except sqlite3.OperationalError:  # the subscriber has not created it yet
            return 0


def landing_times(path: Path) -> list[tuple[datetime, datetime]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT issued_at, received_at FROM messages").fetchall()
    return [(datetime.fromisoformat(i), datetime.fromisoformat(r)) for i, r in rows]


# -- FastStream ---------------------------------------------------------------------------


def subscriber_broker(
    bootstrap: str,
    topic: str,
    group: str,
    store: PeerStore,
    keys: dict[str, Ed25519PublicKey],
    fetch_wait_ms: int,
) -> KafkaBroker:
    """A FastStream ``KafkaBroker`` with the batch subscriber registered (not started),
    fetching with accord's busy bounds for ``fetch_wait_ms``."""
    broker = KafkaBroker(bootstrap, logger=None)
    min_bytes, max_wait_ms = busy_fetch_bounds(fetch_wait_ms)

    @broker.subscriber(
        topic,
        group_id=group,
        batch=True,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_records=BATCH_MAX,
        max_partition_fetch_bytes=MAX_RECORD_BYTES * 2,
        fetch_min_bytes=min_bytes,
        fetch_max_wait_ms=max_wait_ms,
    )
    async def handle(body: list[Jws], msg: KafkaMessage) -> None:
        rows = []
        for jws in body:
            try:
                rows.append(PeerMessage.model_validate_json(jws_verify(jws, keys)))
            except (JwsInvalid, ValueError):
                continue  # a real peer would dead-letter it; the bench sends none
        offsets: dict[tuple[str, int], int] = {}
        for record in msg.raw_message:
            offsets[(record.topic, record.partition)] = record.offset + 1
        store.land(rows, offsets)
        await msg.ack()

    return broker


def publisher_broker(bootstrap: str) -> KafkaBroker:
    # accord's producer settings (accord.kafka.new_producer), its batch size included.
    return KafkaBroker(
        bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=PRODUCE_BATCH_BYTES,
        logger=None,
    )


async def publish(
    broker: Any,
    topic: str,
    signer: JwsSigner,
    count: int,
    body: PeerReport,
    first_sequence: int = 1,
    *,
    rate: float | None = None,
) -> None:
    """Model, sign and publish ``count`` messages, ``IN_FLIGHT`` awaiting acks at most;
    paced at ``rate``/s, each at its scheduled time (as accord's paced run publishes)."""
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    pending: set[asyncio.Future[Any]] = set()

    def done(future: asyncio.Future[Any]) -> None:
        pending.discard(future)
        in_flight.release()

    start = time.perf_counter()
    for i, n in enumerate(range(first_sequence, first_sequence + count)):
        if rate is not None:
            await scheduled(start, i, rate)
        await in_flight.acquire()
        message = PeerMessage(
            message_id=uuid.uuid4(),
            sender="AUS.AFP",
            sequence=n,
            issued_at=datetime.now(UTC),
            body=body,
        )
        future = await broker.publish(
            signer.sign(message.model_dump_json().encode()), topic, no_confirm=True
        )
        pending.add(future)
        future.add_done_callback(done)
    while pending:
        await asyncio.gather(*pending)


# -- runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerRun:
    processes: int
    count: int
    seconds: float
    latencies: list[float]
    cpu_publisher_s: float
    cpu_subscriber_s: float | None
    """None in the one-process run (both sides are ``cpu_publisher_s``)."""
    cpu_broker_s: float | None
    node_time: NodeTime | None = None
    """Where the subscriber's loop spent the timed landings' wall time (two-process run;
    ``accord.bench.node_time``)."""

    def cpu_us_per_message(self) -> dict[str, float]:
        """Each measured process's CPU µs per message: ``process`` (one-process run) or
        ``publisher`` and ``subscriber``, and ``broker`` when its pid was known."""
        seconds = (
            {"process": self.cpu_publisher_s}
            if self.cpu_subscriber_s is None
            else {"publisher": self.cpu_publisher_s, "subscriber": self.cpu_subscriber_s}
        )
        if self.cpu_broker_s is not None:
            seconds["broker"] = self.cpu_broker_s
        return {part: s / self.count * 1e6 for part, s in seconds.items()}

    def figures(self, prefix: str) -> dict[str, float]:
        f = {
            f"{prefix}_msgs_per_s": self.count / self.seconds if self.seconds > 0 else 0.0,
            f"{prefix}_p50_ms": percentile(self.latencies, 50) * 1000,
            f"{prefix}_p99_ms": percentile(self.latencies, 99) * 1000,
            f"{prefix}_landed": float(len(self.latencies)),
            f"{prefix}_messages": float(self.count),
        }
        for part, us in self.cpu_us_per_message().items():
            f[f"{prefix}_cpu_us_per_msg_{part}"] = us
        if self.node_time is not None:
            f.update(self.node_time.figures(f"{prefix}_node_"))
        return f


def start_subscriber_process(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m accord.bench.peer ARGS``: the subscriber as a process of its own."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "accord.bench.peer", *args], stdout=out, stderr=subprocess.STDOUT
        )


async def _until(path: Path, goal: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while count_rows(path) < goal:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the peer subscriber landed {count_rows(path)} of {goal}")
        await asyncio.sleep(0.05)


async def _create_topic(bootstrap: str, topic: str) -> None:
    from accord.bench.raw_kafka import ensure_topic
    from accord.config import KafkaConnection

    await ensure_topic(KafkaConnection(bootstrap_servers=bootstrap), topic)


async def peer_run(
    bootstrap: str,
    directory: Path,
    count: int,
    *,
    processes: Literal[1, 2],
    body_size: int = 1024,
    warmup: int = 500,
    fetch_wait_ms: int = FETCH_WAIT_MS,
    broker_pid: int | None = None,
    within_s: float = 600.0,
    rate: float | None = None,
    subscriber_heap: HeapMode = "default",
) -> PeerRun:
    """``count`` messages through the peer, after ``warmup`` uncounted ones; the
    subscriber in this process (``processes=1``) or in its own (``2``). ``rate``: the
    timed messages paced at that many a second (the latency run), else as fast as the
    publisher goes. ``subscriber_heap``: the subscriber process's collector."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    topic = f"peer.bench.{uuid.uuid4().hex[:8]}"
    group = f"peer-{uuid.uuid4().hex[:8]}"
    db = directory / f"peer{processes}.sqlite"
    times = directory / "peer-landing-times.json"
    await _create_topic(bootstrap, topic)
    key = Ed25519PrivateKey.generate()
    signer = JwsSigner(key)
    body = peer_body(body_size)

    sub_broker: Any = None
    store: PeerStore | None = None
    node: subprocess.Popen[bytes] | None = None
    if processes == 1:
        store = PeerStore(db)
        sub_broker = subscriber_broker(
            bootstrap, topic, group, store, {KID: key.public_key()}, fetch_wait_ms
        )
        await sub_broker.start()
    else:
        node = start_subscriber_process(
            [
                "--bootstrap",
                bootstrap,
                "--topic",
                topic,
                "--group",
                group,
                "--db",
                str(db),
                "--public-key",
                key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
                "--fetch-wait-ms",
                str(fetch_wait_ms),
                "--landing-times",
                str(times),
                *(["--node-heap"] if subscriber_heap == "node" else []),
            ],
            log=directory / "peer-subscriber.log",
        )
    pub_broker = publisher_broker(bootstrap)
    await pub_broker.start()
    try:
        await publish(pub_broker, topic, signer, max(warmup, 1), body)
        await _until(db, max(warmup, 1), within_s)
        before = count_rows(db)
        tune_node_heap()  # as accord's publisher, in this same process, runs
        started = datetime.now(UTC)
        cpu0 = (
            time.process_time(),
            cpu_seconds(node.pid) if node else None,
            cpu_seconds(broker_pid) if broker_pid else None,
        )
        await publish(pub_broker, topic, signer, count, body, first_sequence=before + 1, rate=rate)
        await _until(db, before + count, within_s)
        cpu1 = (
            time.process_time(),
            cpu_seconds(node.pid) if node else None,
            cpu_seconds(broker_pid) if broker_pid else None,
        )
    finally:
        await pub_broker.stop()
        if sub_broker is not None:
            await sub_broker.stop()
        if store is not None:
            store.close()
        if node is not None:
            stop_process(node)

    timed = [(i, r) for i, r in landing_times(db) if i >= started]
    last = max(r for _i, r in timed)
    sub_cpu = (cpu1[1] - cpu0[1]) if cpu0[1] is not None and cpu1[1] is not None else None
    return PeerRun(
        processes=processes,
        count=count,
        seconds=(last - started).total_seconds(),
        latencies=[(r - i).total_seconds() for i, r in timed],
        cpu_publisher_s=cpu1[0] - cpu0[0],
        cpu_subscriber_s=sub_cpu if processes == 2 else None,
        cpu_broker_s=(cpu1[2] - cpu0[2]) if cpu0[2] is not None and cpu1[2] is not None else None,
        node_time=split([t for t in load_landing_times(times) if t.ended >= started.timestamp()]),
    )


async def _serve(args: argparse.Namespace) -> None:
    store = TimedStore(Path(args.db))
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(args.public_key))
    broker = subscriber_broker(
        args.bootstrap, args.topic, args.group, store, {KID: public}, args.fetch_wait_ms
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await broker.start()
    if args.node_heap:
        tune_node_heap()  # as `accord receive` does once started
    try:
        await stop.wait()
    finally:
        await broker.stop()
        store.close()
        if args.landing_times:
            save_landing_times(store.times, Path(args.landing_times))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The peer's subscriber, as its own process.")
    for name in ("--bootstrap", "--topic", "--group", "--db", "--public-key"):
        parser.add_argument(name, required=True)
    parser.add_argument("--fetch-wait-ms", type=int, default=FETCH_WAIT_MS)
    parser.add_argument(
        "--landing-times", help="write each landing's time split here as the process exits"
    )
    parser.add_argument(
        "--node-heap",
        action="store_true",
        help="run the collector as accord's node does (accord.node.heap), once started",
    )
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
