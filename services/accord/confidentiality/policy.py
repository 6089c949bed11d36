"""The plan's switch per scope: ``encryption: required | optional | off``."""

from __future__ import annotations

from enum import StrEnum

from accord.confidentiality.errors import PlaintextRefused

__all__ = ["EncryptionMode", "check_plaintext"]


class EncryptionMode(StrEnum):
    REQUIRED = "required"
    """Senders encrypt; receivers quarantine a plaintext body (``plaintext-refused``)."""
    OPTIONAL = "optional"
    """Senders encrypt; receivers accept both (a migration step)."""
    OFF = "off"
    """Senders send plaintext; receivers still decrypt what arrives encrypted."""


def check_plaintext(mode: EncryptionMode, *, encrypted: bool, scope: str) -> None:
    """Raise PlaintextRefused for a plaintext body where ``mode`` requires encryption."""
    if mode is EncryptionMode.REQUIRED and not encrypted:
        raise PlaintextRefused(
            f"plaintext body in scope {scope}, which requires encryption",
            hint="the sender must encrypt (plan: encryption: required)",
        )
