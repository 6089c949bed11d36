"""Latency as deployed, at a few paced rates: ``issued_at`` to the inbox commit.

    python -m accord.bench.latency                      # 50 and 500 msgs/s, 10 s each
    python -m accord.bench.latency --rate 50 --rate 200 --seconds 20 --json
    python -m accord.bench.latency --rate 50 --rate 500 --peer   # the peer too

Each rate is one run of ``accord bench``'s paced deployed row (``deployed_run``): the
receiving node in a process of its own, the publisher in this one, one
``Publisher.publish`` per message at its scheduled time, on a local broker this
command starts. It prints p50, p90, p99 and the largest latency in ms, and each
process's CPU per message. A quicker look than the whole ``accord bench`` when only
latency is in question (a change to batching, linger or fetch settings); the
machine's other work shows in every figure, so compare rates of one run.

``--stages`` splits accord's latency at each rate into four stages, p50 and p99 of
each (``accord.bench.probed_node --stages``): the publisher (``issued_at`` to its
record's timestamp, set by its Kafka client as the record joined a batch; ms
resolution), to the poll (the broker, and the wait for a fetch to bring the record
to the node), the node's work (the poll's batch step and anything before its
landing), and the landing's commit (the inbox transaction, with its sync). A second
line says how much of the tail the disk's sync stalls explain: the commits that took
over 10 ms, the share of messages that waited on one (its own, or one that held up
their poll), and the p99 of the rest (``commit_stalls``).

``--peer`` (needs the ``bench`` extra) follows each rate's row with the FastStream
peer's at the same rate, two processes on the same broker (``accord.bench.peer``;
its landing is stamped as its batch transaction begins, accord's after it commits):
what this machine allows a pipeline that does less, at that rate.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accord.bench.deployed import deployed_run
from accord.bench.figures import percentile
from accord.bench.site import bench_site
from accord.bench.stages import commit_stalls, split
from accord.config import FETCH_WAIT_MS, KafkaConnection
from accord.observability.logs import configure_logging
from accord.trust.pki import Pki


async def measure(
    conn: KafkaConnection,
    directory: Path,
    pki: Pki,
    rates: Sequence[float],
    *,
    seconds: float,
    warmup: int = 500,
    fetch_wait_ms: int = FETCH_WAIT_MS,
    broker_pid: int | None = None,
    peer: bool = False,
    stages: bool = False,
) -> list[dict[str, Any]]:
    """One paced deployed run per rate, in order, on the broker at ``conn``; with
    ``peer``, each followed by the two-process peer's paced run at that rate; with
    ``stages``, accord's rows split into ``STAGES``."""
    rows = []
    for n, rate in enumerate(rates):
        run = await deployed_run(
            conn,
            directory / f"rate-{n}",
            pki,
            max(1, round(rate * seconds)),
            warmup=warmup,
            broker_pid=broker_pid,
            fetch_wait_ms=fetch_wait_ms,
            rate=rate,
            stages=stages,
        )
        row = _row("accord", rate, run.count, run.latencies, run.cpu_us_per_message())
        if stages:
            row["stages_ms"] = split(run.stages)
            row["commit_stalls"] = commit_stalls(run.stages)
        rows.append(row)
        if peer:
            from accord.bench.peer import peer_run

            paced = await peer_run(
                conn.bootstrap_servers,
                directory / f"peer-{n}",
                max(1, round(rate * seconds)),
                processes=2,
                warmup=warmup,
                fetch_wait_ms=fetch_wait_ms,
                broker_pid=broker_pid,
                rate=rate,
            )
            rows.append(
                _row("peer", rate, paced.count, paced.latencies, paced.cpu_us_per_message())
            )
    return rows


def _row(
    who: str, rate: float, count: int, latencies: list[float], cpu: dict[str, float]
) -> dict[str, Any]:
    row: dict[str, Any] = {"who": who, "rate": rate, "messages": count}
    for q, key in ((50, "p50_ms"), (90, "p90_ms"), (99, "p99_ms"), (100, "max_ms")):
        row[key] = round(percentile(latencies, q) * 1000, 1)
    row["cpu_us_per_message"] = {k: round(v) for k, v in cpu.items()}
    return row


async def _on_a_local_broker(
    rates: Sequence[float],
    seconds: float,
    warmup: int,
    fetch_wait_ms: int,
    peer: bool,
    stages: bool,
) -> list[dict[str, Any]]:
    async with bench_site("accord-latency-") as site:
        return await measure(
            site.connection,
            site.directory,
            site.pki,
            rates,
            seconds=seconds,
            warmup=warmup,
            fetch_wait_ms=fetch_wait_ms,
            broker_pid=site.broker_pid,
            peer=peer,
            stages=stages,
        )


def render(rows: list[dict[str, Any]], seconds: float, fetch_wait_ms: int) -> str:
    lines = [
        f"latency as deployed, issued_at to inbox commit: {seconds:g} s per rate, "
        f"fetch wait {fetch_wait_ms} ms, {os.cpu_count()} cores",
        "",
        f"{'msgs/s':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}   CPU µs per message",
    ]
    for r in rows:
        cpu = ", ".join(f"{k} {v}" for k, v in r["cpu_us_per_message"].items())
        who = "peer: " if r["who"] == "peer" else ""
        lines.append(
            f"{r['rate']:8g}{r['p50_ms']:9.1f}{r['p90_ms']:9.1f}{r['p99_ms']:9.1f}"
            f"{r['max_ms']:9.1f}   {who}{cpu}"
        )
        if r.get("stages_ms"):
            parts = ", ".join(f"{k} {p50:g} / {p99:g}" for k, (p50, p99) in r["stages_ms"].items())
            lines.append(f"{'':8}   stages, p50 / p99 ms: {parts}")
        if r.get("commit_stalls"):
            c = r["commit_stalls"]
            lines.append(
                f"{'':8}   commits over {c['over_ms']:g} ms: {c['slow_commits']} (longest "
                f"{c['longest_ms']:g} ms); {c['share_waited']:.1%} of messages waited on one; "
                f"p99 of the others {c['p99_others_ms']:g} ms"
            )
    lines.append("")
    lines.append(f"load average {os.getloadavg()[0]:.1f} at the end")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accord.bench.latency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rate", type=float, action="append", help="msgs/s (repeatable)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--fetch-wait-ms", type=int, default=FETCH_WAIT_MS)
    parser.add_argument("--peer", action="store_true", help="also the FastStream peer at each rate")
    parser.add_argument("--stages", action="store_true", help="accord's latency split in stages")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rates = args.rate or [50.0, 500.0]
    if any(r <= 0 for r in rates) or args.seconds <= 0:
        parser.error("rates and --seconds must be positive")
    if args.peer and importlib.util.find_spec("faststream") is None:
        parser.error("--peer needs the bench extra: pip install -e '.[bench]'")
    configure_logging("WARNING", stream=sys.stderr)
    rows = asyncio.run(
        _on_a_local_broker(
            rates, args.seconds, args.warmup, args.fetch_wait_ms, args.peer, args.stages
        )
    )
    print(json.dumps(rows) if args.json else render(rows, args.seconds, args.fetch_wait_ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
