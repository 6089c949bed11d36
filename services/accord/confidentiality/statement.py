"""Key statements: an agency's encryption key, certified through its country's chain.

A key statement is a compact JWS (``typ`` ``accord-enc-key+jws``) signed by the
agency's *certified signing key*: country root -> agency signing certificate
(X.509, ``accord.trust``) -> key statement. Why not an X.509 certificate for the
encryption key: no standard SubjectPublicKeyInfo exists for the ML-KEM-768 + X25519
hybrid today, and ``cryptography`` cannot put one in a certificate; a JWS signed by
an already-certified key is a standard construction that every partner's JOSE
library verifies, and it keeps the country root offline (it signs certificates and
CRLs only, as now).

Payload (JSON)::

    {"v": 1, "agency": "JPN.MOFA", "ekid": "<hex>", "suite": SUITE_NAME,
     "status": "active", "key": "<base64url, 1216 bytes>",
     "issued_at": "...", "not_before": "...", "not_after": "..."}

and a revocation: ``"status": "revoked"`` with no ``key`` and no validity window.
Rules a verifier applies (all fail closed):

- the signing certificate is valid *now* and not revoked (trust store): revoking or
  letting an agency's signing certificate expire voids its statements, which the
  agency re-signs with its new signing key;
- the signer's agency is the statement's agency (nobody certifies another's key);
- ``ekid`` is the SHA-256 of ``key``; ``suite`` is the one suite accord uses;
- ``issued_at`` lies within the signing certificate's validity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from accord.confidentiality.jose import b64d, b64e, sign_compact, verify_compact
from accord.confidentiality.keys import SUITE_NAME, EncryptionPublicKey
from accord.errors import PkiError, ReasonCode, Refused
from accord.parties import AgencyId
from accord.trust import Signer, TrustStore
from accord.trust.pki import CLOCK_SKEW

__all__ = [
    "STATEMENT_TYP",
    "KeyStatement",
    "sign_key_revocation",
    "sign_key_statement",
    "verify_key_statement",
]

STATEMENT_TYP = "accord-enc-key+jws"
MAX_STATEMENT_BYTES = 8192
_HEX64 = r"^[0-9a-f]{64}$"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: Literal[1]
    agency: AgencyId
    ekid: Annotated[str, Field(pattern=_HEX64)]
    suite: Literal["HPKE-MLKEM768X25519-HKDFSHA256-AES256GCM"]
    status: Literal["active", "revoked"]
    key: Annotated[str, Field(max_length=1700)] | None = None
    issued_at: AwareDatetime
    not_before: AwareDatetime | None = None
    not_after: AwareDatetime | None = None


@dataclass(frozen=True)
class KeyStatement:
    """A verified statement. ``public`` is None for a revocation."""

    agency: str
    ekid: str
    revoked: bool
    public: EncryptionPublicKey | None
    issued_at: datetime
    not_before: datetime | None
    not_after: datetime | None
    signing_kid: str
    """The kid of the signing certificate that vouched for it (re-checked on use)."""

    def active_at(self, at: datetime) -> bool:
        return (
            not self.revoked
            and self.not_before is not None
            and self.not_after is not None
            and self.not_before <= at < self.not_after
        )


def _dump(payload: _Payload) -> bytes:
    return json.dumps(
        payload.model_dump(mode="json", exclude_none=True), separators=(",", ":"), sort_keys=True
    ).encode("ascii")


def sign_key_statement(
    signer: Signer,
    public: EncryptionPublicKey,
    *,
    now: datetime | None = None,
    valid_for: timedelta = timedelta(days=90),
) -> bytes:
    """Certify ``public`` as ``signer.agency``'s encryption key from now for ``valid_for``.

    Like a certificate, it starts CLOCK_SKEW early, so a peer whose clock is slightly
    behind still sees it valid.
    """
    at = now or datetime.now(UTC)
    payload = _Payload(
        v=1,
        agency=signer.agency,
        ekid=public.ekid,
        suite=SUITE_NAME,
        status="active",
        key=b64e(public.data),
        issued_at=at,
        not_before=at - CLOCK_SKEW,
        not_after=at + valid_for,
    )
    return sign_compact(signer, STATEMENT_TYP, _dump(payload))


def sign_key_revocation(signer: Signer, ekid: str, *, now: datetime | None = None) -> bytes:
    """Revoke encryption key ``ekid`` of ``signer.agency``; it is never a recipient again."""
    payload = _Payload(
        v=1,
        agency=signer.agency,
        ekid=ekid,
        suite=SUITE_NAME,
        status="revoked",
        issued_at=now or datetime.now(UTC),
    )
    return sign_compact(signer, STATEMENT_TYP, _dump(payload))


def verify_key_statement(raw: bytes, trust: TrustStore, *, now: datetime) -> KeyStatement:
    """Verify a key statement or revocation; Refused with a stable reason otherwise."""
    signed = verify_compact(raw, trust, typ=STATEMENT_TYP, now=now, max_bytes=MAX_STATEMENT_BYTES)
    try:
        p = _Payload.model_validate_json(signed.payload)
    except ValidationError as exc:
        raise Refused(
            ReasonCode.SCHEMA_INVALID,
            f"key statement: {exc.errors()[0]['msg']}",
        ) from None
    if p.agency != signed.signer.agency:
        raise Refused(
            ReasonCode.SENDER_MISMATCH,
            f"{signed.signer.agency} signed a key statement for {p.agency}",
        )
    if not signed.signer.not_before <= p.issued_at <= signed.signer.not_after:
        raise Refused(
            ReasonCode.EXPIRED_CERT,
            "key statement issued outside its signing certificate's validity",
        )
    public = None
    if p.status == "active":
        if p.key is None or p.not_before is None or p.not_after is None:
            raise Refused(
                ReasonCode.SCHEMA_INVALID,
                "an active key statement carries key, not_before and not_after",
            )
        try:
            public = EncryptionPublicKey.from_bytes(b64d(p.key, "key"))
        except PkiError as exc:
            raise Refused(ReasonCode.MALFORMED, exc.message) from None
        if public.ekid != p.ekid:
            raise Refused(ReasonCode.MALFORMED, "ekid is not the SHA-256 of the key")
        if p.not_after <= p.not_before:
            raise Refused(ReasonCode.SCHEMA_INVALID, "not_after is not after not_before")
    elif p.key is not None or p.not_before is not None or p.not_after is not None:
        raise Refused(ReasonCode.SCHEMA_INVALID, "a revocation carries no key and no window")
    return KeyStatement(
        agency=p.agency,
        ekid=p.ekid,
        revoked=p.status == "revoked",
        public=public,
        issued_at=p.issued_at,
        not_before=p.not_before,
        not_after=p.not_after,
        signing_kid=signed.signer.kid,
    )
