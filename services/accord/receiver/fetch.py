"""What the receiver's fetches ask the broker to wait for.

A Kafka fetch names two bounds: answer once ``fetch_min_bytes`` are there, or once
``fetch_max_wait_ms`` has passed. The receiver keeps its next fetch on its way while
it verifies and lands a poll (``Receiver.run``), so records that arrive meanwhile
make up the next poll: under load polls grow by themselves, and a fetch need not
wait to fill. Hence the default, ``fetch_wait_ms`` 0:

- every fetch is answered as soon as a record is there (1 byte), and an empty one
  after 500 ms, Kafka's long poll. An idle node asks twice a second; the first
  message after a quiet spell does not wait out a fetch timer. Each fetch names
  every partition the node reads (48 for JPN.MOFA in the bench plan): fetches every
  10 ms made an idle node and its broker spend about 15 % and 26 % of a core on
  empty fetches (``python -m accord.bench.latency --rate 2``; docs/exchange.md).

``fetch_wait_ms`` N > 0 trades latency for CPU at moderate rates:

- **busy** (the last poll had records): up to 256 KiB or N ms. A poll then carries
  more messages at a few hundred a second, each waiting up to N ms longer, and its
  inbox transaction and signed receipt are shared among them.
- **idle** (a poll found nothing for N + 10 ms): the long poll above.

The switch costs nothing: the next fetch request simply carries the other pair.
"""

from __future__ import annotations

from typing import Any, Literal

from aiokafka import AIOKafkaConsumer

from accord.kafka import set_fetch_wait

FETCH_MIN_BYTES = 256 * 1024
"""What a busy fetch waits (at most ``fetch_wait_ms`` > 0) to fill: ~80 signed 1 KiB messages."""

IDLE_FETCH_WAIT_MS = 500
"""An idle fetch's bound: the broker answers at once when a record arrives, so this
only sets how often an idle node asks (Kafka's own default)."""

IDLE_AFTER_MS = 10
"""A poll that waits out one busy fetch and this much more with nothing to show
makes the node idle."""


def busy_fetch_bounds(fetch_wait_ms: int) -> tuple[int, int]:
    """``(fetch_min_bytes, fetch_max_wait_ms)`` while records are coming.

    0: answer at the first record, else after the idle long poll's 500 ms (no spin
    on empty fetches). N > 0: fill up to 256 KiB for at most N ms."""
    if fetch_wait_ms:
        return FETCH_MIN_BYTES, fetch_wait_ms
    return 1, IDLE_FETCH_WAIT_MS


Mode = Literal["busy", "idle"]


class FetchPacing:
    """Switches one consumer's fetches between the busy and the idle bounds.

    ``mode`` follows the polls even when the consumer cannot be switched (a test
    double): the node's idle-time work keys on it."""

    def __init__(self, fetch_wait_ms: int) -> None:
        self._busy = busy_fetch_bounds(fetch_wait_ms)
        self._idle = (1, IDLE_FETCH_WAIT_MS)
        self._busy_poll_ms = fetch_wait_ms + IDLE_AFTER_MS
        self.mode: Mode = "busy"

    @property
    def poll_timeout_ms(self) -> int:
        """How long the next poll waits for records before it returns empty."""
        return self._busy_poll_ms if self.mode == "busy" else IDLE_FETCH_WAIT_MS

    def consumer_options(self) -> dict[str, Any]:
        """The bounds a new consumer starts with: busy (a first empty poll makes it
        idle); a node that starts behind catches up in full fetches either way."""
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
