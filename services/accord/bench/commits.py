"""How long this disk takes to commit an inbox transaction: the floor under a node's tail latency.

    python -m accord.bench.commits                        # 20 s, here (a temporary folder)
    python -m accord.bench.commits --dir /var/lib/accord --seconds 60
    python -m accord.bench.commits --synchronous NORMAL   # the same without the sync

A receiving node lands each poll in one SQLite transaction, and a message counts as
delivered once it has committed (``accord.receiver.inbox``: WAL, ``synchronous=FULL``,
checkpoints from a thread of their own). The node's event loop waits for that
commit, so a disk whose sync now and then takes 50 ms puts 50 ms into the latency of
every message that arrives meanwhile, whatever the node does. This command commits
transactions as a node at about 500 msgs/s does (one every 15 ms, 5 rows of about 5
kB: the signed payload and the record), on a database opened as the inbox opens
its own (``accord.sqlite``), in ``--dir``'s file system, and prints the commit
times: p50, p99, the largest, and how many took over 10, 25 and 50 ms. Run it on
the disk a node's data folder is on, beside ``python -m accord.bench.latency``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from accord.bench.figures import percentile
from accord.sqlite import BackgroundCheckpoints, open_private

ROW_BYTES = 5_000
"""About one landed message: its signed payload and the record (docs/bench.md)."""
ROWS_PER_COMMIT = 5
EVERY_S = 0.015
"""One commit every 15 ms: a poll of about 5 messages at 500 msgs/s with the next fetch
sent early (docs/exchange.md)."""
OVER_MS = (10, 25, 50)


def measure(
    directory: Path, seconds: float, *, synchronous: Literal["FULL", "NORMAL"] = "FULL"
) -> list[float]:
    """Commit times, in seconds, of ``seconds`` of inbox-like transactions in ``directory``."""
    path = directory / "commits.sqlite"
    db = open_private(path, synchronous=synchronous)
    checkpoints = BackgroundCheckpoints(path, db)
    try:
        db.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body BLOB)")
        body = os.urandom(ROW_BYTES)
        times: list[float] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            db.execute("BEGIN")
            db.executemany("INSERT INTO rows (body) VALUES (?)", [(body,)] * ROWS_PER_COMMIT)
            db.execute("COMMIT")
            took = time.perf_counter() - started
            times.append(took)
            time.sleep(max(0.0, EVERY_S - took))
        return times
    finally:
        checkpoints.close()
        db.close()


def summary(times: Sequence[float]) -> dict[str, Any]:
    """p50, p99 and the largest commit time in ms, and the counts over ``OVER_MS``."""
    ms = [t * 1000 for t in times]
    figures: dict[str, Any] = {
        "commits": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms, default=0.0), 1),
    }
    figures.update({f"over_{limit}_ms": sum(1 for t in ms if t > limit) for limit in OVER_MS})
    return figures


def render(figures: dict[str, Any], directory: str, seconds: float, synchronous: str) -> str:
    over = ", ".join(f"{figures[f'over_{limit}_ms']} over {limit} ms" for limit in OVER_MS)
    return (
        f"inbox-like commits (WAL, synchronous={synchronous}) in {directory}, {seconds:g} s: "
        f"{figures['commits']} commits, p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
        f"max {figures['max_ms']} ms; {over}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accord.bench.commits", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dir", type=Path, default=None, help="where (default: a temp folder)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.dir is not None and not args.dir.is_dir():
        parser.error(f"--dir {args.dir} is not a folder; give one on the disk to measure")
    where = str(args.dir or tempfile.gettempdir())
    try:
        with tempfile.TemporaryDirectory(prefix="accord-commits-", dir=args.dir) as folder:
            times = measure(Path(folder) / "db", args.seconds, synchronous=args.synchronous)
    except (OSError, sqlite3.Error) as exc:
        parser.exit(
            2,
            f"error: cannot commit in {where}: {exc}\n"
            "hint: give --dir a folder this user may write in\n",
        )
    figures = summary(times)
    print(
        json.dumps(figures)
        if args.json
        else render(figures, where, args.seconds, args.synchronous),
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
