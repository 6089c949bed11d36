"""One log stream: stdlib records (aiokafka, librdkafka) come out as the same JSON
lines as accord's own events, and an outage's repeated errors collapse."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from accord.observability.logs import Collapse, configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """These tests point the one log setup at a buffer; put it back afterwards."""
    yield
    configure_logging("INFO", stream=sys.stderr)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_stdlib_records_are_json_like_accords_own() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    get_logger("accord.test").warning("receiver.stalled", agency="JPN.NPA", password="x")
    logging.getLogger("aiokafka.conn").error("Unable connect to node with id %d", 1)
    logging.getLogger("aiokafka.conn").info("chatter below WARNING is not wanted")
    own, lib = _lines(out)
    assert own["event"] == "receiver.stalled"
    assert own["password"] == "***"
    assert lib["event"] == "Unable connect to node with id 1"
    assert lib["logger"] == "aiokafka.conn"
    assert lib["level"] == "error"
    assert {"timestamp", "level", "event"} <= set(own) & set(lib)


def test_stdlib_exceptions_render_inside_the_json_line() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("aiokafka").exception("Unexpected error in sender")
    (line,) = _lines(out)
    assert "RuntimeError: boom" in str(line["exception"])


def test_collapse_lets_the_first_through_then_a_count_per_window() -> None:
    clock = _Clock()
    collapse = Collapse(10.0, clock=clock)
    assert collapse.admit("error|conn refused 127.0.0.1:9092 after 3ms") == 1
    for ms in range(50):  # digits differ, the line is the same
        clock.now += 0.1
        assert collapse.admit(f"error|conn refused 127.0.0.1:9092 after {ms}ms") is None
    clock.now += 6.0
    assert collapse.admit("error|conn refused 127.0.0.1:9092 after 1ms") == 51
    assert collapse.admit("error|another error") == 1


def test_collapse_remembers_a_bounded_number_of_lines() -> None:
    collapse = Collapse(10.0, max_keys=3, clock=_Clock())
    for word in ("a", "b", "c", "d"):
        assert collapse.admit(f"error|{word}") == 1
    assert collapse.admit("error|a") == 1  # forgotten, so it counts as new


def test_an_outage_of_library_errors_collapses_in_the_stream() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out, collapse_s=3600)
    conn = logging.getLogger("aiokafka.conn")
    for attempt in range(500):
        conn.error("Unable connect to node with id 1: attempt %d", attempt)
    get_logger("accord.test").error("publish-failed", message_id="m1")
    get_logger("accord.test").error("publish-failed", message_id="m1")
    get_logger("accord.test").info("receiver.started")
    get_logger("accord.test").info("receiver.started")  # info is never collapsed
    events = [e["event"] for e in _lines(out)]
    assert events == [
        "Unable connect to node with id 1: attempt 0",
        "publish-failed",
        "receiver.started",
        "receiver.started",
    ]


def test_the_count_is_on_the_line_after_the_window() -> None:
    clock = _Clock()
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out, collapse_s=0)  # plain handler first
    collapse = Collapse(5.0, clock=clock)
    root = logging.getLogger()
    root.handlers[0].addFilter(collapse)
    lib = logging.getLogger("aiokafka")
    lib.error("Connection refused")
    lib.error("Connection refused")
    lib.error("Connection refused")
    clock.now += 5.0
    lib.error("Connection refused")
    first, later = _lines(out)
    assert "repeated" not in first
    assert later["repeated"] == 3
