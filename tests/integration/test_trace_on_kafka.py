"""One trace across nodes, over a real broker and a real agency endpoint.

A message published with a correlation id: the publisher's and the receiver's log
events, the receipt record's ``traceparent`` header and the handover request's
``traceparent`` all name the publish's trace id, and the correlation id is on each
event. A record whose ``traceparent`` is malformed still lands, in a fresh trace.
The receiving node's offset commits carry their time (``accord status``) and its
``/metrics`` registry exports the trust feed's health.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _agency_endpoint import AgencyEndpoint
from _exchange import label_for, report, until
from click.testing import CliRunner

from accord.areas import Area
from accord.cli.main import _register, cli
from accord.exchange import LocalExchange
from accord.handover import Endpoint, HandoverPolicy, new_secret, parse_secret
from accord.kafka import close_consumer, close_producer, new_consumer, new_producer, start_producer
from accord.observability.logs import configure_logging
from accord.observability.trace import TRACEPARENT, TraceContext, parse_traceparent
from accord.parties import Scope
from accord.plan import dump_plan
from accord.publisher import routing_headers
from accord.status import read_status

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM
FAST = HandoverPolicy(
    concurrency=2, timeout_s=2.0, backoff_initial_s=0.1, backoff_max_s=0.4, poll_s=0.2
)
SENDER, NODE = "AUS.AFP", "JPN.NPA"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "assessment.yaml"

_register()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Point the one log setup at a buffer of JSON lines; put it back afterwards."""
    out = io.StringIO()
    # DEBUG: publisher.published and receiver.delivered (per message) are debug lines.
    configure_logging("DEBUG", json=True, stream=out)
    yield out
    configure_logging("INFO", stream=sys.stderr)


def events(out: io.StringIO, name: str, message_id: str) -> list[dict[str, Any]]:
    lines = (json.loads(line) for line in out.getvalue().splitlines())
    return [e for e in lines if e.get("event") == name and e.get("message_id") == message_id]


async def receipt_trace(exchange: LocalExchange, agency: str) -> TraceContext | None:
    """The trace on the first receipt record ``agency`` signed, read from the topic."""
    consumer = new_consumer(exchange.connection, exchange.plan.receipts_topic, group_id=None)
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    if r.key == agency.encode():
                        values = [v for k, v in r.headers if k == TRACEPARENT]
                        return parse_traceparent(values[0]) if values else None
        return None
    finally:
        await close_consumer(consumer, timeout_s=10)


@pytest.mark.kafka
async def test_one_trace_joins_publish_receive_receipt_and_handover(
    exchange: LocalExchange,
    log_lines: io.StringIO,
) -> None:
    secret = new_secret()
    endpoint = AgencyEndpoint(secret)
    await endpoint.start()
    cid = uuid.uuid4()
    try:
        receiver = await exchange.start_receiver(
            NODE, handover=Endpoint(endpoint.url, parse_secret(secret), FAST), follow_trust=True
        )
        pub = await exchange.publisher(SENDER)
        result = await pub.publish(
            report(1), scope=BI, area=CT, label=label_for(SENDER, BI), correlation_id=cid
        )
        assert await endpoint.wait_for({result.message_id})
        on_receipt = await receipt_trace(exchange, NODE)
        on_announcement = await receipt_trace(exchange, SENDER)  # the publisher's "published"
        assert await until(
            lambda: bool(events(log_lines, "handover.handed_over", result.message_id))
        )

        # Trust health is exported by the node itself, read at scrape time (once the
        # feed's first poll has reached the topic: a fresh topic may still be electing
        # its leader).
        def feed_polled_at() -> float | None:
            value: float | None = receiver.metrics.registry.get_sample_value(
                "accord_trust_feed_last_poll_timestamp_seconds", {"agency": NODE}
            )
            return value

        assert await until(lambda: feed_polled_at() is not None)
        feed_polled = feed_polled_at()
        (group,) = await read_status(exchange.connection, exchange.plan, [NODE])
    finally:
        await endpoint.stop()

    trace_id = result.trace_id
    assert trace_id is not None
    on_handover = parse_traceparent(endpoint.traceparents[result.message_id])
    assert on_receipt is not None
    assert on_handover is not None
    assert on_announcement is not None
    assert on_receipt.trace_id == on_handover.trace_id == on_announcement.trace_id == trace_id
    seen = {}
    for name, agency in (
        ("publisher.published", None),
        ("receiver.delivered", NODE),
        ("receiver.receipt_sent", NODE),
        ("handover.handed_over", NODE),
    ):
        (event,) = events(log_lines, name, result.message_id)
        assert event["trace_id"] == trace_id, name
        assert event["correlation_id"] == str(cid), name
        assert event.get("agency") == agency, name
        seen[name] = event["span_id"]
    # A span per hop: the publish, the receive (its receipt logged there), the receipt
    # record, the handover request (its events logged in it).
    assert seen["receiver.receipt_sent"] == seen["receiver.delivered"]
    assert seen["handover.handed_over"] == on_handover.span_id
    spans = {
        seen["publisher.published"],
        seen["receiver.delivered"],
        on_receipt.span_id,
        on_handover.span_id,
    }
    assert len(spans) == 4

    assert feed_polled is not None
    committed = [p for p in group.partitions if p.committed]
    assert committed
    assert all(p.last_commit is not None for p in committed)


@pytest.mark.kafka
async def test_a_malformed_traceparent_still_lands_the_message_in_a_fresh_trace(
    exchange: LocalExchange,
    log_lines: io.StringIO,
) -> None:
    receiver = await exchange.start_receiver(NODE)
    pub = await exchange.publisher(SENDER)
    header, envelope = pub.seal(report(1), scope=BI, area=CT, label=label_for(SENDER, BI))
    bad = b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"  # upper case: invalid
    producer = new_producer(exchange.connection)
    await start_producer(producer, timeout_s=30)
    try:
        await producer.send_and_wait(
            header.topic,
            value=envelope,
            key=header.sender.encode(),
            headers=[*routing_headers(header), (TRACEPARENT, bad)],
        )
    finally:
        await close_producer(producer, timeout_s=10)

    assert await exchange.settle({NODE: 1}, within_s=60)
    assert receiver.inbox.count() == 1
    assert receiver.stats.rejected == {}
    (delivered,) = events(log_lines, "receiver.delivered", str(header.message_id))
    assert re.fullmatch(r"[0-9a-f]{32}", delivered["trace_id"])
    assert delivered["trace_id"] != bad.decode().split("-")[1].lower()
    assert "correlation_id" not in delivered  # the signed header carries none


@pytest.mark.kafka
async def test_the_cli_publishes_with_a_correlation_id_that_the_receiver_logs(
    exchange: LocalExchange,
    tmp_path: Path,
) -> None:
    env = {
        "ACCORD_BOOTSTRAP_SERVERS": exchange.connection.bootstrap_servers,
        "ACCORD_PLAN": str(dump_plan(exchange.plan, tmp_path / "plan.yaml")),
        "ACCORD_PKI_DIR": str(exchange.pki.bundle_path.parent),
        "ACCORD_SECURITY_PROTOCOL": "",
        "ACCORD_KAFKA_USERNAME": "",
        "ACCORD_KAFKA_PASSWORD": "",
    }
    cid = uuid.uuid4()
    # JPN.MOFA, bilateral strategic assessments: AUS.DFAT receives it.
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        [
            "--log-level",
            "CRITICAL",
            "publish",
            "--agency",
            "JPN.MOFA",
            "--data-dir",
            str(tmp_path / "pub"),
            "--correlation-id",
            str(cid),
            str(EXAMPLE),
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    published = json.loads(result.output.splitlines()[-1])
    out = io.StringIO()
    configure_logging("DEBUG", json=True, stream=out)
    try:
        await exchange.start_receiver("AUS.DFAT")
        assert await exchange.settle({"AUS.DFAT": 1}, within_s=60)
    finally:
        configure_logging("INFO", stream=sys.stderr)
    (delivered,) = events(out, "receiver.delivered", published["message_id"])
    assert delivered["correlation_id"] == str(cid)
    assert delivered["trace_id"] == published["trace_id"]
