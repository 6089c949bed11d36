"""The peer with records as large as accord's: how much of the gap is bytes on the wire.

    python -m accord.bench.equal_bytes                   # 3 rounds of 10 000 messages
    python -m accord.bench.equal_bytes --rounds 5 --messages 20000 --json

accord's record for a 1 KiB body (3 247 bytes: the base64url payload with its
header and label, the protected header, the batch's signed root and the inclusion
proof) is 1.86 times the peer's (1 749: a JWS of the body and four fields), and
every process that touches a record does work in proportion to its length: the
broker (CRC, log append, the copies to and from its sockets), the publisher's
JSON, base64 and socket writes, the receiver's reads. ``accord bench`` compares
the two at the same body, as a user would. This command adds the comparison at
the same bytes: each round runs, on one local broker it starts (or
``--bootstrap``), accord deployed (the receiving node in its own process, signed,
batched, as ``accord bench``), the two-process peer with the same 1 KiB body, and
the two-process peer with its body grown until its record is as long as accord's
envelope; the order alternates between rounds. It prints msgs/s and each process's
CPU µs per message (``accord bench``'s definitions, docs/bench.md), medians and
every round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from accord.bench.deployed import deployed_run
from accord.bench.peer import peer_body_size_for, peer_record_size, peer_run
from accord.bench.pipeline import bench_body, bench_plan, envelope_size
from accord.bench.site import BenchSite, bench_site
from accord.errors import AccordError
from accord.kafka import broker_errors
from accord.observability.logs import configure_logging

BODY_BYTES = 1024
RUNS = ("accord deployed", "peer, same body", "peer, same bytes")
PARTS = ("publisher", "receiver", "broker")

Figures = dict[str, float]


async def _accord(site: BenchSite, directory: Path, count: int) -> Figures:
    run = await deployed_run(
        site.connection, directory, site.pki, count, broker_pid=site.broker_pid
    )
    return {"msgs_per_s": run.per_second, **run.cpu_us_per_message()}


async def _peer(site: BenchSite, directory: Path, count: int, body_size: int) -> Figures:
    run = await peer_run(
        site.connection.bootstrap_servers,
        directory,
        count,
        processes=2,
        body_size=body_size,
        broker_pid=site.broker_pid,
    )
    cpu = run.cpu_us_per_message()
    cpu["receiver"] = cpu.pop("subscriber")
    return {"msgs_per_s": run.count / run.seconds, **cpu}


async def measure(
    messages: int,
    rounds: int,
    bootstrap: str | None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, object]:
    async with bench_site("accord-equal-bytes-", bootstrap=bootstrap, progress=progress) as site:
        accord_bytes = envelope_size(site.pki, bench_plan().namespace, bench_body(0, BODY_BYTES))
        same_bytes_body = peer_body_size_for(accord_bytes)
        record_bytes = {
            RUNS[0]: accord_bytes,
            RUNS[1]: peer_record_size(BODY_BYTES),
            RUNS[2]: peer_record_size(same_bytes_body),
        }
        runs: dict[str, list[Figures]] = {name: [] for name in RUNS}
        for r in range(rounds):
            order = RUNS if r % 2 == 0 else tuple(reversed(RUNS))
            for name in order:
                progress(f"round {r + 1}/{rounds}: {name}, {messages} messages")
                directory = site.directory / f"round{r}-{RUNS.index(name)}"
                if name == RUNS[0]:
                    figures = await _accord(site, directory, messages)
                else:
                    body = BODY_BYTES if name == RUNS[1] else same_bytes_body
                    figures = await _peer(site, directory, messages, body)
                runs[name].append(figures)
        return {
            "messages": messages,
            "record_bytes": record_bytes,
            "peer_body_bytes_for_same_bytes": same_bytes_body,
            "median": {
                name: {k: statistics.median(f[k] for f in figures) for k in figures[0]}
                for name, figures in runs.items()
            },
            "rounds": runs,
            "cores": os.cpu_count() or 1,
            "load_average_end": os.getloadavg()[0],
        }


def render(result: dict[str, object]) -> str:
    median: dict[str, Figures] = result["median"]  # type: ignore[assignment]
    rounds: dict[str, list[Figures]] = result["rounds"]  # type: ignore[assignment]
    record_bytes: dict[str, int] = result["record_bytes"]  # type: ignore[assignment]
    lines = [
        f"accord and the peer at the same bytes: {result['messages']} messages a run, "
        f"median of {len(rounds[RUNS[0]])} interleaved rounds, {result['cores']} cores",
        "",
        f"{'':<20}{'':>9}{'':>9}{'CPU µs per message':>28}",
        f"{'':<20}{'record B':>9}{'msgs/s':>9}{'publisher':>10}{'receiver':>10}{'broker':>8}",
    ]
    for name in RUNS:
        f = median[name]
        cpu = "".join(
            f"{f[part]:>{w}.0f}" if part in f else f"{'-':>{w}}"
            for part, w in zip(PARTS, (10, 10, 8), strict=True)
        )
        lines.append(f"{name:<20}{record_bytes[name]:>9}{f['msgs_per_s']:>9.0f}{cpu}")
    lines.append("")
    ours = median[RUNS[0]]
    for name in RUNS[1:]:
        theirs = median[name]
        ratios = ", ".join(
            f"{part} {ours[part] / theirs[part]:.2f}x"
            for part in PARTS
            if part in ours and part in theirs and theirs[part]
        )
        lines.append(
            f"accord / {name}: throughput {ours['msgs_per_s'] / theirs['msgs_per_s']:.2f}x; "
            f"CPU per message {ratios}"
        )
    lines.append("")
    for name in RUNS:
        per_round = "; ".join(
            f"{f['msgs_per_s']:.0f} msgs/s, " + " / ".join(f"{f[p]:.0f}" for p in PARTS if p in f)
            for f in rounds[name]
        )
        lines.append(
            f"{name}, each round (msgs/s, CPU µs: publisher / receiver / broker): {per_round}"
        )
    lines.append(f"load average {result['load_average_end']:.1f} at the end")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accord.bench.equal_bytes",
        description="accord deployed beside the two-process peer at the same body "
        "and at the same record bytes.",
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bootstrap", help="an existing PLAINTEXT broker (no broker CPU)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.rounds < 1:
        parser.error("--messages and --rounds must be at least 1")
    configure_logging("WARNING", stream=sys.stderr)
    hint = "check that --bootstrap names a reachable PLAINTEXT broker, or leave it out"
    try:
        with broker_errors("the bench's broker", hint=hint):
            result = asyncio.run(
                measure(
                    args.messages,
                    args.rounds,
                    args.bootstrap,
                    lambda line: print(f"... {line}", file=sys.stderr, flush=True),
                )
            )
    except AccordError as exc:  # one line and a hint, as the accord command prints them
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        print(f"hint: {hint}", file=sys.stderr)
        return 2
    print(json.dumps(result) if args.json else render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
