"""aiokafka's per-record ``send`` against its batch interface, as the publisher uses it.

    python -m accord.bench.send_api                      # 3 rounds of each, 20 000 records
    python -m accord.bench.send_api --rounds 5 --messages 5000 --json

The publisher hands each batch of records to its producer as record batches of its
own making (``accord.kafka.batches.send_in_batches``: ``create_batch``, ``append``,
``close``, ``send_batch``) instead of one ``send`` per record. Each round produces the same
records both ways on a local broker this command starts (or ``--bootstrap``), to a
topic of their own, with the publisher's producer (``accord.kafka.new_producer``,
no linger: the publisher batches itself): records
of a deployed envelope's size (3 247 bytes) with the six headers a publisher sends,
256 at a time, then waits for every acknowledgement. It prints this process's CPU
µs per record and records per second of each, rounds interleaved (``send`` first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from accord.bench.site import bench_site
from accord.config import KafkaConnection
from accord.kafka import close_producer, new_producer, start_producer
from accord.kafka.batches import ProducerRecord, send_in_batches
from accord.observability.logs import configure_logging
from accord.observability.trace import TRACEPARENT
from accord.publisher.service import MIRRORED_HEADERS

RECORD_BYTES = 3247
"""A deployed envelope's size (``accord bench``: 1 KiB body, signed, batched)."""
BATCH = 256
"""Records handed over at a time: the publisher's ``BATCH_MAX``."""
KEY = b"AUS.AFP"
HEADERS = [
    *zip(
        MIRRORED_HEADERS,
        (
            b"0192f7a0-0000-7000-8000-000000000000",
            b"accord.information-report.v1",
            KEY,
            b"bilateral",
            b"counter-terrorism",
        ),
        strict=True,
    ),
    (TRACEPARENT, b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"),
]
WAYS = ("send", "send_batch")

Way = Callable[[AIOKafkaProducer, str, int, bytes], Awaitable[None]]


async def per_record(producer: AIOKafkaProducer, topic: str, count: int, value: bytes) -> None:
    futures = []
    for start in range(0, count, BATCH):
        for _ in range(min(BATCH, count - start)):
            futures.append(await producer.send(topic, value=value, key=KEY, headers=HEADERS))
        await asyncio.sleep(0)
    await asyncio.gather(*futures)


async def in_batches(producer: AIOKafkaProducer, topic: str, count: int, value: bytes) -> None:
    futures: set[asyncio.Future[Any]] = set()
    for start in range(0, count, BATCH):
        records = [ProducerRecord(topic, KEY, value, HEADERS)] * min(BATCH, count - start)
        futures.update(future for future, _ in await send_in_batches(producer, records))
        await asyncio.sleep(0)
    await asyncio.gather(*futures)


async def measure(conn: KafkaConnection, *, rounds: int, messages: int) -> list[dict[str, Any]]:
    """``rounds`` of each way, interleaved; one row per way and round."""
    value = os.urandom(RECORD_BYTES)
    ways: dict[str, Way] = {"send": per_record, "send_batch": in_batches}
    rows = []
    for n in range(rounds):
        for name in WAYS:
            producer = new_producer(conn, linger_ms=0)  # as the publisher's
            await start_producer(producer, timeout_s=30)
            try:
                topic = f"accord-send-api-{os.getpid()}-{n}-{name}"
                await producer.send_and_wait(topic, b"warm-up", key=KEY)  # metadata, leader
                cpu, wall = time.process_time(), time.perf_counter()
                await ways[name](producer, topic, messages, value)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            finally:
                await close_producer(producer, timeout_s=10)
            rows.append(
                {
                    "way": name,
                    "round": n,
                    "cpu_us_per_record": round(cpu / messages * 1e6, 1),
                    "records_per_s": round(messages / wall),
                }
            )
    return rows


def render(rows: list[dict[str, Any]], messages: int) -> str:
    lines = [
        f"aiokafka send API: {messages} records of {RECORD_BYTES} B a round, "
        f"{BATCH} at a time, {os.cpu_count()} cores",
        "",
        f"{'':12}{'CPU µs per record':>20}{'records/s':>12}   rounds (µs)",
    ]
    for way in WAYS:
        mine = [r for r in rows if r["way"] == way]
        cpu = statistics.median(r["cpu_us_per_record"] for r in mine)
        rate = statistics.median(r["records_per_s"] for r in mine)
        each = " ".join(str(r["cpu_us_per_record"]) for r in mine)
        lines.append(f"{way:12}{cpu:>20.1f}{rate:>12.0f}   {each}")
    lines += ["", f"load average {os.getloadavg()[0]:.1f} at the end"]
    return "\n".join(lines)


async def _run(rounds: int, messages: int, bootstrap: str | None) -> list[dict[str, Any]]:
    async with bench_site("accord-send-api-", bootstrap=bootstrap) as site:
        return await measure(site.connection, rounds=rounds, messages=messages)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accord.bench.send_api", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--bootstrap", help="an existing PLAINTEXT broker (default: start one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.messages < 1:
        parser.error("--rounds and --messages must be at least 1")
    configure_logging("WARNING", stream=sys.stderr)
    rows = asyncio.run(_run(args.rounds, args.messages, args.bootstrap))
    print(json.dumps(rows) if args.json else render(rows, args.messages))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
