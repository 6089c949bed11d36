"""Seal, co-sign and verify envelopes: JWS JSON serialization (RFC 7515), EdDSA (RFC 8037).

The payload is the exact UTF-8 JSON of ``{"header":…,"label":…,"body":…}``; every
signature covers ``b64url(protected) || "." || b64url(payload)`` as transmitted, so
nothing is ever re-serialised before verification. See docs/envelope.md for the
format and the order of checks.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from cryptography.exceptions import InvalidSignature
from pydantic import BaseModel, ValidationError, create_model

from accord.envelope.header import Header, topic_for
from accord.errors import ReasonCode, Refused
from accord.labels import Label, check_label
from accord.models import MESSAGE_TYPES, MessageBody
from accord.models.types import Strict
from accord.observability.logs import get_logger
from accord.parties import Country, country_of
from accord.trust import Signer, TrustedKey, TrustStore, x5t_s256

__all__ = ["MAX_BYTES", "MAX_SIGNATURES", "Rejected", "Verdict", "Verified", "cosign", "seal",
           "verify"]

log = get_logger(__name__)

ALG = "EdDSA"
TYP = "accord+jws"
MAX_BYTES = 1_048_576
MAX_SIGNATURES = 8
_PROTECTED_MAX = 1024  # base64url characters; a real protected header is ~250
_ALLOWED_MEMBERS = frozenset({"alg", "kid", "typ", "cty", "x5t#S256"})
# Key-carrying or key-locating members: an attacker would use them to supply its own
# key. accord never follows them, and refuses a header that has them rather than
# silently ignore something a partner's library might act on.
_KEY_POINTERS = frozenset({"jku", "x5u", "jwk", "x5c"})
_KID = re.compile(r"[0-9a-f]{64}")  # only in the cached _header_of
# base64url <-> base64: decoding runs binascii in strict mode on the translated text,
# so '+', '/' and '=' in the *original* text must be refused before translating.
_FROM_URL = bytes.maketrans(b"-_", b"+/")
_TO_URL = bytes.maketrans(b"+/", b"-_")


@dataclass(frozen=True)
class Verified:
    """A message whose signatures, chain, label and routing all checked out."""

    header: Header
    label: Label
    body: MessageBody
    signers: tuple[str, ...]
    """Agency ids of the signers, in order; ``signers[0]`` is the sender."""
    payload: bytes
    """The exact signed payload bytes."""

    @property
    def payload_sha256(self) -> str:
        """SHA-256 of the signed payload bytes, hex (what receipts acknowledge)."""
        return hashlib.sha256(self.payload).hexdigest()


@dataclass(frozen=True)
class Rejected:
    """Why a record was refused: a stable reason code and a human detail."""

    reason: ReasonCode
    detail: str


Verdict = Verified | Rejected


def _payload_model(body: type[MessageBody]) -> type[BaseModel]:
    return create_model(
        f"Payload[{body.TYPE}]",
        __base__=Strict,
        header=(Header, ...),
        label=(Label, ...),
        body=(body, ...),
    )


_PAYLOADS: dict[str, type[BaseModel]] = {t: _payload_model(c) for t, c in MESSAGE_TYPES.items()}


# -- encoding helpers ---------------------------------------------------------------


def _b64e(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=").decode(
        "ascii")


def _b64d(text: str, what: str) -> bytes:
    # Exactly the base64url alphabet, no padding. Non-ASCII, '+', '/' and '=' are
    # refused here; binascii's strict mode refuses every other character outside the
    # (translated) alphabet, where the lenient urlsafe_b64decode would skip it.
    if (
        len(text) % 4 == 1 or not text.isascii()
        or "+" in text or "/" in text or "=" in text
    ):
        _refuse(ReasonCode.MALFORMED, f"{what} is not base64url without padding")
    try:
        return binascii.a2b_base64(
            (text + "=" * (-len(text) % 4)).encode("ascii").translate(_FROM_URL),
            strict_mode=True,
        )
    except binascii.Error:
        _refuse(ReasonCode.MALFORMED, f"{what} is not base64url without padding")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate members are read differently by different JSON parsers (first wins,
    # last wins): refuse them so every partner sees the same message.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: json.loads(..., object_pairs_hook=...) builds a new
# JSONDecoder (and scanner) per call. A decoder keeps no state between calls (the
# default json.loads shares one module-level decoder the same way).
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constants)


def _strict_json(data: bytes | str, what: str) -> Any:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        if text.startswith("\ufeff"):  # as json.loads: a BOM is not JSON
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)",
                                       text, 0)
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        _refuse(ReasonCode.MALFORMED, f"{what} is not strict JSON: {exc}")


def _refuse(reason: ReasonCode, detail: str) -> NoReturn:
    raise Refused(reason, detail)


@functools.lru_cache(maxsize=1024)
def _protected(kid: str, cty: str) -> str:
    """A signer's protected header for one type: a pure function of (kid, cty), cached."""
    header = {"alg": ALG, "kid": kid, "typ": TYP, "cty": cty, "x5t#S256": x5t_s256(kid)}
    return _b64e(json.dumps(header, separators=(",", ":")).encode("ascii"))


def _signature(signer: Signer, cty: str, payload_b64: str) -> dict[str, str]:
    protected = _protected(signer.kid, cty)
    signature = signer.sign(f"{protected}.{payload_b64}".encode("ascii"))
    return {"protected": protected, "signature": _b64e(signature)}


def _serialize(payload_b64: str, signatures: list[dict[str, str]]) -> bytes:
    return json.dumps(
        {"payload": payload_b64, "signatures": signatures}, separators=(",", ":")
    ).encode("ascii")


def _serialize_b64(payload_b64: str, signatures: list[dict[str, str]]) -> bytes:
    """:func:`_serialize` for strings this module base64url-encoded itself.

    Byte-identical to ``_serialize``: a base64url string needs no JSON escaping, so
    the compact JSON is plain concatenation. Never used for strings read from input.
    """
    members = ",".join(
        f'{{"protected":"{s["protected"]}","signature":"{s["signature"]}"}}'
        for s in signatures
    )
    return f'{{"payload":"{payload_b64}","signatures":[{members}]}}'.encode("ascii")


def payload_bytes(header: Header, label: Label, body: MessageBody) -> bytes:
    """The exact payload bytes ``seal`` signs (compact JSON, UTF-8, fields in model order)."""
    return b"".join((
        b'{"header":', header.model_dump_json().encode(),
        b',"label":', label.model_dump_json().encode(),
        b',"body":', body.model_dump_json().encode(), b"}",
    ))


def sign_payload(payload: bytes, cty: str, signers: list[Signer]) -> bytes:
    """Sign arbitrary payload bytes, no checks. For tests and vectors; use :func:`seal`."""
    payload_b64 = _b64e(payload)
    return _serialize_b64(payload_b64, [_signature(s, cty, payload_b64) for s in signers])


# -- seal and cosign ---------------------------------------------------------------


def seal(header: Header, label: Label, body: MessageBody, signer: Signer) -> bytes:
    """Check a message as a verifier would, then sign it. Returns JWS JSON bytes.

    Raises :class:`accord.errors.Refused` with the reason verification would give.
    """
    if header.type != body.TYPE:
        raise Refused(ReasonCode.SCHEMA_INVALID,
                      f"header type {header.type} but body is {body.TYPE}")
    if signer.agency != header.sender:
        raise Refused(ReasonCode.SENDER_MISMATCH,
                      f"header sender {header.sender} but signer is {signer.agency}")
    _check_message(header, label, body, cosigners=())
    return sign_payload(payload_bytes(header, label, body), header.type, [signer])


def cosign(envelope: bytes, signer: Signer) -> bytes:
    """Add ``signer``'s signature to a sealed envelope; the payload is untouched.

    Raises Refused(malformed) for an envelope that is not accord JWS JSON, or one the
    signer has already signed.
    """
    outer = _outer(envelope, MAX_BYTES)
    payload_b64: str = outer["payload"]
    signatures: list[dict[str, str]] = outer["signatures"]
    headers = [_header_of(s["protected"]) for s in signatures]
    if signer.kid in {kid for kid, _ in headers}:
        raise Refused(ReasonCode.MALFORMED, f"{signer.agency} has already signed this envelope")
    if len(signatures) >= MAX_SIGNATURES:
        raise Refused(ReasonCode.MALFORMED, f"an envelope carries at most {MAX_SIGNATURES} "
                      "signatures")
    cty = headers[0][1]
    return _serialize(payload_b64, [*signatures, _signature(signer, cty, payload_b64)])


# -- verify --------------------------------------------------------------------------


def verify(
    raw: bytes,
    trust: TrustStore,
    *,
    topic: str | None = None,
    now: datetime | None = None,
    max_bytes: int = MAX_BYTES,
) -> Verdict:
    """Verify an envelope. Never raises on any ``raw``: every failure is a Rejected.

    ``topic`` is the topic the record was read from (checked against the signed
    header); ``now`` is the verification time (aware; default: the current time).
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")  # a caller's bug, not hostile input
    try:
        return _verify(raw, trust, topic, now, max_bytes)
    except Refused as refused:
        return Rejected(refused.reason, refused.message)
    except (ValueError, TypeError, binascii.Error, RecursionError, UnicodeError) as exc:
        return Rejected(ReasonCode.MALFORMED, f"{type(exc).__name__}: {exc}"[:500])
    except Exception as exc:
        # A bug, not a verdict: still never raise into the consumer loop, but say so
        # loudly. Tests assert no detail starts with "internal error".
        log.error("envelope.verify_internal_error", error=type(exc).__name__, exc_info=True)
        return Rejected(ReasonCode.MALFORMED, f"internal error: {type(exc).__name__}")


def _outer(raw: bytes, max_bytes: int) -> dict[str, Any]:
    if not isinstance(raw, bytes | bytearray | memoryview):
        _refuse(ReasonCode.MALFORMED, "envelope must be bytes")
    if len(raw) > max_bytes:
        _refuse(ReasonCode.OVERSIZED, f"envelope is {len(raw)} bytes, limit {max_bytes}")
    outer = _strict_json(bytes(raw), "envelope")
    if not isinstance(outer, dict) or outer.keys() != {"payload", "signatures"}:
        _refuse(ReasonCode.MALFORMED,
                "envelope must be a JWS JSON object with exactly 'payload' and 'signatures'")
    signatures = outer["signatures"]
    if not isinstance(outer["payload"], str) or not isinstance(signatures, list):
        _refuse(ReasonCode.MALFORMED, "'payload' must be a string and 'signatures' an array")
    if not 1 <= len(signatures) <= MAX_SIGNATURES:
        _refuse(ReasonCode.MALFORMED, f"an envelope carries 1 to {MAX_SIGNATURES} signatures")
    for sig in signatures:
        if (
            not isinstance(sig, dict)
            or sig.keys() != {"protected", "signature"}
            or not isinstance(sig["protected"], str)
            or not isinstance(sig["signature"], str)
        ):
            _refuse(ReasonCode.MALFORMED, "each signature must have exactly string 'protected' "
                    "and 'signature' members (no unprotected 'header')")
    return outer


@functools.lru_cache(maxsize=4096)
def _header_of(protected_b64: str) -> tuple[str, str]:
    """The (kid, cty) of a protected header, after every header rule.

    Cached by the exact base64url text: a signer's protected header is the same for
    every message of a type, so steady-state verification skips this work. Only
    accepted headers are cached (a refusal raises), and the cache is bounded.
    """
    if len(protected_b64) > _PROTECTED_MAX:
        _refuse(ReasonCode.MALFORMED, "protected header too long")
    header = _strict_json(_b64d(protected_b64, "protected header"), "protected header")
    if not isinstance(header, dict):
        _refuse(ReasonCode.MALFORMED, "protected header must be a JSON object")
    if "alg" not in header:
        _refuse(ReasonCode.MALFORMED, "protected header has no 'alg'")
    if header["alg"] != ALG:
        _refuse(ReasonCode.UNSUPPORTED_ALG, f"alg must be {ALG}, got {str(header['alg'])[:40]!r}")
    if "crit" in header:
        _refuse(ReasonCode.MALFORMED, "'crit' names extensions accord does not understand")
    pointers = _KEY_POINTERS & header.keys()
    if pointers:
        _refuse(ReasonCode.MALFORMED,
                f"protected header carries {sorted(pointers)}; keys come only from the trust store")
    extra = header.keys() - _ALLOWED_MEMBERS
    if extra:
        _refuse(ReasonCode.MALFORMED, f"unexpected protected header members {sorted(extra)[:5]}")
    for member in ("kid", "typ", "cty"):
        if not isinstance(header.get(member), str):
            _refuse(ReasonCode.MALFORMED, f"protected header needs a string {member!r}")
    if header["typ"] != TYP:
        _refuse(ReasonCode.MALFORMED, f"typ must be {TYP!r}")
    kid: str = header["kid"]
    if "x5t#S256" in header and (
        not _KID.fullmatch(kid) or header["x5t#S256"] != x5t_s256(kid)
    ):
        _refuse(ReasonCode.MALFORMED, "x5t#S256 does not match kid")
    return kid, header["cty"]


def _verify(
    raw: bytes, trust: TrustStore, topic: str | None, now: datetime, max_bytes: int
) -> Verified:
    # 1. size and outer shape
    outer = _outer(raw, max_bytes)
    payload_b64: str = outer["payload"]
    signatures: list[dict[str, str]] = outer["signatures"]

    # 2. every protected header, before any key is looked up
    headers = [_header_of(s["protected"]) for s in signatures]
    cty = headers[0][1]
    if any(h[1] != cty for h in headers):
        _refuse(ReasonCode.MALFORMED, "signatures disagree on cty")
    kids = [kid for kid, _ in headers]
    if len(set(kids)) != len(kids):
        _refuse(ReasonCode.MALFORMED, "a key signs an envelope at most once")

    # 3. keys: only the local trust store; chain, validity now, revocation
    keys: list[TrustedKey] = [trust.validate(kid, now) for kid in kids]
    agencies = tuple(k.agency for k in keys)
    if len(set(agencies)) != len(agencies):
        _refuse(ReasonCode.MALFORMED, "an agency signs an envelope at most once")

    # 4. signatures over the transmitted bytes
    for key, sig in zip(keys, signatures, strict=True):
        signature = _b64d(sig["signature"], "signature")
        if len(signature) != 64:
            _refuse(ReasonCode.BAD_SIGNATURE, "an Ed25519 signature is 64 bytes")
        try:
            key.public_key.verify(signature, f"{sig['protected']}.{payload_b64}".encode("ascii"))
        except InvalidSignature:
            _refuse(ReasonCode.BAD_SIGNATURE, f"signature by {key.agency} does not verify")

    # 5. only now is the payload parsed
    payload = _b64d(payload_b64, "payload")
    model = _PAYLOADS.get(cty)
    if model is None:
        _refuse(ReasonCode.SCHEMA_INVALID, f"unknown message type {cty[:100]!r}")
    _strict_json(payload, "payload")  # duplicate members, NaN: refused before pydantic reads it
    try:
        parsed = model.model_validate_json(payload)
    except ValidationError as exc:
        _refuse(_reason_for(exc), _summary(exc))
    header: Header = parsed.header  # type: ignore[attr-defined]
    label: Label = parsed.label  # type: ignore[attr-defined]
    body: MessageBody = parsed.body  # type: ignore[attr-defined]
    if header.type != cty:
        _refuse(ReasonCode.SCHEMA_INVALID, f"header type {header.type} but cty {cty}")

    # 6. the signers' certificates were valid when the message says it was issued
    for key in keys:
        if not key.not_before <= header.issued_at <= key.not_after:
            _refuse(ReasonCode.EXPIRED_CERT,
                    f"certificate of {key.agency} was not valid at issued_at "
                    f"{header.issued_at.isoformat()}")

    # 7. sender, scope, label, topic
    if header.sender != agencies[0]:
        _refuse(ReasonCode.SENDER_MISMATCH,
                f"header sender {header.sender} but first signer is {agencies[0]}")
    _check_message(header, label, body, cosigners=agencies[1:])
    if topic is not None and header.topic != topic:
        _refuse(ReasonCode.TOPIC_MISMATCH,
                f"signed for topic {header.topic} but read from {topic[:249]}")
    return Verified(header, label, body, agencies, payload)


@functools.lru_cache(maxsize=256)
def _country_of(agency: str) -> Country:
    # country_of runs a regex per call; the answer for an agency id never changes.
    # A malformed id raises, and a raise is never cached.
    return country_of(agency)


def _check_message(
    header: Header, label: Label, body: MessageBody, *, cosigners: tuple[str, ...]
) -> None:
    """The rules seal and verify share, in verification order."""
    for agency in (header.sender, *cosigners):
        if _country_of(agency) not in header.scope.members:
            _refuse(ReasonCode.SCOPE_VIOLATION,
                    f"{agency} is not a member of scope {header.scope}")
    body.check_context(sender=header.sender, scope=header.scope, area=header.area)
    check_label(label, header.scope, sender=header.sender)
    expected = topic_for(header)
    if header.topic != expected:
        _refuse(ReasonCode.TOPIC_MISMATCH,
                f"header topic {header.topic} but scope/area/type give {expected}")


def _reason_for(exc: ValidationError) -> ReasonCode:
    # An enum value the label does not know (policy, classification, country,
    # caveat) is its own reason, so operators can tell a policy mismatch between
    # partners from a broken message.
    for error in exc.errors(include_url=False, include_input=False):
        loc = error["loc"]
        if loc and loc[0] == "label" and error["type"] in {"enum", "literal_error"}:
            return ReasonCode.UNKNOWN_LABEL_VALUE
    return ReasonCode.SCHEMA_INVALID


def _summary(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts)[:500] + more


def envelope_payload_sha256(envelope: bytes) -> str:
    """SHA-256 of the payload of an envelope this node sealed itself (trusted bytes).

    What a receipt acknowledges; for someone else's envelope use
    ``Verified.payload_sha256`` after ``verify``.
    """
    outer = json.loads(envelope)
    return hashlib.sha256(_b64d(outer["payload"], "payload")).hexdigest()
