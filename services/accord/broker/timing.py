"""Measure start-to-ready: ``python -m accord.broker.timing [--runs 3]``.

Each run uses a fresh data dir, so a run is what a test session pays: format the
KRaft storage, spawn the JVM(s), wait until metadata is served (for the cluster:
lists all three brokers). Jars are fetched first and not timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from accord.broker.cluster import LocalCluster
from accord.broker.jars import KAFKA_VERSION, ensure_jars
from accord.broker.node import LocalBroker
from accord.observability.logs import configure_logging


def _single(root: Path) -> float:
    broker = LocalBroker(root / "single")
    began = time.monotonic()
    try:
        broker.start()
        return time.monotonic() - began
    finally:
        broker.stop()


def _cluster(root: Path) -> float:
    cluster = LocalCluster(root / "cluster", nodes=3)
    began = time.monotonic()
    try:
        cluster.start()
        return time.monotonic() - began
    finally:
        cluster.stop()


def measure(runs: int) -> dict[str, list[float]]:
    ensure_jars()
    out: dict[str, list[float]] = {"single": [], "cluster3": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="accord-timing-") as tmp:
            out["single"].append(_single(Path(tmp)))
        with tempfile.TemporaryDirectory(prefix="accord-timing-") as tmp:
            out["cluster3"].append(_cluster(Path(tmp)))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    configure_logging("WARNING")  # stdout carries the figures only
    results = measure(args.runs)
    lines = [f"kafka {KAFKA_VERSION}, {args.runs} runs, seconds from start() to ready"]
    for name, values in results.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        lines.append(f"{name:9} median {statistics.median(values):.2f}  (runs: {runs})")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
