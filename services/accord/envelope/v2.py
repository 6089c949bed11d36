"""Envelope v2: the signed envelope with an encrypted body (schemas/SPEC.md section 11).

The same JWS general JSON, EdDSA, with the RFC 7797 unencoded payload
``{"header":H,"label":L,"enc":"<b64url(E)>"}``: the ciphertext is base64url once, and
the signature covers header, label and ciphertext, so any node verifies a v2 record
(:func:`verify_sealed`) without decrypting; only a recipient opens it
(:func:`open_sealed`). ``E`` and its keys are accord.confidentiality's: AES-256-GCM
under a content key derived from a CWK, AAD over the exact H and L bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from accord.confidentiality.body import encrypt_body
from accord.confidentiality.errors import UnknownCwk
from accord.confidentiality.keyring import Keyring
from accord.confidentiality.wrap import Cwk
from accord.conformance import rules
from accord.envelope.batch import RootCache
from accord.envelope.header import Header
from accord.envelope.jws import (
    ALG,
    MAX_BYTES,
    MAX_SIGNATURES,
    TYP,
    Rejected,
    Sealed,
    Unsigned,
    Verified,
    _b64e,
    _check_seal,
    _header_of,
    _json_bytes,
    _strict_json,
    _summary,
    cosign,
    label_bytes,
    sign_record,
    verify_any,
)
from accord.errors import ReasonCode, Refused
from accord.labels import Label
from accord.models import MESSAGE_TYPES, MessageBody
from accord.trust import Signer, TrustStore, x5t_s256

__all__ = [
    "Sealed",
    "cosign_sealed",
    "open_sealed",
    "seal_encrypted",
    "unsigned_encrypted",
    "verify_sealed",
]


@functools.lru_cache(maxsize=1024)
def _protected(kid: str, cty: str) -> str:
    header = {
        "alg": ALG,
        "kid": kid,
        "typ": TYP,
        "cty": cty,
        "b64": False,
        "crit": ["b64"],
        "x5t#S256": x5t_s256(kid),
    }
    return _b64e(json.dumps(header, separators=(",", ":")).encode("ascii"))


def unsigned_encrypted(
    header: Header, label: Label, body: MessageBody, signer: Signer, cwk: Cwk
) -> Unsigned:
    """Check the message as a verifier would, encrypt its body under ``cwk``: what
    ``signer`` then signs (per message with ``sign_record``, or in a batch with
    ``accord.envelope.batch.sign_batch``).

    ``cwk`` comes from ``ContentEncryptor.cwk_for(recipients)``; its announcement must
    be published before the record. Raises Refused as :func:`accord.envelope.seal`.
    """
    _check_seal(header, label, body, signer)
    if cwk.sender != signer.agency:
        raise ValueError("a CWK is used only by the sender that announced it")
    h = _json_bytes(header)
    lab = label_bytes(label)
    enc = encrypt_body(cwk, header.message_id, header=h, label=lab, plaintext=_json_bytes(body))
    payload = b'{"header":' + h + b',"label":' + lab + b',"enc":"' + _b64e(enc).encode() + b'"}'
    return Unsigned(
        _protected(signer.kid, header.type),
        payload.decode("utf-8"),
        True,
        hashlib.sha256(payload).hexdigest(),
    )


def seal_encrypted(
    header: Header, label: Label, body: MessageBody, signer: Signer, cwk: Cwk
) -> bytes:
    """Check the message as a verifier would, encrypt its body under ``cwk``, sign.

    ``cwk`` comes from ``ContentEncryptor.cwk_for(recipients)``; its announcement must
    be published before this envelope. Raises Refused as :func:`accord.envelope.seal`.
    """
    return sign_record(signer, unsigned_encrypted(header, label, body, signer, cwk))


def _cosigned_record(payload: str, signatures: list[dict[str, Any]]) -> bytes:
    # ensure_ascii=False: UTF-8 as is (the label's legal_basis may hold any text);
    # only '"' and '\\' in the payload cost an escape each (SPEC ENC-01's one spelling).
    # Elements are kept as received, batched ones (SPEC 12) included.
    record = {"payload": payload, "signatures": signatures}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def cosign_sealed(
    envelope: bytes,
    signer: Signer,
    trust: TrustStore,
    *,
    topic: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """Co-sign a v1 or v2 envelope (SPEC 8, 11.5): verify it as received, every
    signature included, then add ``signer``'s over the same payload text.

    For v2 the co-signer vouches for header, label and ciphertext and needs no key:
    it is not a recipient unless the plan and the label make it one, and the payload
    (so the receipts' digest) does not change. Raises Refused as :func:`cosign`.
    """
    verdict = verify_sealed(envelope, trust, topic=topic, now=now)
    if isinstance(verdict, Verified):
        return cosign(envelope, signer, trust, topic=topic, now=now)
    if isinstance(verdict, Rejected):
        raise Refused(verdict.reason, f"refusing to co-sign: {verdict.detail}", rule=verdict.rule)
    outer = json.loads(envelope)  # verified above
    payload: str = outer["payload"]
    signatures: list[dict[str, Any]] = outer["signatures"]
    if signer.kid in {_header_of(s["protected"], True)[0] for s in signatures}:
        raise Refused(
            ReasonCode.MALFORMED, f"{signer.agency} has already signed this envelope", rule="ENV-16"
        )
    if signer.agency in verdict.signers:
        raise Refused(
            ReasonCode.MALFORMED, f"{signer.agency} has already signed this envelope", rule="ENV-22"
        )
    if len(signatures) >= MAX_SIGNATURES:
        raise Refused(
            ReasonCode.MALFORMED,
            f"an envelope carries at most {MAX_SIGNATURES} signatures",
            rule="ENV-04",
        )
    protected = _protected(signer.kid, verdict.cty)
    signature = signer.sign(protected.encode("ascii") + b"." + payload.encode("utf-8"))
    return _cosigned_record(
        payload, [*signatures, {"protected": protected, "signature": _b64e(signature)}]
    )


def verify_sealed(
    raw: bytes,
    trust: TrustStore,
    *,
    topic: str | None = None,
    now: datetime | None = None,
    max_bytes: int = MAX_BYTES,
    roots: RootCache | None = None,
) -> Verified | Sealed | Rejected:
    """Verify a v1 or v2 record: every rule up to ENV-44 (SPEC 5.2), no decryption.

    A v1 record gives Verified, a v2 record Sealed (open it with :func:`open_sealed`),
    a refusal Rejected. Never raises on hostile input. ``roots``: batch roots already
    verified (SPEC 12).
    """
    return verify_any(raw, trust, topic=topic, now=now, max_bytes=max_bytes, roots=roots)


def open_sealed(
    sealed: Sealed, keyring: Keyring, *, entitled: Collection[str] | None = None
) -> Verified:
    """ENC-05 to ENC-08: decrypt a verified v2 envelope and check its body.

    ``entitled``: the agencies the plan entitles to the message (``recipient_agencies``
    for its scope and area); a CWK shared beyond them is refused (ENC-06). Raises
    Refused: ``not-a-recipient``, ``undecryptable`` (``UnknownCwk`` when the key
    announcement has not been opened yet: read the key topic, then retry),
    ``releasability-violation``, or the body rules' codes.
    """
    header = sealed.header
    try:
        plaintext = keyring.decrypt(
            header.message_id,
            sender=header.sender,
            header=sealed.header_bytes,
            label=sealed.label_bytes,
            body=sealed.enc,
            entitled=entitled if rules.enabled("ENC-06") else None,
        )
    except Refused as refused:
        rule = {
            ReasonCode.NOT_A_RECIPIENT: "ENC-05",
            ReasonCode.RELEASABILITY_VIOLATION: "ENC-06",
        }.get(refused.reason, "ENC-07")
        if isinstance(refused, UnknownCwk):
            rule = "ENC-05"  # no announcement opened for it (yet)
        if refused.rule is None:
            refused.rule = rule
        if refused.reason is ReasonCode.NOT_A_RECIPIENT and not rules.enabled("ENC-05"):
            # mutation test only: a reader that does not tell "not announced to us"
            # from "does not open" (SPEC ENC-05)
            raise Refused(ReasonCode.UNDECRYPTABLE, refused.message, rule="ENC-07") from None
        raise
    model = MESSAGE_TYPES[sealed.cty]
    _strict_json(plaintext, "decrypted body", "ENC-08")
    try:
        body = (
            model.model_validate_json(plaintext, strict=True)
            if rules.enabled("ENC-08")
            # mutation test only: a reader that takes the decrypted body unchecked
            else model.model_construct(**json.loads(plaintext))
        )
    except ValidationError as exc:
        raise Refused(
            ReasonCode.SCHEMA_INVALID, f"decrypted body: {_summary(exc)}", rule="ENC-08"
        ) from None
    if rules.enabled("ENC-08"):
        body.check_context(sender=header.sender, scope=header.scope, area=header.area)
    plain = b"".join(
        (
            b'{"header":',
            sealed.header_bytes,
            b',"label":',
            sealed.label_bytes,
            b',"body":',
            plaintext,
            b"}",
        )
    )
    return Verified(
        header,
        sealed.label,
        body,
        sealed.signers,
        sealed.payload,
        plain,
        payload_sha256=sealed.payload_sha256,
    )
