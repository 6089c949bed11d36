"""What a receiving node logs per landed batch: one INFO line per batch, a DEBUG line
per message (issue 16). The node's own loop runs over the in-memory consumer and
producer of ``accord.bench.receive_costs``; the log lines are the real JSON lines."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

from accord.bench.receive_costs import NODE, MemoryConsumer, prepare
from accord.bench.sink import AckingProducer
from accord.config import KafkaConnection, ReceiverSettings
from accord.observability.logs import configure_logging
from accord.receiver import Receiver


async def landed_lines(tmp_path: Path, level: str) -> list[dict[str, Any]]:
    material = prepare(4, 256, tmp_path / "material")
    three = {tp: records[:3] for tp, records in material.batches(4)[0].items()}
    one = {tp: records[3:] for tp, records in material.batches(4)[0].items()}
    consumer = MemoryConsumer([three, one])
    out = io.StringIO()
    configure_logging(level, json=True, stream=out)
    try:
        receiver = Receiver(
            agency=NODE,
            connection=KafkaConnection(bootstrap_servers="127.0.0.1:9"),  # never dialled
            plan=material.plan,
            trust=material.pki.trust_store(),
            signer=material.pki.signer(NODE),
            inbox_path=tmp_path / "inbox.sqlite",
            settings=ReceiverSettings(follow_trust=False),
            consumer_factory=lambda *_a, **_k: consumer,
            producer_factory=lambda *_a, **_k: AckingProducer(),
        )
        consumer.drained = receiver.request_stop
        await receiver.start()
        try:
            await receiver.run()
        finally:
            await receiver.stop()
    finally:
        configure_logging("INFO", stream=sys.stderr)
    assert receiver.stats.delivered == 4
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    return [e for e in events if e["event"] in ("receiver.batch_landed", "receiver.delivered")]


async def test_at_info_a_node_writes_one_line_per_batch_naming_a_lone_message(
    tmp_path: Path,
) -> None:
    lines = await landed_lines(tmp_path, "INFO")
    assert [(e["event"], e["messages"]) for e in lines] == [
        ("receiver.batch_landed", 3),
        ("receiver.batch_landed", 1),
    ]
    many, lone = lines
    assert "message_id" not in many
    assert "trace_id" not in many
    assert lone["sender"] == "AUS.AFP"
    assert len(lone["trace_id"]) == 32
    assert lone["message_id"]
    assert many["duplicates"] == many["rejected"] == 0


async def test_at_debug_each_message_has_its_own_line_too(tmp_path: Path) -> None:
    lines = await landed_lines(tmp_path, "DEBUG")
    assert [e["event"] for e in lines] == [
        *["receiver.delivered"] * 3,
        "receiver.batch_landed",
        "receiver.delivered",
        "receiver.batch_landed",
    ]
    assert all(len(e["trace_id"]) == 32 for e in lines if e["event"] == "receiver.delivered")
