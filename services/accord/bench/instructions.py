"""The hot stages in instructions per message: a figure noise cannot move.

    python -m accord.bench.instructions                  # verify, assess and publish
    python -m accord.bench.instructions --stage verify --label after

On a shared machine the CPU time of the same tree spreads by 10 % from one run to
the next, more than most single changes to a hot path are worth. An instruction count
does not: valgrind (its ``cachegrind`` tool, cache simulation off) counts the
instructions a process runs, the same for the same binary and inputs whatever else
the machine is doing. Each stage runs twice under it, over ``--small`` and over
``--large`` of the bench's batched records (each a whole number of the publisher's
batches, so each pays the same share of root signatures); the difference, over the
difference in records, is the stage's instructions per message, with start-up,
imports and the PKI's loading cancelled out.

Stages (the receiver's are ``accord.bench.receive_costs``' own loops, over its
material):

- ``verify``: ``verify_sealed`` with a root cache, as the receiver verifies;
- ``assess``: the receiver's per-record decision (verify, the mirrored headers,
  entitlement, releasability);
- ``publish``: the publisher, ``Publisher.publish_many`` of the bench's message
  ``BATCH_MAX`` at a time into an in-memory producer that acknowledges at once
  (``accord.bench.sink``), with its sent log on disk and its signed ``published``
  announcements, under the node's collector settings: what the publishing node's
  process runs but the Kafka client's own work and the sockets'. Announcements go
  out 50 ms after the first message they acknowledge, and under valgrind a call of
  ``BATCH_MAX`` messages takes longer than that: each call gets one of its own,
  about twice as many as at full speed, in both runs alike.

An instruction is not a second: a change that trades instructions for cache misses
or system calls can count fewer and run slower. And valgrind's virtual CPU lacks some
of the real one's instructions, SHA-NI among them, so OpenSSL hashes there by its
generic code: SHA-256 counts for about a fifth of ``verify`` (the leaf hash and the
payload's digest) and costs far less on a core that has SHA-NI. Use it to compare
two trees of accord on the stages above (``PYTHONPATH=CHECKOUT/services``), and the
bench's timings for what a node achieves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aiokafka.structs import ConsumerRecord

from accord.bench import receive_costs
from accord.bench.pipeline import AREA, SCOPE, SENDER, bench_body, bench_label, bench_plan
from accord.bench.sink import AckingProducer
from accord.config import KafkaConnection
from accord.node.heap import tune_node_heap
from accord.observability.logs import configure_logging
from accord.publisher import Publisher
from accord.publisher.service import BATCH_MAX
from accord.trust.directory import PkiDirectory
from accord.trust.testing import Pki

STAGES = ("verify", "assess", "publish")
_RECORDS = "records.jsonl"
_I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


class NoValgrind(RuntimeError):
    """valgrind is not installed: there is nothing to count with."""


def instructions_of(report: str) -> int:
    """The total instruction count ("I refs") in valgrind's report on stderr."""
    match = _I_REFS.search(report)
    if match is None:
        raise ValueError("valgrind's report has no 'I refs' line (did the run fail?)")
    return int(match.group(1).replace(",", ""))


def per_message(small: tuple[int, int], large: tuple[int, int]) -> float:
    """Instructions per message from two counts of (messages, instructions)."""
    (n_small, i_small), (n_large, i_large) = small, large
    if n_large <= n_small:
        raise ValueError("the large run must hold more messages than the small one")
    return (i_large - i_small) / (n_large - n_small)


def prepare(directory: Path, messages: int, body_size: int) -> None:
    """The bench's signed records and its PKI, written where the counted runs read them."""
    material = receive_costs.prepare(messages, body_size, directory)
    with (directory / _RECORDS).open("w", encoding="utf-8") as out:
        for r in material.records:
            line = {
                "topic": r.topic,
                "offset": r.offset,
                "key": r.key.hex() if r.key is not None else None,
                "value": (r.value or b"").hex(),
                "headers": [[name, value.hex()] for name, value in r.headers],
            }
            out.write(json.dumps(line) + "\n")


def _record(line: str) -> ConsumerRecord[bytes, bytes]:
    doc = json.loads(line)
    key = bytes.fromhex(doc["key"]) if doc["key"] is not None else None
    value = bytes.fromhex(doc["value"])
    return ConsumerRecord(
        topic=doc["topic"],
        partition=0,
        offset=doc["offset"],
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value),
        headers=tuple((name, bytes.fromhex(v)) for name, v in doc["headers"]),
    )


def _material(directory: Path, messages: int) -> receive_costs.Material:
    # Every record is read in both runs, so that reading them cancels out.
    with (directory / _RECORDS).open(encoding="utf-8") as src:
        records = [_record(line) for line in src][:messages]
    return receive_costs.Material(
        plan=bench_plan(),
        pki=Pki(PkiDirectory(directory / "pki")),
        records=records,
        envelope_bytes=len(records[0].value),
        directory=directory,
    )


def _publish(material: receive_costs.Material, messages: int, body_size: int) -> None:
    """``messages`` of the bench's message through a publisher, ``BATCH_MAX`` a call."""
    body, label = bench_body(0, body_size), bench_label()

    async def run() -> None:
        publisher = Publisher(
            agency=SENDER,
            connection=KafkaConnection(),
            plan=material.plan,
            signer=material.pki.signer(SENDER),
            # The two counted runs of a stage run at once: a sent log each.
            state_path=material.directory / f"publisher-{os.getpid()}.sqlite",
            producer=AckingProducer(),
        )
        async with publisher:
            tune_node_heap()  # as the publishing node runs, once started
            for first in range(0, messages, BATCH_MAX):
                bodies = [body] * min(BATCH_MAX, messages - first)
                await publisher.publish_many(bodies, scope=SCOPE, area=AREA, label=label)

    asyncio.run(run())


def _run_stage(directory: Path, messages: int, stage: str, body_size: int) -> None:
    """The counted process: one stage over the first ``messages`` records (or, for
    ``publish``, that many messages)."""
    configure_logging("WARNING", stream=sys.stderr)
    material = _material(directory, messages)
    if stage == "verify":
        receive_costs.stage_verify(material)
    elif stage == "assess":
        receive_costs.stage_assess(material)
    else:
        _publish(material, messages, body_size)


def count(
    directory: Path, messages: int, stage: str, body_size: int = 1024
) -> subprocess.Popen[str]:
    """Start one counted run (``valgrind --tool=cachegrind``) of ``stage``."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise NoValgrind("valgrind is not installed (Debian: apt-get install valgrind)")
    command = [
        valgrind,
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "accord.bench.instructions",
        "--counted-run",
        str(directory),
        str(messages),
        stage,
        str(body_size),
    ]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=os.environ
    )


def measure(
    directory: Path,
    stages: Sequence[str],
    small: int,
    large: int,
    *,
    parallel: int = 2,
    body_size: int = 1024,
) -> dict[str, float]:
    """Each stage's instructions per message: its ``large`` run less its ``small`` one."""
    jobs = [(stage, n) for stage in stages for n in (small, large)]
    counts: dict[tuple[str, int], int] = {}
    while jobs:
        batch, jobs = jobs[:parallel], jobs[parallel:]
        running = [(job, count(directory, job[1], job[0], body_size)) for job in batch]
        for job, process in running:
            _, report = process.communicate()
            if process.returncode != 0:
                last = report.strip().splitlines()[-1:] or ["no output"]
                raise RuntimeError(f"the counted run of {job[0]} failed: {last[0]}")
            counts[job] = instructions_of(report)
    return {
        stage: per_message((small, counts[stage, small]), (large, counts[stage, large]))
        for stage in stages
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--counted-run"]:
        _run_stage(Path(args[1]), int(args[2]), args[3], int(args[4]))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m accord.bench.instructions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--stage", choices=STAGES, action="append", help="repeatable (default: all)"
    )
    parser.add_argument("--small", type=int, default=BATCH_MAX, help="records in the small run")
    parser.add_argument("--large", type=int, default=5 * BATCH_MAX, help="and in the large one")
    parser.add_argument("--body-size", type=int, default=1024)
    parser.add_argument("--label", default="", help="a name for this tree in the output")
    opts = parser.parse_args(args)
    if opts.small % BATCH_MAX or opts.large % BATCH_MAX or opts.large <= opts.small:
        parser.error(
            f"--small and --large must be multiples of {BATCH_MAX} (whole batches), "
            "--large the greater"
        )
    if shutil.which("valgrind") is None:
        print(
            "error: valgrind is not installed; it counts the instructions "
            "(Debian: apt-get install valgrind)",
            file=sys.stderr,
        )
        return 2
    configure_logging("WARNING", stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="accord-instructions-") as tmp:
        directory = Path(tmp)
        prepare(directory, opts.large, opts.body_size)
        figures = measure(
            directory, opts.stage or STAGES, opts.small, opts.large, body_size=opts.body_size
        )
    line = {"label": opts.label, **{k: round(v) for k, v in figures.items()}}
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
