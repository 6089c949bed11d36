"""Message ids: UUIDv7 (RFC 9562), time-ordered so logs and inboxes sort by creation.

Python 3.11 has no ``uuid.uuid7``. Layout: 48-bit Unix time in milliseconds, version
7, 12 bits ``rand_a``, variant ``10``, 62 bits ``rand_b``. ``rand_a`` is used as a
counter within one millisecond (RFC 9562 section 6.2, method 1) so ids made by one
process are strictly increasing even when the clock stalls or steps back.
"""

from __future__ import annotations

import os
import threading
import time
from uuid import UUID

_lock = threading.Lock()
_last_ms = 0
_last_counter = 0


def new_message_id() -> UUID:
    """A fresh UUIDv7, monotonic within this process."""
    global _last_ms, _last_counter
    rand = int.from_bytes(os.urandom(10), "big")
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            counter = rand >> 68  # 12 random bits; leaves room to count up
            counter &= 0x7FF  # start in the lower half so increments rarely overflow
        else:
            ms = _last_ms
            counter = _last_counter + 1
            if counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                ms += 1
                counter = 0
        _last_ms, _last_counter = ms, counter
    rand_b = rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return UUID(int=value)


def uuid7_time_ms(value: UUID) -> int:
    """The Unix time in milliseconds a UUIDv7 carries."""
    return value.int >> 80
