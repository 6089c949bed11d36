"""Confidentiality failures as types, each with a stable reason code.

They are :class:`accord.errors.Refused`, so the receiver quarantines a record that
raises one exactly as it does any other refusal, under the reason code here.
"""

from __future__ import annotations

from accord.errors import AccordError, ReasonCode, Refused

__all__ = ["NoEncryptionKey", "NotARecipient", "PlaintextRefused", "Undecryptable", "UnknownCwk"]


class Undecryptable(Refused):
    """A body or key announcement this node should read but cannot: a bad tag, a
    malformed ciphertext, a wrapped key for one of our keys that does not open."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(ReasonCode.UNDECRYPTABLE, message, hint=hint)


class UnknownCwk(Undecryptable):
    """The body names a content-wrapping key whose announcement this node has not
    opened (yet). Announcements travel on the key topic, so a receiver may hold the
    record and retry once it has read the key topic up to date; after that, it is
    undecryptable."""


class NotARecipient(Refused):
    """This node's agency is not among the recipients: it must not, and cannot, read.

    ``sender`` and ``cwk_id`` name the content-wrapping key it was left out of, when known, so a
    keyring can answer later bodies under that key with this same reason."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        cwk_id: bytes | None = None,
        sender: str | None = None,
    ) -> None:
        super().__init__(ReasonCode.NOT_A_RECIPIENT, message, hint=hint)
        self.cwk_id = cwk_id
        self.sender = sender


class PlaintextRefused(Refused):
    """A plaintext body where the plan requires encryption."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(ReasonCode.PLAINTEXT_REFUSED, message, hint=hint)


class NoEncryptionKey(AccordError):
    """A sender cannot encrypt: a recipient has no current, unrevoked encryption key.

    Fail closed: the message is not sent rather than sent to fewer agencies."""

    code = "no-encryption-key"
