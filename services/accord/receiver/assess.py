"""Deciding what one record is: a delivery, a duplicate, or a rejection.

Pure and synchronous, so the whole receive-side policy can be tested without a
broker. Order: size and signature first (``verify`` parses nothing it has not
verified), then the checks only this node can make: the mirrored Kafka headers,
the sender's entitlement in the plan, the label against this node's country,
then duplicates and replays against the inbox (in ``accord.receiver.step``).
A refusal is the envelope's own ``Rejected`` (reason code, detail): one refusal
type from the verifier to the quarantine topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from accord.areas import Area
from accord.confidentiality import Audiences, Keyring, may_read
from accord.conformance import rules
from accord.envelope import Rejected, Verified
from accord.envelope.batch import RootCache
from accord.envelope.jws import Sealed
from accord.envelope.v2 import open_sealed, verify_sealed
from accord.errors import ReasonCode, Refused
from accord.labels import releasable_to_country
from accord.parties import Country, Scope
from accord.plan import Plan
from accord.publisher.service import MIRRORED_HEADERS, mirrored_values
from accord.trust import TrustStore

_MESSAGE_ID_HEADER = MIRRORED_HEADERS[0]


@dataclass(frozen=True, slots=True)
class Accepted:
    verified: Verified
    message_id: str
    """The header's message id as text, made once: the mirrored header is compared
    with it here and the batch step keys the message by it (a UUID's ``str()`` is
    1.4 µs, ``timeit``)."""


def assess(
    raw: bytes | None,
    *,
    topic: str,
    kafka_headers: Sequence[tuple[str, bytes]],
    trust: TrustStore,
    plan: Plan,
    country: Country,
    now: datetime,
    max_bytes: int,
    keyring: Keyring | None = None,
    roots: RootCache | None = None,
    entitled: dict[tuple[str, str, str], bool] | None = None,
    agency: str | None = None,
    audiences: Audiences | None = None,
) -> Accepted | Rejected:
    """``keyring``: this node's encryption keys and opened CWKs. With one, the node
    decrypts envelope v2 and applies the plan's ``encryption`` (SPEC ENC-04..08);
    without one it reads v1 only and quarantines v2 as ``undecryptable``.

    ``entitled``: a memo of the plan's answers for (sender, scope, area), kept by the
    caller for as long as its plan does not change (the batch step: one poll).
    ``audiences``: the same for who may read an encrypted body (ENC-06), kept by the
    receiver under its plan.

    ``agency``: the reading agency (default: the keyring's), for the label's
    need-to-know list (SPEC ENC-09), checked on v1 and v2 alike."""
    if raw is None:
        return Rejected(ReasonCode.MALFORMED, "record has no value")
    verdict = verify_sealed(raw, trust, topic=topic, now=now, max_bytes=max_bytes, roots=roots)
    if isinstance(verdict, Rejected):
        return verdict
    header = verdict.header
    message_id = str(header.message_id)
    mismatch = _header_mismatch(verdict, message_id, kafka_headers)
    if mismatch is not None:
        return Rejected(ReasonCode.HEADER_MISMATCH, mismatch)
    if not _may_publish(plan, header.sender, header.scope, header.area, entitled):
        return Rejected(
            ReasonCode.NOT_ENTITLED,
            f"{header.sender} is not entitled to publish {header.scope}/{header.area}",
        )
    if not releasable_to_country(verdict.label, country):
        return Rejected(
            ReasonCode.RELEASABILITY_VIOLATION,
            f"label does not release this message to {country.value}",
        )
    sealed = isinstance(verdict, Sealed)
    if (
        not sealed
        and keyring is not None
        and header.type != "accord.receipt.v1"
        and plan.scopes[header.scope].encryption == "required"
    ):
        return Rejected(
            ReasonCode.PLAINTEXT_REFUSED,
            f"plaintext body in scope {header.scope}, which requires encryption",
            "ENC-04",
        )
    reader = agency if agency is not None else keyring.agency if keyring is not None else None
    if (
        reader is not None
        and rules.enabled("ENC-09")
        and not may_read(verdict.label, sender=header.sender, agency=reader)
    ):
        return Rejected(ReasonCode.NOT_A_RECIPIENT, f"need-to-know leaves out {reader}", "ENC-09")
    if isinstance(verdict, Sealed):
        return _open(verdict, message_id, audiences or Audiences(plan), keyring)
    return Accepted(verdict, message_id)


def _may_publish(
    plan: Plan,
    sender: str,
    scope: Scope,
    area: Area,
    memo: dict[tuple[str, str, str], bool] | None,
) -> bool:
    # The plan's answer costs a few µs (an agency id parsed per call); a poll's
    # records mostly share a handful of (sender, scope, area).
    if memo is None:
        return plan.may_publish(sender, scope, area)
    key = (sender, scope, area)
    allowed = memo.get(key)
    if allowed is None:
        allowed = memo[key] = plan.may_publish(sender, scope, area)
    return allowed


def _open(
    sealed: Sealed, message_id: str, audiences: Audiences, keyring: Keyring | None
) -> Accepted | Rejected:
    """Decrypt after every other check passed: ENC-05 to ENC-08."""
    h = sealed.header
    if keyring is None:
        return Rejected(
            ReasonCode.UNDECRYPTABLE,
            "encrypted body and this node holds no encryption key",
            "ENC-05",
        )
    try:
        entitled = audiences.of(
            sender=h.sender, scope=h.scope, area=h.area, need_to_know=sealed.label.need_to_know
        )
        return Accepted(open_sealed(sealed, keyring, entitled=entitled), message_id)
    except Refused as refused:
        return Rejected(refused.reason, refused.message, refused.rule)


def _header_mismatch(
    v: Verified | Sealed, message_id: str, kafka_headers: Sequence[tuple[str, bytes]]
) -> str | None:
    # The values a publisher mirrors, encoded by the publisher's own functions (the
    # stream-constant ones cached, by name): compared as bytes.
    h = v.header
    signed = mirrored_values(h.type, h.sender, h.scope, h.area)
    for name, value in kafka_headers:
        if name == _MESSAGE_ID_HEADER:
            if value != message_id.encode():
                return f"record header {name} disagrees with the signed header"
            continue
        expected = signed.get(name)
        if expected is not None and value != expected:
            return f"record header {name} disagrees with the signed header"
    return None
