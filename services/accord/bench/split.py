"""(b) taken apart: the publisher alone, then the receiver alone.

The pipeline figure (b) runs the publisher and the receiver in one process,
beside the broker, on two cores. These two figures say what each side can do by
itself: publish-only seals and sends ``count`` messages with nobody consuming;
receive-only then starts a receiver on that backlog and times the drain into its
inbox (group join included). Receipts and announcements are on, as in (b).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from accord.bench.figures import Rate
from accord.bench.pipeline import (
    RECEIVERS,
    SENDER,
    bench_body,
    bench_label,
    bench_plan,
    publish_many,
)
from accord.config import FETCH_WAIT_MS, KafkaConnection
from accord.exchange import LocalExchange
from accord.trust.pki import Pki


async def split_rates(
    conn: KafkaConnection,
    directory: Path,
    pki: Pki,
    count: int,
    body_size: int = 1024,
    fetch_wait_ms: int = FETCH_WAIT_MS,
) -> tuple[Rate, Rate]:
    ex = LocalExchange(plan=bench_plan(), connection=conn, directory=directory, pki=pki)
    await asyncio.to_thread(ex.apply)
    try:
        publisher = await ex.publisher(SENDER)
        start = time.perf_counter()
        await publish_many(publisher, count, bench_body(0, body_size), bench_label())
        publish = Rate("publish-only", count, time.perf_counter() - start)

        start = time.perf_counter()
        await ex.start_receiver(RECEIVERS[0], fetch_wait_ms=fetch_wait_ms)
        if not await ex.settle({RECEIVERS[0]: count}, within_s=600):
            raise RuntimeError("receive-only drain did not complete")
        receive = Rate("receive-only", count, time.perf_counter() - start)
    finally:
        await ex.stop()
    return publish, receive
