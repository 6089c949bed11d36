"""A receiver's tuning: :class:`accord.config.ReceiverSettings`, resolved by the one
config loader; and the quarantine's size limit."""

from __future__ import annotations

from accord.config import ReceiverSettings

__all__ = ["QUARANTINE_MAX_BYTES", "ReceiverSettings"]

QUARANTINE_MAX_BYTES = 262_144
"""Larger rejected records are quarantined as a prefix plus size and SHA-256."""
