"""Errors as types, each with a stable code.

Codes are part of the public contract: partners, dashboards and runbooks match on
them, so a code is never renamed once released. Messages say what was wrong; ``hint``
says how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    """Why a record was refused. Shared by the publisher, verification and quarantine."""

    MALFORMED = "malformed"
    OVERSIZED = "oversized"
    UNSUPPORTED_ALG = "unsupported-alg"
    UNKNOWN_KEY = "unknown-key"
    BAD_SIGNATURE = "bad-signature"
    UNTRUSTED_ISSUER = "untrusted-issuer"
    EXPIRED_CERT = "expired-cert"
    REVOKED = "revoked"
    SENDER_MISMATCH = "sender-mismatch"
    SCOPE_VIOLATION = "scope-violation"
    RELEASABILITY_VIOLATION = "releasability-violation"
    TOPIC_MISMATCH = "topic-mismatch"
    SCHEMA_INVALID = "schema-invalid"
    UNKNOWN_LABEL_VALUE = "unknown-label-value"
    FUTURE_DATED = "future-dated"
    """``issued_at`` further ahead of the verifier's clock than the allowed skew."""
    # Exchange-level checks (plan and receiver), beyond what the envelope alone shows.
    NOT_ENTITLED = "not-entitled"
    HEADER_MISMATCH = "header-mismatch"
    REPLAY = "replay"
    NOT_ORIGINATOR = "not-originator"
    # Confidentiality (accord.confidentiality): a body this node cannot or may not read.
    UNDECRYPTABLE = "undecryptable"
    NOT_A_RECIPIENT = "not-a-recipient"
    PLAINTEXT_REFUSED = "plaintext-refused"


class AccordError(Exception):
    """Base of every error accord raises on purpose.

    ``code`` is stable; ``hint`` tells the user what to do about it.
    """

    code: str = "accord-error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(AccordError):
    code = "config-invalid"


class BrokerError(AccordError):
    code = "broker-error"


class PlanError(AccordError):
    code = "plan-invalid"


class PkiError(AccordError):
    code = "pki-error"


@dataclass(frozen=True)
class Rejected:
    """Why a record was refused, as data: a stable reason code and a human detail.

    The one refusal type of the verifier, the receiver and the publisher; raised,
    it is a :class:`Refused` (``Refused.rejected`` and ``Rejected.refused`` convert).
    """

    reason: ReasonCode
    detail: str
    rule: str | None = None
    """The schemas/SPEC.md rule (``ENV-nn``) the record breaks, when known."""
    hint: str | None = None
    """How to fix it, when there is something to say."""

    def refused(self) -> Refused:
        """This refusal as an exception to raise (a fresh one each time)."""
        return Refused(self.reason, self.detail, hint=self.hint, rule=self.rule)


class Refused(AccordError):
    """A message refused for a reason that verification would also give."""

    def __init__(
        self,
        reason: ReasonCode,
        message: str,
        *,
        hint: str | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.code = reason.value
        self.rule = rule
        """The schemas/SPEC.md rule id (``ENV-nn``) the message breaks, when known."""

    @property
    def rejected(self) -> Rejected:
        """This refusal as data (to keep, compare or report)."""
        return Rejected(self.reason, self.message, self.rule, self.hint)


class PublishError(AccordError):
    code = "publish-failed"
