"""Where a process's CPU goes, per message: py-spy's collapsed stacks, by category.

    py-spy record --native --subprocesses --format raw -o stacks.txt -- \\
        accord bench --repeat 1 --messages 5000
    python -m accord.bench.stacks stacks.txt --messages 5500

Each sample is charged to the first category that matches its stack, innermost
frame first, so a category is the time spent in it (and in what it calls that no
other category claims). ``--messages`` converts shares into µs per message, using
the process's own CPU figure from the same run (``--cpu-us``) when given, else the
sampling interval. Processes are told apart by their command line: the deployed
node (``accord.bench.probed_node``), the peer's subscriber (``accord.bench.peer``).

Limitation: py-spy samples a process's whole life, start-up and imports included,
while the bench's CPU figures cover the timed run only; with small ``--messages``
the start-up dominates the shares. Profile with large counts.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        # py-spy --native names the field arithmetic itself (fe_mul, fe_sq) under the
        # Python frame that called verify: without it that time fell to the caller's
        # category, or to asyncio at the bottom of the stack.
        (
            "Ed25519 sign / verify",
            r"ed25519|curve25519|EVP_Digest(Sign|Verify)|\bfe_\w+ \(cryptography/",
        ),
        ("SQLite", r"sqlite3|\bfsync|fdatasync|pwrite"),
        ("logging", r"structlog|/logging/"),
        ("base64", r"base64|binascii"),
        ("JSON", r"json"),
        ("pydantic validate / serialize", r"pydantic|fast_depends"),
        ("hashing (SHA-256)", r"hashlib|sha256|_hashopenssl"),
        ("aiokafka produce / fetch", r"aiokafka|kafka/"),
        ("asyncio machinery", r"asyncio|selectors|uvloop"),
        (
            "accord checks (labels, scope, plan, trust)",
            r"accord/(labels|access|plan|trust|parties|areas)",
        ),
        ("FastStream", r"faststream"),
    )
)
OTHER = "other"


def _process(frame: str) -> str | None:
    if not frame.startswith("process "):
        return None
    if "probed_node" in frame:
        return "accord receiving node"
    if "accord.bench.peer" in frame:
        return "peer subscriber"
    return "bench (publisher and the rest)"


def categorize(frames: Sequence[str]) -> str:
    for frame in reversed(frames):
        if frame.startswith("process "):  # a command line, not code
            continue
        for name, pattern in CATEGORIES:
            if pattern.search(frame):
                return name
    return OTHER


def tally(lines: Iterable[str]) -> dict[str, Counter[str]]:
    """Samples per category, per process, from py-spy ``--format raw`` lines."""
    result: dict[str, Counter[str]] = defaultdict(Counter)
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        # With --subprocesses each stack starts with the chain of processes from
        # the one py-spy started; the innermost names the process sampled.
        names = [p for p in map(_process, frames) if p is not None]
        process = names[-1] if names else "process"
        result[process][categorize(frames)] += int(count)
    return result


def report(counts: dict[str, Counter[str]], messages: int | None, cpu_us: dict[str, float]) -> str:
    lines = []
    for process, counter in sorted(counts.items()):
        total = sum(counter.values())
        per_msg = cpu_us.get(process)
        lines.append(f"{process}: {total} samples")
        for name, n in counter.most_common():
            share = n / total
            cell = f"{share:6.1%}"
            if per_msg is not None:
                cell += f"  {share * per_msg:6.0f} µs/msg"
            elif messages:
                cell += f"  {n / messages * 1e4:6.0f} µs/msg (at 100 samples/s)"
            lines.append(f"  {name:45} {cell}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stacks", type=Path)
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument(
        "--cpu-us",
        action="append",
        default=[],
        metavar="PROCESS=US",
        help="a process's CPU µs per message, e.g. 'accord receiving node=230' (repeatable)",
    )
    args = parser.parse_args(argv)
    cpu = {k: float(v) for k, _, v in (s.rpartition("=") for s in args.cpu_us)}
    with args.stacks.open(encoding="utf-8", errors="replace") as f:
        print(report(tally(f), args.messages, cpu))


if __name__ == "__main__":
    main()
