"""Scenario 4: per-sender sequence numbers reveal a withheld message.

A publisher seals a message (taking the next sequence number) and never sends
it, as a lost or suppressed message would look to a receiver. Claim: each
receiver counts every missing number in ``accord_sequence_gaps_total`` and logs a
``sequence-gap`` warning naming the sender, the topic and the numbers.
"""

from __future__ import annotations

import random
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from accord.config import KafkaConnection
from accord.receiver.inbox import read_message_ids as inbox_ids
from accord.soak.common import (
    BI,
    CT,
    RECEIVERS,
    SENDER,
    check_inboxes,
    label_for,
    report,
)
from accord.soak.exchange import new_exchange
from accord.soak.report import ScenarioResult
from accord.trust.pki import Pki

NAME = "gap"


async def run(
    connection: KafkaConnection,
    workdir: Path,
    *,
    messages: int = 2_000,
    withheld: int = 5,
    pki: Pki | None = None,
    seed: int | None = None,
    settle_s: float = 120.0,
) -> ScenarioResult:
    result = ScenarioResult(NAME)
    rng = random.Random(seed)  # noqa: S311 - reproducible fault points, not secrets
    # Never the first or last: a gap shows only when a later message arrives.
    holes = set(rng.sample(range(1, messages - 1), withheld))
    ex = new_exchange(connection, workdir / "exchange", pki=pki)
    events: list[MutableMapping[str, Any]]
    try:
        with capture_logs() as events:
            await ex.start_receivers(RECEIVERS)
            publisher = await ex.publisher(SENDER)
            label = label_for(SENDER)
            sent: list[str] = []
            for i in range(messages):
                header, envelope = publisher.seal(report(i), scope=BI, area=CT, label=label)
                if i in holes:
                    continue  # sealed, numbered, never sent
                await publisher.send(header, envelope)
                sent.append(str(header.message_id))
            await ex.settle({a: len(sent) for a in RECEIVERS}, within_s=settle_s)
            await ex.quiesce(idle_s=1.0, within_s=30)
        result.sent = result.acknowledged = len(sent)
        result.faults = withheld
        check_inboxes(result, sent, {a: inbox_ids(ex.inbox_path(a)) for a in RECEIVERS})
        topic = ex.plan.exchange_topic(BI, CT)
        gap_events = [e for e in events if e.get("event") == "receiver.sequence_gap"]
        for agency in RECEIVERS:
            receiver = ex.receivers[agency]
            result.gaps += receiver.stats.gaps
            metric = receiver.metrics.registry.get_sample_value(
                "accord_sequence_gaps_total",
                {"agency": agency, "sender": SENDER, "topic": topic},
            )
            result.figures[f"metric_{agency}"] = metric or 0.0
            logged = [e for e in gap_events if e.get("agency") == agency]
            result.figures[f"logged_{agency}"] = sum(int(e["missing"]) for e in logged)
        result.figures["withheld"] = withheld
        result.notes.append(f"withheld sequence numbers {sorted(h + 1 for h in holes)}")
    finally:
        await ex.stop()
    return result
