"""Compact JWS (RFC 7515) for key statements and CWK announcements, EdDSA only.

The envelope (accord.envelope.jws) signs messages in JWS JSON with its own ``typ``;
these small control objects use the compact form with their own ``typ`` values, so
an announcement can never be taken for a message nor the reverse. The rules are the
envelope's: ``alg`` pinned to EdDSA, a protected header of exactly ``alg``, ``kid``
and ``typ`` (no ``jwk``/``x5u``/``crit``: keys come only from the trust store), the
signature checked over the transmitted bytes before the payload is parsed, and the
size bounded before anything is decoded.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from cryptography.exceptions import InvalidSignature

from accord.errors import ReasonCode, Refused
from accord.trust import Signer, TrustedKey, TrustStore

__all__ = ["Signed", "sign_compact", "verify_compact"]

ALG = "EdDSA"
_FROM_URL = str.maketrans("-_", "+/")
_PROTECTED_MAX = 512


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str, what: str) -> bytes:
    """Strict base64url without padding; Refused(malformed) for anything else."""
    # '+', '/' and '=' are refused in the original text, then binascii's strict mode
    # refuses every other character outside the (translated) alphabet. A regex over
    # the ~6 KB of an announcement cost more than the HPKE open.
    if (
        not isinstance(text, str)
        or len(text) % 4 == 1
        or not text.isascii()
        or "+" in text
        or "/" in text
        or "=" in text
    ):
        _refuse(f"{what} is not base64url without padding")
    try:
        return binascii.a2b_base64(
            (text + "=" * (-len(text) % 4)).translate(_FROM_URL).encode("ascii"),
            strict_mode=True,
        )
    except binascii.Error:
        _refuse(f"{what} is not base64url without padding")


def _refuse(detail: str, reason: ReasonCode = ReasonCode.MALFORMED) -> NoReturn:
    raise Refused(reason, detail)


@dataclass(frozen=True)
class Signed:
    """A verified compact JWS: who signed it (from the trust store) and the payload."""

    signer: TrustedKey
    payload: bytes


def sign_compact(signer: Signer, typ: str, payload: bytes) -> bytes:
    header = json.dumps({"alg": ALG, "kid": signer.kid, "typ": typ}, separators=(",", ":"))
    signing_input = f"{b64e(header.encode('ascii'))}.{b64e(payload)}"
    signature = signer.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64e(signature)}".encode("ascii")


def verify_compact(
    raw: bytes, trust: TrustStore, *, typ: str, now: datetime, max_bytes: int
) -> Signed:
    """Verify a compact JWS of type ``typ``; Refused with the envelope's reason codes."""
    if len(raw) > max_bytes:
        _refuse(f"{typ} is {len(raw)} bytes, limit {max_bytes}", ReasonCode.OVERSIZED)
    try:
        text = bytes(raw).decode("ascii")
    except UnicodeDecodeError:
        _refuse(f"{typ} is not ASCII")
    parts = text.split(".")
    if len(parts) != 3:
        _refuse(f"{typ} is not a compact JWS")
    protected, payload_b64, signature_b64 = parts
    if len(protected) > _PROTECTED_MAX:
        _refuse("protected header too long")
    try:
        header = json.loads(b64d(protected, "protected header"))
    except ValueError:
        _refuse("protected header is not JSON")
    if not isinstance(header, dict) or header.keys() != {"alg", "kid", "typ"}:
        _refuse("protected header must have exactly alg, kid and typ")
    if header["alg"] != ALG:
        _refuse(f"alg must be {ALG}", ReasonCode.UNSUPPORTED_ALG)
    if header["typ"] != typ:
        _refuse(f"typ must be {typ!r}")
    if not isinstance(header["kid"], str):
        _refuse("kid must be a string")
    key = trust.validate(header["kid"], now)
    signature = b64d(signature_b64, "signature")
    if len(signature) != 64:
        _refuse("an Ed25519 signature is 64 bytes", ReasonCode.BAD_SIGNATURE)
    try:
        key.public_key.verify(signature, f"{protected}.{payload_b64}".encode("ascii"))
    except InvalidSignature:
        _refuse(f"{typ} signature by {key.agency} does not verify", ReasonCode.BAD_SIGNATURE)
    return Signed(key, b64d(payload_b64, "payload"))
