"""The three per-message figures a hot-path change moves, as one JSON line.

    python -m accord.bench.hot_paths                       # 4000 records, best of 3 / 2 / 2
    python -m accord.bench.hot_paths --messages 8000 --label after

For comparing two trees of accord on this noisy machine: run it in each checkout in
turn, several times, alternating (``PYTHONPATH=CHECKOUT/services``), and compare the
medians and the minimums of each figure. Each figure is CPU µs per message
(``time.process_time``):

- ``verify``: ``verify_any`` over pre-signed batched records with a root cache, as the
  receiver verifies (best of 3 passes; ``receive_costs``' material);
- ``receiver``: the receiving node's own loop over them, at INFO as deployed, JSON
  lines to /dev/null (best of 2; ``receive_costs.stage_receiver``);
- ``publisher``: the whole publisher, ``publish_many`` into an acknowledging
  in-memory producer, signing in batches (best of 2; ``costs.publisher_cost``).

The same stages as ``python -m accord.bench.receive_costs`` and ``python -m
accord.bench.costs``, without their other rows, so that many alternated runs fit in a
few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from accord.bench import costs, receive_costs
from accord.envelope.batch import RootCache
from accord.envelope.jws import verify_any
from accord.observability.logs import configure_logging


def measure(messages: int, directory: Path) -> dict[str, float]:
    material = receive_costs.prepare(messages, 1024, directory)
    trust, now, roots = material.pki.trust_store(), datetime.now(UTC), RootCache()
    records = [(r.value or b"", r.topic) for r in material.records]

    def verify_pass() -> float:
        start = time.process_time()
        for value, topic in records:
            verify_any(value, trust, topic=topic, now=now, roots=roots)
        return (time.process_time() - start) / messages * 1e6

    verify_pass()  # warm: the root verified and cached, as in a running node
    verify = min(verify_pass() for _ in range(3))
    receiver = min(
        receive_costs.stage_receiver(material, 100, round_=r) / messages * 1e6 for r in range(2)
    )
    (directory / "publisher").mkdir()
    fixture = costs.Fixture(directory / "publisher", messages)
    publisher = min(costs.publisher_cost(fixture, "batched") for _ in range(2))
    return {"verify": verify, "receiver": receiver, "publisher": publisher}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accord.bench.hot_paths", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--label", default="", help="a name for this tree in the output")
    args = parser.parse_args(argv)
    with open(os.devnull, "w") as sink, tempfile.TemporaryDirectory(prefix="accord-hot-") as tmp:
        configure_logging("INFO", json=True, stream=sink)
        try:
            figures = measure(args.messages, Path(tmp))
        finally:
            configure_logging("WARNING", stream=sys.stderr)
    line = {"label": args.label, **{k: round(v, 1) for k, v in figures.items()}}
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
