"""Where a bench runs: a broker, a temporary directory and a PKI for the plan's agencies.

One way for every bench command (``accord bench``, ``python -m accord.bench.latency``,
``python -m accord.bench.produce_batch``): a plain ``LocalBroker`` started in the
directory and stopped afterwards, or an existing PLAINTEXT broker (``bootstrap``,
whose CPU is measured only when its process id on this machine is given,
``broker_pid``).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from accord.config import KafkaConnection
from accord.plan import load_plan
from accord.trust.pki import Pki, provision


@dataclass(frozen=True)
class BenchSite:
    connection: KafkaConnection
    directory: Path
    pki: Pki
    broker_pid: int | None
    """The broker's process, for its CPU: the local broker's, or with ``bootstrap`` the
    one given; None when unknown."""


@contextlib.asynccontextmanager
async def bench_site(
    prefix: str,
    *,
    bootstrap: str | None = None,
    broker_pid: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> AsyncIterator[BenchSite]:
    """``broker_pid``: the process of the ``bootstrap`` broker, on this machine."""
    from accord.broker import LocalBroker

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        broker: LocalBroker | None = None
        if bootstrap:
            conn = KafkaConnection(bootstrap_servers=bootstrap)
        else:
            progress("starting a local Kafka broker")
            broker = LocalBroker(root / "kafka", mode="plain")
            await asyncio.to_thread(broker.start)
            conn = broker.connection()
        try:
            pki = await asyncio.to_thread(provision, root / "pki", load_plan(None).agencies)
            yield BenchSite(conn, root, pki, broker.pid if broker is not None else broker_pid)
        finally:
            if broker is not None:
                await asyncio.to_thread(broker.stop)
