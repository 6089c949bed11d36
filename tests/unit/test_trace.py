"""W3C trace context: strict parsing, Kafka headers, binding onto log events, spans."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from accord.observability import trace
from accord.observability.logs import configure_logging, get_logger
from accord.observability.trace import (
    TRACEPARENT,
    TraceContext,
    bound,
    continue_or_start,
    headers_with_trace,
    parse_traceparent,
    trace_from_headers,
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """These tests point the one log setup at a buffer; put it back afterwards."""
    yield
    configure_logging("INFO", stream=sys.stderr)


VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_parses_the_recommendations_example() -> None:
    ctx = parse_traceparent(VALID)
    assert ctx == TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)
    assert ctx.traceparent == VALID
    assert parse_traceparent(VALID.encode()) == ctx
    assert parse_traceparent(VALID[:-2] + "00") == TraceContext(
        "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", False
    )


@pytest.mark.parametrize(
    "bad",
    [
        VALID.upper(),  # upper-case hex
        "01" + VALID[2:],  # unknown version
        "ff" + VALID[2:],  # the forbidden version
        VALID + "-",  # too long
        VALID[:-1],  # too short
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01",  # all-zero span id
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # wrong separator
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  # not hex
        "",
    ],
)
def test_rejects_anything_not_exactly_version_00(bad: str) -> None:
    assert parse_traceparent(bad) is None


def test_rejects_non_ascii_bytes_of_the_right_length() -> None:
    raw = VALID.encode()[:-1] + b"\xff"
    assert parse_traceparent(raw) is None


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    ctx = parse_traceparent(raw)
    assert ctx is None or ctx.traceparent.encode() == raw


def test_new_and_child() -> None:
    root = TraceContext.new(correlation_id="case-7")
    assert parse_traceparent(root.traceparent) == root.with_correlation(None)
    child = root.child()
    assert child.trace_id == root.trace_id
    assert child.span_id != root.span_id
    assert child.correlation_id == "case-7"
    assert TraceContext.new().trace_id != root.trace_id


def test_headers_round_trip_and_replace_an_earlier_traceparent() -> None:
    first, second = TraceContext.new(), TraceContext.new()
    headers = headers_with_trace([("other", b"x")], first)
    headers = headers_with_trace(headers, second)
    assert headers == [("other", b"x"), (TRACEPARENT, second.traceparent.encode())]
    assert trace_from_headers(headers, correlation_id="c") == second.with_correlation("c")


def test_missing_or_repeated_or_bad_header_gives_none() -> None:
    ctx = TraceContext.new()
    assert trace_from_headers(None) is None
    assert trace_from_headers([]) is None
    twice = [(TRACEPARENT, ctx.traceparent.encode())] * 2
    assert trace_from_headers(twice) is None
    assert trace_from_headers([(TRACEPARENT, b"garbage")]) is None


def test_continue_or_start() -> None:
    parent = TraceContext.new()
    cont = continue_or_start(headers_with_trace(None, parent), correlation_id="c")
    assert (cont.trace_id, cont.correlation_id) == (parent.trace_id, "c")
    assert cont.span_id != parent.span_id
    fresh = continue_or_start([(TRACEPARENT, b"garbage")])
    assert fresh.trace_id != parent.trace_id


def test_ids_are_fixed_width_hex_and_never_all_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    # An all-zero id is invalid (the recommendation), and a small number keeps its
    # leading zeros. One 192-bit draw makes both ids (trace id the high 128 bits):
    # it is drawn again while either is all zero, and both are padded.
    draws = iter([0, 7, 5 << 64, 5 << 64 | 7])
    asked: list[int] = []

    def draw(bits: int) -> int:
        asked.append(bits)
        return next(draws)

    monkeypatch.setattr(trace, "_getrandbits", draw)
    ctx = TraceContext.new()
    assert asked == [192] * 4
    assert ctx.trace_id == "0" * 31 + "5"
    assert ctx.span_id == "0" * 15 + "7"
    assert parse_traceparent(ctx.traceparent) == ctx


def test_a_child_keeps_an_unsampled_parents_flag() -> None:
    unsampled = VALID[:-2] + "00"
    child = continue_or_start([(TRACEPARENT, unsampled.encode())], correlation_id="c")
    assert (child.trace_id, child.sampled) == (VALID[3:35], False)
    assert child.traceparent.endswith("-00")
    assert len({TraceContext.new().span_id for _ in range(1000)}) == 1000


def _events(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_bound_puts_the_trace_on_every_event_and_only_inside() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    log = get_logger("test")
    ctx = TraceContext.new(correlation_id="case-7")
    with bound(ctx):
        assert trace.current() == ctx
        log.info("receiver.delivered", message_id="m1")
    log.info("receiver.idle")
    assert trace.current() is None
    inside, outside = _events(out)
    assert (inside["trace_id"], inside["span_id"], inside["correlation_id"]) == (
        ctx.trace_id,
        ctx.span_id,
        "case-7",
    )
    assert "trace_id" not in outside


async def test_concurrent_tasks_keep_their_own_trace() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    log = get_logger("test")

    async def handle(ctx: TraceContext) -> None:
        with bound(ctx):
            await asyncio.sleep(0)
            log.info("handled", for_trace=ctx.trace_id)

    await asyncio.gather(*(handle(TraceContext.new()) for _ in range(5)))
    # This test's own lines: the session's event loop may run another test's leftover
    # task meanwhile (a Kafka client retrying a stopped broker logs as it goes).
    events = [e for e in _events(out) if e["event"] == "handled"]
    assert len(events) == 5
    assert all(e["trace_id"] == e["for_trace"] for e in events)


def test_span_is_a_no_op_without_an_sdk() -> None:
    ctx = TraceContext.new()
    with trace.span("receive", ctx) as inner:
        assert inner == ctx  # no SDK: the context passes through unchanged
        # ... and is still bound for logging, as with an SDK
        assert trace.current() == ctx
    assert trace.current() is None


def test_span_binds_its_trace_for_logging_without_an_sdk() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    ctx = TraceContext.new()
    with trace.span("receive", ctx):
        get_logger("test").info("inside")
    get_logger("test").info("outside")
    inside, outside = _events(out)
    assert (inside["trace_id"], inside["span_id"]) == (ctx.trace_id, ctx.span_id)
    assert "trace_id" not in outside
    assert "span_id" not in outside


def test_nested_bindings_restore_the_outer_trace_and_events_keep_their_own_fields() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    log = get_logger("test")
    outer, inner = TraceContext.new(correlation_id="case-1"), TraceContext.new()
    with bound(outer):
        with bound(inner):
            log.info("inner")
        log.info("outer")
        log.info("explicit", trace_id="given", span_id="given")
    first, second, third = _events(out)
    assert (first["trace_id"], first["span_id"]) == (inner.trace_id, inner.span_id)
    assert "correlation_id" not in first  # the inner binding has none
    assert (second["trace_id"], second["correlation_id"]) == (outer.trace_id, "case-1")
    assert (third["trace_id"], third["span_id"], third["correlation_id"]) == (
        "given",
        "given",
        "case-1",
    )


def test_library_log_records_inside_a_binding_carry_the_trace() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    ctx = TraceContext.new()
    with bound(ctx):
        logging.getLogger("aiokafka.consumer").warning("coordinator dead")
    (event,) = _events(out)
    assert (event["logger"], event["trace_id"]) == ("aiokafka.consumer", ctx.trace_id)


def test_span_is_exported_under_the_message_trace_when_an_sdk_is_set() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ctx = TraceContext.new(correlation_id="case-7")
    with trace.span("receive", ctx, tracer=provider.get_tracer("accord"), topic="t") as inner:
        assert inner.trace_id == ctx.trace_id
        assert inner.span_id != ctx.span_id
    (span,) = exporter.get_finished_spans()
    assert span.name == "receive"
    assert f"{span.context.trace_id:032x}" == ctx.trace_id
    assert f"{span.context.span_id:016x}" == inner.span_id
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == ctx.span_id
    assert span.attributes is not None
    assert span.attributes["accord.correlation_id"] == "case-7"
    assert span.attributes["topic"] == "t"
