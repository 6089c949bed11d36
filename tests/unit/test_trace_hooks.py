"""Where the trace meets the message path, without a broker: the publisher's trace,
the receive step's view of the header, each delivery's trace, the receipt's header
and the handover outbox's stored traceparent."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from _receive import NODE, MemoryProducer, pki, plan, records, run, sealed

from accord.envelope import Header, envelope_payload_sha256
from accord.handover import Outbox
from accord.handover.outbox import ensure_schema
from accord.observability.trace import TRACEPARENT, TraceContext, bound, parse_traceparent
from accord.publisher.service import _trace_for
from accord.receipts import ReceiptSender
from accord.receiver.inbox import Inbox
from accord.receiver.traces import DeliveryTraces

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    box = Inbox(tmp_path / "inbox.sqlite", outbox=True)
    yield box
    box.close()


def _header(correlation: uuid.UUID | None) -> Header:
    header, _ = sealed("AUS.DFAT", 1)
    return header.model_copy(update={"correlation_id": correlation})


def test_a_send_starts_a_trace_or_continues_the_callers_with_the_correlation_id() -> None:
    cid = uuid.uuid4()
    fresh = _trace_for(_header(cid))
    assert fresh.correlation_id == str(cid)
    assert _trace_for(_header(None)).correlation_id is None
    caller = parse_traceparent(VALID)
    assert caller is not None
    with bound(caller):
        continued = _trace_for(_header(cid))
    assert continued.trace_id == caller.trace_id
    assert continued.span_id != caller.span_id
    assert continued.correlation_id == str(cid)


@pytest.mark.parametrize("value", [VALID.encode(), b"garbage", b"\xff" * 55, b""])
def test_the_traceparent_header_is_never_a_mirror_and_never_refuses_a_message(
    inbox: Inbox,
    value: bytes,
) -> None:
    (rec,) = records(sealed("AUS.DFAT", 1))
    rec = replace(rec, headers=(*rec.headers, (TRACEPARENT, value)))
    out = run([rec], inbox)
    assert out.quarantined == []
    assert [d.sequence for d in out.deliveries] == [1]


def test_each_delivery_continues_its_records_trace_or_gets_a_fresh_one(inbox: Inbox) -> None:
    cid = uuid.uuid4()
    good, bad, twice, none = records(*(sealed("AUS.DFAT", i) for i in range(1, 5)))
    good = replace(good, headers=(*good.headers, (TRACEPARENT, VALID.encode())))
    bad = replace(bad, headers=(*bad.headers, (TRACEPARENT, VALID.upper().encode())))
    # Two traceparents: the recommendation says invalid, so a fresh trace.
    twice = replace(
        twice,
        headers=(*twice.headers, (TRACEPARENT, VALID.encode()), (TRACEPARENT, VALID.encode())),
    )
    batch = [good, bad, twice, none]
    out = run(batch, inbox)
    for d in out.deliveries:  # a correlation id from the signed header
        v = out.accepted[d.sender, d.message_id]
        out.accepted[d.sender, d.message_id] = replace(
            v, header=v.header.model_copy(update={"correlation_id": cid})
        )
    traces = DeliveryTraces([batch], out)
    by_offset = {d.offset: traces[d.sender, d.message_id] for d in out.deliveries}
    assert len(traces) == 4
    assert all(traces[d.sender, d.message_id] is by_offset[d.offset] for d in out.deliveries)
    assert by_offset[0].trace_id == VALID.split("-")[1]
    assert by_offset[0].span_id != VALID.split("-")[2]  # the receiver's own span
    fresh = [by_offset[i].trace_id for i in (1, 2, 3)]
    assert VALID.split("-")[1] not in fresh
    assert len(set(fresh)) == 3
    assert all(parse_traceparent(t.traceparent) for t in by_offset.values())
    assert {t.correlation_id for t in by_offset.values()} == {str(cid)}


async def test_a_receipt_record_carries_the_trace_of_the_message_it_acknowledges() -> None:
    items = []
    for i in (1, 2):
        header, raw = sealed("AUS.DFAT", i)
        items.append((header, envelope_payload_sha256(raw)))
    trace = TraceContext.new()
    traces = {(items[1][0].sender, str(items[1][0].message_id)): trace}
    sender = ReceiptSender(
        topic=plan().receipts_topic, signer=pki().signer(NODE), status="delivered", timeout_s=5
    )
    producer = MemoryProducer()
    await sender.send(producer, items, iter(range(1, 9)).__next__, traces=traces)
    await sender.send(producer, items, iter(range(9, 19)).__next__)
    (_, _, _, traced), (_, _, _, untraced) = producer.sent
    found = parse_traceparent(dict(traced)[TRACEPARENT])
    assert found is not None
    assert found.trace_id == trace.trace_id
    assert found.span_id != trace.span_id
    assert TRACEPARENT not in dict(untraced)


def test_the_outbox_keeps_each_rows_traceparent_and_an_old_outbox_gains_the_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inbox.sqlite"
    old = sqlite3.connect(path)
    old.executescript("""CREATE TABLE handover (
        sender TEXT NOT NULL, message_id TEXT NOT NULL, webhook_id TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        enqueued_at REAL NOT NULL, next_attempt_at REAL NOT NULL, last_error TEXT,
        delivered_at REAL, force INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (sender, message_id));""")
    old.execute(
        "INSERT INTO handover (sender, message_id, webhook_id, enqueued_at,"
        " next_attempt_at) VALUES ('AUS.DFAT', 'm0', 'w', 0, 0)"
    )
    old.commit()
    ensure_schema(old)
    old.close()
    inbox = Inbox(path, outbox=True)
    outbox = Outbox(path)
    try:
        (rec,) = records(sealed("AUS.DFAT", 1))
        out = run([rec], inbox)
        (d,) = out.deliveries
        inbox.land(out.deliveries, out.offsets, traces={(d.sender, d.message_id): VALID})
        assert outbox.traceparent((d.sender, d.message_id)) == VALID
        assert outbox.traceparent(("AUS.DFAT", "m0")) is None  # from before: fresh trace
        assert [r.message_id for r in outbox.rows()] == ["m0", d.message_id]
    finally:
        outbox.close()
        inbox.close()


def test_an_inbox_landed_without_traces_leaves_the_traceparent_empty(inbox: Inbox) -> None:
    (rec,) = records(sealed("AUS.DFAT", 1))
    out = run([rec], inbox)
    inbox.land(out.deliveries, out.offsets)
    (d,) = out.deliveries
    outbox = Outbox(inbox.path)
    try:
        assert outbox.get(d.sender, d.message_id) is not None
        assert outbox.traceparent((d.sender, d.message_id)) is None
    finally:
        outbox.close()
