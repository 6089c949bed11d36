"""The producers' record batch size, as deployed: accord's against aiokafka's default.

    python -m accord.bench.produce_batch                 # 3 rounds of each, 10 000 msgs
    python -m accord.bench.produce_batch --rounds 5 --messages 5000 --json
    python -m accord.bench.produce_batch --size 1000000  # another size against 16 KiB

aiokafka keeps one produce request in flight per broker, with at most one record
batch per partition in it, so the batch size bounds what a publisher's partition
moves per round trip (``accord.kafka.clients.PRODUCE_BATCH_BYTES``). Each round is
``accord bench``'s deployed run (the receiving node in a process of its own) on a
local broker this command starts, once with accord's batch size (or ``--size``)
and once with aiokafka's 16 KiB, interleaved; the publisher in this process takes
the size being measured (the node keeps accord's, for its receipts). It prints
msgs/s and each process's CPU µs per message for every round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accord.bench.deployed import deployed_run
from accord.bench.site import bench_site
from accord.config import KafkaConnection
from accord.kafka import clients
from accord.observability.logs import configure_logging
from accord.trust.pki import Pki

AIOKAFKA_DEFAULT = 16 * 1024


async def measure(
    conn: KafkaConnection,
    directory: Path,
    pki: Pki,
    *,
    rounds: int,
    messages: int,
    warmup: int = 500,
    broker_pid: int | None = None,
    size: int | None = None,
) -> list[dict[str, Any]]:
    """``rounds`` deployed runs of each batch size, interleaved (accord's first), on
    the broker at ``conn``; the first run of all is not counted (the broker JVM
    compiles its hot paths)."""
    accord_size = clients.PRODUCE_BATCH_BYTES
    rows: list[dict[str, Any]] = []
    await deployed_run(conn, directory / "warm", pki, max(messages // 2, 1), warmup=warmup)
    for n in range(rounds * 2):
        batch = (size or accord_size, AIOKAFKA_DEFAULT)[n % 2]
        clients.PRODUCE_BATCH_BYTES = batch
        try:
            run = await deployed_run(
                conn, directory / f"r{n}", pki, messages, warmup=warmup, broker_pid=broker_pid
            )
        finally:
            clients.PRODUCE_BATCH_BYTES = accord_size
        cpu = {k: round(v) for k, v in run.cpu_us_per_message().items()}
        rows.append({"batch_bytes": batch, "msgs_per_s": round(run.per_second), **cpu})
    return rows


async def _on_a_local_broker(rounds: int, messages: int, size: int | None) -> list[dict[str, Any]]:
    async with bench_site("accord-produce-batch-") as site:
        return await measure(
            site.connection,
            site.directory,
            site.pki,
            rounds=rounds,
            messages=messages,
            broker_pid=site.broker_pid,
            size=size,
        )


def render(rows: list[dict[str, Any]], messages: int) -> str:
    lines = [
        f"producer batch size as deployed: {messages} msgs a round, {os.cpu_count()} cores",
        "",
        f"{'batch bytes':>12}{'msgs/s':>9}   CPU µs per message: publisher, receiver, broker",
    ]
    for r in rows:
        lines.append(
            f"{r['batch_bytes']:>12}{r['msgs_per_s']:>9}   "
            f"{r['publisher']}, {r['receiver']}, {r.get('broker', '-')}"
        )
    lines += ["", f"load average {os.getloadavg()[0]:.1f} at the end"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accord.bench.produce_batch", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, help="bytes (default: accord's batch size)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.messages < 100:
        parser.error("--rounds must be at least 1 and --messages at least 100")
    if args.size is not None and not 1024 <= args.size <= 16 * 1024 * 1024:
        parser.error("--size must be 1 KiB to 16 MiB")
    configure_logging("WARNING", stream=sys.stderr)
    rows = asyncio.run(_on_a_local_broker(args.rounds, args.messages, args.size))
    print(json.dumps(rows) if args.json else render(rows, args.messages))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
