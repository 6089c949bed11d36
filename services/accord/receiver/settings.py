"""A receiver's tuning, in one frozen object (as httpx groups ``Timeout`` and ``Limits``)."""

from __future__ import annotations

from dataclasses import dataclass

from accord.envelope import MAX_BYTES

QUARANTINE_MAX_BYTES = 262_144
"""Larger rejected records are quarantined as a prefix plus size and SHA-256."""


@dataclass(frozen=True, slots=True)
class ReceiverSettings:
    batch_max: int = 500
    """Records taken per poll at most; one inbox transaction and one receipt each."""
    stall_timeout_s: float = 30.0
    """A poll, or an idle consumer behind the broker, past this is a stall: rebuild."""
    fetch_wait_ms: int = 10
    """How long the broker may hold a fetch to fill it (0 = no wait). Under load a
    poll then carries ~100 messages, so the per-batch work is shared; at low rates a
    message waits at most this much longer. Measured with `accord bench
    --fetch-wait-ms` (docs/exchange.md)."""
    send_receipts: bool = True
    follow_trust: bool = True
    """Follow the trust topic (rotations, revocations) while running."""
    max_record_bytes: int = MAX_BYTES
    """Records over this are refused as ``oversized`` before any parsing."""

    def __post_init__(self) -> None:
        if self.batch_max < 1 or self.stall_timeout_s <= 0 or self.fetch_wait_ms < 0:
            raise ValueError("batch_max >= 1, stall_timeout_s > 0 and fetch_wait_ms >= 0")

    @property
    def send_timeout_s(self) -> float:
        """How long a send may wait for the broker's ack before the producer is
        considered wedged and rebuilt."""
        return max(2 * self.stall_timeout_s, 10.0)
