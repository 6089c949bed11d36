"""What the receiver's fetches ask the broker to wait for: batch under load, long-poll when idle.

A Kafka fetch names two bounds: answer once ``fetch_min_bytes`` are there, or once
``fetch_max_wait_ms`` has passed. Neither fixed pair suits a node that is sometimes
busy and mostly idle:

- **busy** (the last poll had records): up to 256 KiB or ``fetch_wait_ms`` (10 ms by
  default). Under load a poll then carries many messages, and its inbox
  transaction and signed receipt are shared among them.
- **idle** (a poll found nothing for ``fetch_wait_ms`` + 10 ms): 1 byte or 500 ms,
  Kafka's long poll. The broker answers the moment a record is written, so the
  first message after a quiet spell does not wait out a fetch timer, and an idle
  node asks twice a second instead of every 10 ms. Each fetch names every
  partition the node reads (48 for JPN.MOFA in the bench plan): at 10 ms, an idle
  node and its broker spent about 15 % and 26 % of a core on empty fetches
  (``python -m accord.bench.latency --rate 2``; docs/exchange.md has the figures).

The switch costs nothing: the next fetch request simply carries the other pair.
"""

from __future__ import annotations

from typing import Any, Literal

from aiokafka import AIOKafkaConsumer

from accord.kafka import set_fetch_wait

FETCH_MIN_BYTES = 256 * 1024
"""What a busy fetch waits (at most ``fetch_wait_ms``) to fill: ~80 signed 1 KiB messages.

Returning as soon as anything is there (Kafka's default, 1 byte) even under load was
tried in issue 16: a node that publishes and receives in one process then polled a
few records at a time, and (b) fell from 649 to 411 msgs/s (docs/exchange.md)."""

IDLE_FETCH_WAIT_MS = 500
"""An idle fetch's bound: the broker answers at once when a record arrives, so this
only sets how often an idle node asks (Kafka's own default)."""

IDLE_AFTER_MS = 10
"""A poll that waits out one busy fetch and this much more with nothing to show
makes the node idle."""

Mode = Literal["busy", "idle"]


class FetchPacing:
    """Switches one consumer's fetches between the busy and the idle bounds.

    ``mode`` follows the polls even when the consumer cannot be switched (a test
    double): the node's idle-time work keys on it."""

    def __init__(self, fetch_wait_ms: int) -> None:
        # fetch_wait_ms 0: never hold a fetch that has anything to return.
        self._busy = (FETCH_MIN_BYTES if fetch_wait_ms else 1, fetch_wait_ms)
        self._idle = (1, IDLE_FETCH_WAIT_MS)
        self._busy_poll_ms = fetch_wait_ms + IDLE_AFTER_MS
        self.mode: Mode = "busy"

    @property
    def poll_timeout_ms(self) -> int:
        """How long the next poll waits for records before it returns empty."""
        return self._busy_poll_ms if self.mode == "busy" else IDLE_FETCH_WAIT_MS

    def consumer_options(self) -> dict[str, Any]:
        """The bounds a new consumer starts with: busy, so a node that starts behind
        catches up in large fetches (a first empty poll makes it idle)."""
        self.mode = "busy"
        min_bytes, wait_ms = self._busy
        return {"fetch_min_bytes": min_bytes, "fetch_max_wait_ms": wait_ms}

    def after_poll(self, consumer: AIOKafkaConsumer, had_records: bool) -> None:
        """Pace the consumer's next fetches by what its last poll returned."""
        mode: Mode = "busy" if had_records else "idle"
        if mode == self.mode:
            return
        min_bytes, wait_ms = self._busy if had_records else self._idle
        set_fetch_wait(consumer, min_bytes=min_bytes, max_wait_ms=wait_ms)
        self.mode = mode
