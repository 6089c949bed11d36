"""The one logger setup: structlog, JSON lines; a readable console when stderr is a TTY.

Every module gets its logger with ``get_logger(__name__)`` and logs events with
stable field names (message_id, sender, agency, topic, partition, offset,
latency_ms). Secrets never go into an event: fields whose names look like secrets
are masked by a processor as a last line of defence.

One stream: libraries that log through the stdlib (aiokafka; librdkafka through
the ``logger`` that ``accord.kafka`` gives each confluent-kafka client) are
rendered by the same processors through structlog's ``ProcessorFormatter``, so an
operator's log is JSON from the first line to the last. During an outage those
libraries repeat one error many times a second: ``Collapse`` lets the first
through, then one line every ``collapse_s`` seconds carrying ``repeated``, the
number of identical lines it stands for. docs/logs.md lists the events.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TextIO

import structlog

from accord.observability.trace import merge_trace

_SECRET_WORDS = ("password", "passphrase", "secret", "private_key", "token")

# Fields that differ between otherwise identical lines and so are not part of what
# makes two lines "the same".
_VOLATILE = frozenset({"timestamp", "repeated"})
_DIGITS = re.compile(r"\d+")
_KEY_CHARS = 500  # of each line's identity: bounds the work and memory per line


def _mask_secrets(
    _logger: Any, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    for key in list(event_dict):
        if any(word in key.lower() for word in _SECRET_WORDS):
            event_dict[key] = "***"
    return event_dict


class Collapse:
    """Drops repeats of an identical warning or error within ``window_s`` seconds.

    Two lines are identical when their level, logger and fields match once digits
    are ignored (librdkafka and aiokafka put counters, ports and milliseconds in
    otherwise identical messages). The first line always passes; a repeat passes
    once ``window_s`` has gone by since the last line that passed, with
    ``repeated`` set to how many lines it stands for (itself included). At most
    ``max_keys`` distinct lines are remembered (least recently seen forgotten
    first), so hostile input cannot grow memory. Info and debug are never touched.

    Used two ways: as a structlog processor (for accord's own events) and as a
    ``logging.Filter`` (for stdlib records of third-party libraries).
    """

    def __init__(
        self,
        window_s: float = 10.0,
        *,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        # identity -> (time the last line passed, lines seen since then)
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def admit(self, identity: str) -> int | None:
        """None to drop the line; else how many lines it stands for (1 the first time)."""
        now = self._clock()
        key = _DIGITS.sub("#", identity[:_KEY_CHARS])
        entry = self._seen.get(key)
        if entry is None:
            self._seen[key] = (now, 0)
            if len(self._seen) > self._max_keys:
                self._seen.popitem(last=False)
            return 1
        self._seen.move_to_end(key)
        passed_at, suppressed = entry
        if now - passed_at < self.window_s:
            self._seen[key] = (passed_at, suppressed + 1)
            return None
        self._seen[key] = (now, 0)
        return suppressed + 1

    # structlog processor
    def __call__(
        self, _logger: Any, method: str, event_dict: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        if method not in ("warning", "warn", "error", "exception", "critical"):
            return event_dict
        identity = (
            method
            + "|"
            + "|".join(f"{k}={v!r}" for k, v in sorted(event_dict.items()) if k not in _VOLATILE)
        )
        count = self.admit(identity)
        if count is None:
            raise structlog.DropEvent
        if count > 1:
            event_dict["repeated"] = count
        return event_dict

    # logging.Filter protocol
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        count = self.admit(f"{record.levelno}|{record.name}|{record.getMessage()}")
        if count is None:
            return False
        if count > 1:
            record.repeated = count
        return True


def configure_logging(
    level: str = "INFO",
    *,
    json: bool | None = None,
    stream: TextIO | None = None,
    collapse_s: float = 10.0,
) -> None:
    """Configure structlog and the stdlib root logger once, for the whole process.

    ``json=None`` picks JSON lines unless ``stream`` is a terminal. ``collapse_s``
    is the window of ``Collapse`` (0 turns collapsing off).
    """
    out = stream if stream is not None else sys.stderr
    use_json = json if json is not None else not out.isatty()
    collapse = Collapse(collapse_s) if collapse_s > 0 else None
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        merge_trace,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    own = [collapse] if collapse is not None else []
    structlog.configure(
        processors=[*own, *shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries (aiokafka, librdkafka) log through the stdlib: the same
    # processors render their records, as events named by their message, with the
    # library's logger name and the collapse count.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(allow=["repeated"]),
                *shared,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    if collapse is not None:
        handler.addFilter(collapse)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Libraries are heard from at WARNING and above only: their INFO is chatter.
    root.setLevel(max(numeric, logging.WARNING))


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
