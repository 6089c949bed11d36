"""``accord receive`` with (b)'s landing probe: the deployed run's receiving node.

    python -m accord.bench.probed_node OUT.json [--stages] -- --log-json receive ...

Runs the real ``accord`` command line unchanged, with one addition: every
``Inbox.land`` that lands messages records, as it returns (the inbox transaction
has committed), each landed message's ``issued_at`` and that instant. The pairs are
written to ``OUT.json`` as the process exits (SIGTERM lets the node finish and
exit normally). So the deployed figures end at the same point as (b)'s
``LandProbe``: after the inbox commit, not as the landing transaction begins.

Each landing also records the loop thread's CPU clock and run-queue wait as it begins
and ends (``accord.bench.node_time``, written beside ``OUT.json``), so the run's wall
time splits into on a core, waiting for one, waiting on the inbox's syncs, and the rest.

``--stages`` adds three stamps per message, so its latency splits into stages (``python
-m accord.bench.latency --stages``): its record's timestamp (set by the publisher's
Kafka client as the record joined a batch, in ms), when the poll that took it reached
the node's batch work, and when its landing transaction began.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accord.bench import node_time

Stamps = tuple[float, float, float, float, float]
"""One landed message: ``issued_at``, its record's timestamp, its poll, the landing's
start and its commit, in seconds since the epoch."""


def install(out: Path, *, stages: bool = False) -> None:
    from accord.receiver import service
    from accord.receiver.inbox import Delivery, Inbox, Landing, StatusChange

    landings: list[tuple[float, ...]] = []
    times: list[node_time.LandingTime] = []
    polled: dict[tuple[str, int, int], tuple[float, float]] = {}
    land = Inbox.land

    def timed(
        self: Inbox,
        deliveries: Iterable[Delivery],
        offsets: dict[tuple[str, int], int],
        status_changes: Iterable[StatusChange] = (),
        **options: Any,
    ) -> Landing:
        batch = list(deliveries)
        began = node_time.start()
        started = time.time()
        landing = land(self, batch, offsets, status_changes, **options)
        if landing.landed:
            now = datetime.now(UTC).timestamp()
            took = node_time.landing_time(began)
            if took is not None:
                times.append(took)
            fresh = set(landing.landed)
            for d in batch:
                if (d.sender, d.message_id) not in fresh:
                    continue
                row: tuple[float, ...] = (d.issued_at.timestamp(), now)
                if stages:
                    record, poll = polled.get((d.topic, d.partition, d.offset), (now, now))
                    row = (*row, record, poll, started)
                landings.append(row)
        return landing

    setattr(Inbox, "land", timed)  # noqa: B010 - replaced in this process only, on purpose
    if stages:
        process = service.Receiver._process

        async def stamped(self: service.Receiver, batch: dict[Any, list[Any]]) -> None:
            now = time.time()
            polled.clear()  # one poll's records are landed by that poll's work
            for tp, records in batch.items():
                for r in records:
                    polled[(tp.topic, tp.partition, r.offset)] = (r.timestamp / 1000, now)
            await process(self, batch)

        setattr(service.Receiver, "_process", stamped)  # noqa: B010 - as above

    def save() -> None:
        out.write_text(json.dumps(landings), encoding="ascii")
        node_time.save_landing_times(times, landing_times_path(out))

    atexit.register(save)


def read_landings(path: Path) -> list[tuple[datetime, datetime]]:
    """(issued_at, landed_at) pairs the probed node wrote."""
    rows = json.loads(path.read_text(encoding="ascii"))
    return [(datetime.fromtimestamp(r[0], UTC), datetime.fromtimestamp(r[1], UTC)) for r in rows]


def read_stages(path: Path) -> list[Stamps]:
    """Every landed message's ``Stamps``, from a node probed with ``--stages``."""
    rows = json.loads(path.read_text(encoding="ascii"))
    return [(r[0], r[2], r[3], r[4], r[1]) for r in rows if len(r) == 5]


def landing_times_path(out: Path) -> Path:
    """Where the node writes each landing's ``node_time.LandingTime``, beside ``out``."""
    return out.with_name(out.stem + "-times.json")


def main(argv: list[str]) -> None:
    out, *rest = argv
    stages = rest[:1] == ["--stages"]
    separator, *accord_args = rest[1:] if stages else rest
    if separator != "--":
        raise SystemExit("usage: python -m accord.bench.probed_node OUT.json [--stages] -- ARGS")
    install(Path(out), stages=stages)
    from accord.cli.main import main as accord_main

    sys.argv = ["accord", *accord_args]
    accord_main()


if __name__ == "__main__":
    main(sys.argv[1:])
