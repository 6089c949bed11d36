"""Content-wrapping keys (CWK): one HPKE seal per recipient per epoch, not per message.

A CWK is 32 random bytes for one (sender, recipient set, epoch). The sender seals it
to each recipient's encryption key with HPKE (RFC 9180, mode base, suite pinned in
accord.confidentiality.keys) and publishes the sealed copies, signed, as one *key
announcement* (compact JWS, ``typ`` ``accord-cwk+jws``) on the key topic. Messages
then name the CWK by its 16-byte id; their content keys derive from it
(accord.confidentiality.body). A new epoch starts when the recipient set or any
recipient's key changes (rotation, revocation: at once) or the CWK gets old.

The HPKE ``info`` binds everything a recipient relies on (RFC 9180 section 8.1)::

    "accord/cwk/v1" 0x00 || JSON {"cwk_id", "not_after", "recipients": [[agency, ekid]...],
                                  "sender", "to": ekid}   (sorted keys, compact)

so a sealed copy cannot be moved to another announcement, another sender, another
recipient list or another recipient's entry: it simply does not open.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from cryptography.exceptions import InvalidTag
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from accord.confidentiality.errors import NotARecipient, Undecryptable
from accord.confidentiality.jose import b64d, b64e, sign_compact, verify_compact
from accord.confidentiality.keys import SUITE, EncryptionKeyPair
from accord.confidentiality.recipients import Recipient
from accord.errors import ReasonCode, Refused
from accord.parties import AgencyId
from accord.trust import Signer, TrustStore

__all__ = [
    "ANNOUNCEMENT_TYP",
    "MAX_RECIPIENTS",
    "Cwk",
    "cwk_info",
    "open_announcement",
    "seal_cwk",
]

ANNOUNCEMENT_TYP = "accord-cwk+jws"
MAX_RECIPIENTS = 32
CWK_ID_BYTES = 16
_SEALED_BYTES = 1168  # X-Wing enc (1120) + 32-byte CWK + 16-byte tag
MAX_ANNOUNCEMENT_BYTES = 4096 + MAX_RECIPIENTS * 2400  # base64url twice: ~2250 B each
_INFO_PREFIX = b"accord/cwk/v1\x00"


@dataclass(frozen=True)
class Cwk:
    """A content-wrapping key and what it is bound to. The key never appears in repr."""

    cwk_id: bytes
    sender: str
    recipients: tuple[tuple[str, str], ...]
    """(agency, ekid) pairs, sorted by agency."""
    not_after: datetime
    key: bytes = field(repr=False)

    @property
    def agencies(self) -> tuple[str, ...]:
        return tuple(a for a, _ in self.recipients)


def cwk_info(
    sender: str,
    cwk_id: bytes,
    not_after: datetime,
    recipients: Sequence[tuple[str, str]],
    to: str,
) -> bytes:
    """The HPKE ``info`` for the copy of CWK ``cwk_id`` sealed to key ``to``."""
    bound = {
        "cwk_id": b64e(cwk_id),
        "not_after": _iso(not_after),
        "recipients": [list(r) for r in recipients],
        "sender": sender,
        "to": to,
    }
    return _INFO_PREFIX + json.dumps(bound, separators=(",", ":"), sort_keys=True).encode()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    agency: AgencyId
    ekid: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    sealed: Annotated[str, Field(max_length=1600)]


class _Announcement(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: Literal[1]
    sender: AgencyId
    cwk_id: Annotated[str, Field(min_length=22, max_length=22)]
    issued_at: AwareDatetime
    not_after: AwareDatetime
    recipients: Annotated[tuple[_Entry, ...], Field(min_length=1, max_length=MAX_RECIPIENTS)]


def seal_cwk(
    signer: Signer,
    recipients: Sequence[Recipient],
    *,
    now: datetime | None = None,
    lifetime: timedelta = timedelta(hours=1),
) -> tuple[Cwk, bytes]:
    """A fresh CWK for ``recipients`` (which must include the sender) and its signed
    announcement. Publish the announcement before the first message that uses it."""
    agencies = [r.agency for r in recipients]
    if len(set(agencies)) != len(agencies):
        raise ValueError("each recipient agency appears once")
    if signer.agency not in agencies:
        raise ValueError("the sender is always a recipient")
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValueError(f"1 to {MAX_RECIPIENTS} recipients")
    at = (now or datetime.now(UTC)).astimezone(UTC)
    not_after = at + lifetime
    ordered = sorted(recipients, key=lambda r: r.agency)
    pairs = tuple((r.agency, r.ekid) for r in ordered)
    cwk = Cwk(os.urandom(CWK_ID_BYTES), signer.agency, pairs, not_after, os.urandom(32))
    entries = [
        {
            "agency": r.agency,
            "ekid": r.ekid,
            "sealed": b64e(
                SUITE.encrypt(
                    cwk.key,
                    r.public.hpke_key(),
                    info=cwk_info(cwk.sender, cwk.cwk_id, not_after, pairs, r.ekid),
                )
            ),
        }
        for r in ordered
    ]
    payload = {
        "v": 1,
        "sender": signer.agency,
        "cwk_id": b64e(cwk.cwk_id),
        "issued_at": _iso(at),
        "not_after": _iso(not_after),
        "recipients": entries,
    }
    raw = sign_compact(
        signer, ANNOUNCEMENT_TYP, json.dumps(payload, separators=(",", ":")).encode("ascii")
    )
    return cwk, raw


def open_announcement(
    raw: bytes,
    trust: TrustStore,
    agency: str,
    keys: Sequence[EncryptionKeyPair],
    *,
    now: datetime,
) -> Cwk:
    """Verify a key announcement, then open the copy sealed to ``agency``.

    ``keys``: the agency's private keys, current and previous (any may be named).
    Raises Refused (signature, chain, shape), NotARecipient (``agency`` is not
    listed), Undecryptable (listed with a key we do not hold, or the copy does not
    open).
    """
    signed = verify_compact(
        raw, trust, typ=ANNOUNCEMENT_TYP, now=now, max_bytes=MAX_ANNOUNCEMENT_BYTES
    )
    try:
        a = _Announcement.model_validate_json(signed.payload)
    except ValidationError as exc:
        raise Refused(
            ReasonCode.SCHEMA_INVALID, f"key announcement: {exc.errors()[0]['msg']}"
        ) from None
    if a.sender != signed.signer.agency:
        raise Refused(
            ReasonCode.SENDER_MISMATCH,
            f"announcement for {a.sender} signed by {signed.signer.agency}",
        )
    if not signed.signer.not_before <= a.issued_at <= signed.signer.not_after:
        raise Refused(
            ReasonCode.EXPIRED_CERT,
            "announcement issued outside its signing certificate's validity",
        )
    if a.not_after <= a.issued_at:
        raise Refused(ReasonCode.SCHEMA_INVALID, "announcement not_after is not after issued_at")
    pairs = tuple((e.agency, e.ekid) for e in a.recipients)
    if [p[0] for p in pairs] != sorted({p[0] for p in pairs}):
        raise Refused(ReasonCode.MALFORMED, "recipients must be sorted, each agency once")
    if a.sender not in (p[0] for p in pairs):
        raise Refused(ReasonCode.MALFORMED, "the sender is not among the recipients")
    mine = [e for e in a.recipients if e.agency == agency]
    cwk_id = b64d(a.cwk_id, "cwk_id")
    if not mine:
        raise NotARecipient(
            f"{agency} is not a recipient of {a.sender}'s key "
            f"{a.cwk_id} (recipients: {', '.join(p[0] for p in pairs)})",
            cwk_id=cwk_id,
            sender=a.sender,
        )
    entry = mine[0]
    key = next((k for k in keys if k.ekid == entry.ekid), None)
    if key is None:
        raise Undecryptable(
            f"sealed to encryption key {entry.ekid[:16]}… which {agency} does not hold",
            hint="load the previous encryption keys too",
        )
    sealed = b64d(entry.sealed, "sealed")
    if len(cwk_id) != CWK_ID_BYTES or len(sealed) != _SEALED_BYTES:
        raise Undecryptable("sealed key or cwk id has the wrong length")
    try:
        secret = SUITE.decrypt(
            sealed, key.hpke_key(), info=cwk_info(a.sender, cwk_id, a.not_after, pairs, entry.ekid)
        )
    except (InvalidTag, ValueError):  # a bad tag, or an encapsulation that is not one
        raise Undecryptable(f"the key sealed to {agency} by {a.sender} does not open") from None
    if len(secret) != 32:
        raise Undecryptable("a CWK is 32 bytes")
    return Cwk(cwk_id, a.sender, pairs, a.not_after, secret)
