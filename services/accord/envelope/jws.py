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
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, NoReturn

import jiter
import pybase64
from cryptography.exceptions import InvalidSignature
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from accord.conformance import rules
from accord.envelope import merkle
from accord.envelope.header import Header, topic_for
from accord.errors import ReasonCode, Refused, Rejected
from accord.labels import Label, check_label
from accord.labels.label import unknown_label_values
from accord.models import MESSAGE_TYPES, MessageBody
from accord.models.types import Strict
from accord.observability.logs import get_logger
from accord.parties import Country, country_of
from accord.trust import Signer, TrustedKey, TrustStore, kid_of, x5t_s256

if TYPE_CHECKING:
    # Only a type: accord.envelope.batch builds on this module, not the reverse.
    from accord.envelope.batch import RootCache

__all__ = [
    "CLOCK_SKEW",
    "MAX_BYTES",
    "MAX_SIGNATURES",
    "Rejected",
    "Unsigned",
    "Verdict",
    "Verified",
    "cosign",
    "seal",
    "sign_record",
    "unsigned",
    "verify",
]

log = get_logger(__name__)

ALG = "EdDSA"
TYP = "accord+jws"
MAX_BYTES = 1_048_576
MAX_SIGNATURES = 8
CLOCK_SKEW = timedelta(seconds=300)
"""How far ``issued_at`` may be ahead of the verifier's clock (SPEC ENV-30)."""
_PROTECTED_MAX = 1024  # base64url characters; a real protected header is ~250
# Batch signatures (SPEC section 12): bounds on what a batched element may make a
# verifier do before any signature is checked.
BATCH_TYP = "accord-batch+jws"
MAX_TREE_SIZE = 65_536
MAX_PATH = 16  # audit path of a tree of 65536 leaves
_ROOT_MAX = 1024  # characters of the compact root statement; a real one is ~330
_MAX_DEPTH = 32  # SPEC 3.1: nesting depth
_MAX_NUMBER = 32  # SPEC 3.1: characters in a number literal
_ALLOWED_MEMBERS = frozenset({"alg", "kid", "typ", "cty", "x5t#S256"})
# Key-carrying or key-locating members: an attacker would use them to supply its own
# key. accord never follows them, and refuses a header that has them rather than
# silently ignore something a partner's library might act on.
_KEY_POINTERS = frozenset({"jku", "x5u", "jwk", "x5c"})
_KID = re.compile(r"[0-9a-f]{64}")
# SPEC 3.2: the last character of canonical base64url has its unused low bits zero.
_LAST_OF_2 = frozenset("AQgw")  # length % 4 == 2: 4 significant bits
_LAST_OF_3 = frozenset("AEIMQUYcgkosw048")  # length % 4 == 3: 2 significant bits
_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# base64url -> base64, for the lenient decoding a switched-off rule asks for only.
_FROM_URL = bytes.maketrans(b"-_", b"+/")


@dataclass(frozen=True, init=False)
class Verified:
    """A message whose signatures, chain, label and routing all checked out."""

    header: Header
    label: Label
    body: MessageBody
    signers: tuple[str, ...]
    """Agency ids of the signers, in order; ``signers[0]`` is the sender."""
    payload: bytes
    """The exact signed payload bytes."""
    plaintext: bytes | None = None
    """Envelope v2 only: ``{"header":H,"label":L,"body":B}`` with the exact header and
    label bytes and the decrypted body, what the inbox stores (the signed payload
    holds the ciphertext)."""
    payload_sha256: str = ""
    """SHA-256 of the signed payload bytes, hex (what receipts acknowledge, what the
    inbox dedupes on). Computed once, here, unless the caller already has it."""

    def __init__(
        self,
        header: Header,
        label: Label,
        body: MessageBody,
        signers: tuple[str, ...],
        payload: bytes,
        plaintext: bytes | None = None,
        payload_sha256: str = "",
    ) -> None:
        # One is made per message received. A frozen dataclass's own __init__ sets
        # each field through object.__setattr__; filling the instance's dict at once
        # is the same state, 1.1 µs sooner (``timeit``; issue 16). The digest is read
        # several times a message (dedupe, delivery, receipt): hashed once, here.
        self.__dict__.update(
            header=header,
            label=label,
            body=body,
            signers=signers,
            payload=payload,
            plaintext=plaintext,
            payload_sha256=payload_sha256 or hashlib.sha256(payload).hexdigest(),
        )


Verdict = Verified | Rejected


@dataclass(frozen=True)
class Sealed:
    """An envelope v2 whose every rule up to ENV-44 passed, body still encrypted.

    Everything but the body is verified: origin, chain, label, scope, topic. Open it
    with :func:`accord.envelope.v2.open_sealed` (SPEC.md section 11).
    """

    header: Header
    label: Label
    cty: str
    signers: tuple[str, ...]
    payload: bytes
    """The exact signed payload bytes (ciphertext included)."""
    header_bytes: bytes
    label_bytes: bytes
    """The exact transmitted header and label JSON: what the AAD binds."""
    enc: bytes
    """The encrypted body, decoded (SPEC 11.2 ``E``)."""
    payload_sha256: str = ""
    """As :attr:`Verified.payload_sha256`; handed on to the Verified it opens to."""

    def __post_init__(self) -> None:
        if not self.payload_sha256:
            object.__setattr__(self, "payload_sha256", hashlib.sha256(self.payload).hexdigest())


def _payload_model(body: type[MessageBody]) -> type[BaseModel]:
    return create_model(
        f"Payload[{body.TYPE}]",
        __base__=Strict,
        header=(Header, ...),
        label=(Label, ...),
        body=(body, ...),
    )


_PAYLOADS: dict[str, type[BaseModel]] = {t: _payload_model(c) for t, c in MESSAGE_TYPES.items()}


class _AnyBody(MessageBody):
    """Any body: only with ENV-25 switched off (mutation test), for an unknown cty."""

    TYPE: ClassVar[str] = "unknown"
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


_LOOSE_PAYLOAD = _payload_model(_AnyBody)


# -- encoding helpers ---------------------------------------------------------------


def _b64e(data: bytes) -> str:
    # pybase64 (SIMD): 2.4 kB in 1.3 µs against the standard library's 4.2 to 5.3
    # (issue 16); the same RFC 4648 output.
    return pybase64.b64encode_as_string(data, altchars=b"-_").rstrip("=")


def _canonical_b64url(text: str) -> bool:
    """SPEC 3.2: alphabet, no padding, length % 4 != 1, unused low bits zero.

    One C pass (bytes.translate deleting the alphabet leaves nothing), no decoding:
    a 1 MiB payload is checked in about a millisecond.
    """
    rest = len(text) % 4
    if rest == 1 or not text.isascii():
        return False
    if text.encode("ascii").translate(None, _B64URL_ALPHABET):
        return False
    return (
        rest == 0
        or (rest == 2 and text[-1] in _LAST_OF_2)
        or (rest == 3 and text[-1] in _LAST_OF_3)
    )


def _b64d(text: str, what: str, rule: str = "ENV-06") -> bytes:
    """Decode base64url; refuses anything but the canonical spelling (SPEC 3.2)."""
    strict = rules.enabled(rule)
    if strict:
        decoded = _decoded_if_canonical(text)
        if decoded is None:
            _refuse(ReasonCode.MALFORMED, f"{what} is not canonical base64url", rule)
        return decoded
    try:
        # Rule switched off (mutation test only): decode as a lenient library would,
        # padding accepted and stray low bits ignored.
        return binascii.a2b_base64(
            text.rstrip("=").encode("ascii").translate(_FROM_URL)
            + b"=" * (-len(text.rstrip("=")) % 4)
        )
    except (binascii.Error, UnicodeEncodeError):
        _refuse(ReasonCode.MALFORMED, f"{what} is not base64url", rule)


def _decode_canonical(text: str) -> bytes:
    """Text already found canonical base64url (``_canonical_b64url``: by ``_b64d``, or
    by ENV-06 and BAT-02 for a record's payload and path elements): its bytes, without
    checking the spelling a second time. Canonical text always decodes.

    pybase64 (SIMD) decodes a 3.2 kB payload text in 1.8 µs against the standard
    library's 7.2 (issue 16). ``validate=True`` is its fast path; the text is valid."""
    return pybase64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _decoded_if_canonical(text: str) -> bytes | None:
    """The bytes of ``text`` if it is canonical base64url (``_canonical_b64url``), else
    None: the check and the decoding in one pass over a long text.

    pybase64's strict decoding (SIMD) refuses every byte outside the alphabet, as the
    check's ``translate`` does, once ``altchars`` has mapped ``-_`` to ``+/``; so ``+``,
    ``/`` and ``=`` (its padding, which canonical text never has) are looked for
    first, each in one C scan. The rest of the check (length, the last character's
    unused bits) reads no more than the length and the last character. A 2.2 kB
    payload text checked and decoded in 17 000 instructions, against 38 000 for the
    check and then the decoding (issue 16; tests/unit/test_envelope.py holds the two
    ways to the same answers)."""
    rest = len(text) % 4
    if (
        rest == 1
        or not text.isascii()
        or "+" in text
        or "/" in text
        or "=" in text
        or (rest == 2 and text[-1] not in _LAST_OF_2)
        or (rest == 3 and text[-1] not in _LAST_OF_3)
    ):
        return None
    try:
        return pybase64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        return None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate members are read differently by different JSON parsers (first wins,
    # last wins): refuse them so every partner sees the same message.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _int_literal(text: str) -> int:
    if len(text) > _MAX_NUMBER:
        raise ValueError("number literal too long")
    return int(text)


def _float_literal(text: str) -> float:
    if len(text) > _MAX_NUMBER:
        raise ValueError("number literal too long")
    return float(text)


# One decoder for every call: json.loads(..., object_pairs_hook=...) builds a new
# JSONDecoder (and scanner) per call. A decoder keeps no state between calls (the
# default json.loads shares one module-level decoder the same way).
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_keys,
    parse_constant=_no_constants,
    parse_int=_int_literal,
    parse_float=_float_literal,
)
_LENIENT = json.JSONDecoder()  # last member wins: only with a strict-JSON rule switched off
# A number literal longer than SPEC 3.1 allows is a run of more than _MAX_NUMBER bytes
# that can make up a number (so is rarer text, 33 digits in a string: the exact reader
# then judges). Found by mapping those bytes to "1", "[" and "{" to "{" (to count
# openings in the same pass) and the rest to " ", then searching for the run: 2 µs for
# a 3 kB record, where a regular expression takes 38.
_NUMBER_BYTES = bytes(
    0x31 if byte in b"-+.0123456789eE" else 0x7B if byte in b"[{" else 0x20 for byte in range(256)
)
_LONG_NUMBER = b"1" * (_MAX_NUMBER + 1)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _past_space(text: str, start: int) -> int:
    """Index of the first character at or after ``start`` that is not JSON whitespace."""
    rest = text[start:]
    stripped = rest.lstrip()  # C speed, but strips every Unicode space: check what it took
    skipped = rest[: len(rest) - len(stripped)]
    if skipped and (not skipped.isascii() or any(c in skipped for c in _NOT_JSON_SPACE)):
        raise ValueError("whitespace JSON does not allow")
    return start + len(skipped)


def _depth(text: str) -> int:
    if text.count("[") + text.count("{") <= _MAX_DEPTH:
        return 0  # cannot be deeper than the number of openings: skip the scan
    depth = deepest = 0
    for char in _STRING.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _strict_json(data: bytes, what: str, rule: str, *, openings: int | None = None) -> Any:
    """Parse strict JSON (SPEC 3.1); refuse with ``rule`` otherwise.

    ``openings``, when the caller already counted ``[`` and ``{``, saves the count.
    """
    try:
        if not rules.enabled(rule):
            # Rule switched off (mutation test only): read as a lenient library would.
            text = data.decode("utf-8", errors="replace")
            return _LENIENT.decode(text[1:] if text.startswith("\ufeff") else text)
        shape = data.translate(_NUMBER_BYTES)
        if _LONG_NUMBER in shape:
            return _exact_json(data.decode("utf-8"), openings)
        return _fast_json(data, shape.count(b"{") if openings is None else openings)
    except (ValueError, RecursionError, UnicodeError) as exc:
        _refuse(ReasonCode.MALFORMED, f"{what} is not strict JSON: {exc}"[:300], rule)


def _fast_json(data: bytes, openings: int) -> Any:
    """SPEC 3.1 by jiter (pydantic's Rust JSON parser), for text with no run of number
    bytes longer than a number may be (``_NUMBER_BYTES``).

    jiter refuses what SPEC 3.1 refuses (duplicate names, NaN and Infinity, lone
    surrogates, a byte-order mark, whitespace JSON does not have) in 2 µs for a 3 kB
    record and 6 for a 1.6 kB payload, where ``_exact_json`` takes 11 and 17 (issue 16;
    tests/unit/test_strict_json.py holds the two to the same verdicts). It bounds
    neither depth, checked here first, nor a number's length, which the caller's run
    search bounds.
    """
    if openings > _MAX_DEPTH and _depth(data.decode("utf-8")) > _MAX_DEPTH:
        raise ValueError(f"nesting deeper than {_MAX_DEPTH}")
    return jiter.from_json(data, allow_inf_nan=False, catch_duplicate_keys=True, cache_mode="keys")


def _exact_json(text: str, openings: int | None) -> Any:
    """SPEC 3.1 by the json module's C scanner with Python hooks: every check,
    number length included. Raises ValueError (or RecursionError) on what it refuses."""
    if text.startswith("\ufeff"):
        raise ValueError("a byte-order mark is not JSON")
    if (openings is None or openings > _MAX_DEPTH) and _depth(text) > _MAX_DEPTH:
        raise ValueError(f"nesting deeper than {_MAX_DEPTH}")
    # Leading and trailing whitespace skipped in C: JSONDecoder.decode skips it with a
    # regex, and str.strip(chars) is no faster (10-20 ms for 1 MiB of spaces). Between
    # tokens the C scanner skips it itself.
    value, end = _DECODER.raw_decode(text, _past_space(text, 0))
    if _past_space(text, end) != len(text):
        raise ValueError(f"extra data after the JSON value at {end}")
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        # Python's json keeps a lone surrogate escape as a lone code point; a correctly
        # paired one became one character. Lone ones cannot be encoded.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value


def _refuse(reason: ReasonCode, detail: str, rule: str | None = None) -> NoReturn:
    raise Refused(reason, detail, rule=rule)


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
        f'{{"protected":"{s["protected"]}","signature":"{s["signature"]}"}}' for s in signatures
    )
    return f'{{"payload":"{payload_b64}","signatures":[{members}]}}'.encode("ascii")


def payload_bytes(header: Header, label: Label, body: MessageBody) -> bytes:
    """The exact payload bytes ``seal`` signs (compact JSON, UTF-8, fields in model order)."""
    return b"".join(
        (
            b'{"header":',
            _json_bytes(header),
            b',"label":',
            label_bytes(label),
            b',"body":',
            _json_bytes(body),
            b"}",
        )
    )


_last_label: tuple[Label, bytes] | None = None


def label_bytes(label: Label) -> bytes:
    """``_json_bytes(label)``, the last label's bytes kept by identity: a publisher's
    messages share their label object (``publish_many``: one for the call), and a
    label is frozen, so its bytes cannot change (3.3 µs a message, ``timeit``). The
    one label kept is held, so its identity cannot pass to another object."""
    global _last_label
    last = _last_label
    if last is not None and last[0] is label:
        return last[1]
    data = _json_bytes(label)
    _last_label = (label, data)
    return data


def _json_bytes(model: BaseModel) -> bytes:
    """``model.model_dump_json().encode()``: the same bytes from the model's serializer
    directly, without model_dump_json's keyword handling and its bytes-to-str-to-bytes
    round trip (2.5 µs for a header against 3.3; issue 16)."""
    return model.__pydantic_serializer__.to_json(model)


def sign_payload(payload: bytes, cty: str, signers: list[Signer]) -> bytes:
    """Sign arbitrary payload bytes, no checks. For tests and vectors; use :func:`seal`."""
    payload_b64 = _b64e(payload)
    return _serialize_b64(payload_b64, [_signature(s, cty, payload_b64) for s in signers])


class Unsigned(NamedTuple):
    """What one signer signs for one message, not yet signed (SPEC 8, 11.5, 12).

    ``unsigned`` (v1) and ``accord.envelope.v2.unsigned_encrypted`` build it after
    every check ``seal`` makes; :func:`sign_record` turns it into a per-message
    record and ``accord.envelope.batch.sign_batch`` a batch of them into batched
    records. Both sign the same signing input, so one builder serves both.
    """

    protected_b64: str
    """The signer's protected header, base64url."""
    payload: str
    """v1: the payload's base64url; v2: the unencoded payload text (RFC 7797)."""
    v2: bool
    payload_sha256: str = ""
    """SHA-256 (hex) of the payload bytes a record of this signs, when the builder had
    them at hand (``unsigned``, ``unsigned_encrypted``): what receipts and announcements
    acknowledge, so the publisher need not decode the base64url again to hash it."""

    @property
    def signing_input(self) -> bytes:
        """ENV-23's signing input, and a batch signature's Merkle leaf (SPEC 12)."""
        return _signing_input(self.protected_b64, self.payload, self.v2)


def _record(item: Unsigned, elements: list[str]) -> bytes:
    """The general JSON record of ``item`` with already serialized signature elements.

    v1: every string is base64url, so the compact JSON is plain concatenation. v2: the
    payload is JSON text in a JSON string, written with the minimal escapes ENC-01
    requires; ensure_ascii=False keeps UTF-8 as is (the label's legal_basis may hold
    any text).
    """
    payload = json.dumps(item.payload, ensure_ascii=False) if item.v2 else f'"{item.payload}"'
    return f'{{"payload":{payload},"signatures":[{",".join(elements)}]}}'.encode()


def sign_record(signer: Signer, item: Unsigned) -> bytes:
    """A per-message record: ``signer``'s own signature over ``item`` (SPEC 8)."""
    signature = _b64e(signer.sign(item.signing_input))
    return _record(item, [f'{{"protected":"{item.protected_b64}","signature":"{signature}"}}'])


# -- seal and cosign ---------------------------------------------------------------


def _check_seal(header: Header, label: Label, body: MessageBody, signer: Signer) -> None:
    """What ``seal`` and ``seal_encrypted`` check before signing: as a verifier would."""
    if header.type != body.TYPE:
        raise Refused(
            ReasonCode.SCHEMA_INVALID,
            f"header type {header.type} but body is {body.TYPE}",
            rule="ENV-29",
        )
    if signer.agency != header.sender:
        raise Refused(
            ReasonCode.SENDER_MISMATCH,
            f"header sender {header.sender} but signer is {signer.agency}",
            rule="ENV-32",
        )
    _check_message(header, label, body, cosigners=())


def unsigned(header: Header, label: Label, body: MessageBody, signer: Signer) -> Unsigned:
    """Check a message as a verifier would; what ``signer`` then signs for it (v1).

    Raises :class:`accord.errors.Refused` with the reason verification would give.
    """
    _check_seal(header, label, body, signer)
    payload = payload_bytes(header, label, body)
    return Unsigned(
        _protected(signer.kid, header.type),
        _b64e(payload),
        False,
        hashlib.sha256(payload).hexdigest(),
    )


def seal(header: Header, label: Label, body: MessageBody, signer: Signer) -> bytes:
    """Check a message as a verifier would, then sign it. Returns JWS JSON bytes.

    Raises :class:`accord.errors.Refused` with the reason verification would give.
    """
    return sign_record(signer, unsigned(header, label, body, signer))


def cosign(
    envelope: bytes,
    signer: Signer,
    trust: TrustStore,
    *,
    topic: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """Verify a sealed envelope, then add ``signer``'s signature; the payload is untouched.

    A co-signer vouches for what it signs, so it first verifies the envelope as
    received, every existing signature included (SPEC section 8). Raises Refused
    with the verifier's reason, or malformed when the signer's key or agency has
    already signed, or the envelope has no room for another signature.
    """
    verdict = verify(envelope, trust, topic=topic, now=now)
    if isinstance(verdict, Rejected):
        raise Refused(verdict.reason, f"refusing to co-sign: {verdict.detail}", rule=verdict.rule)
    outer = json.loads(envelope)  # verified above
    payload_b64: str = outer["payload"]
    signatures: list[dict[str, str]] = outer["signatures"]
    if signer.kid in {_header_of(s["protected"])[0] for s in signatures}:
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
    return _serialize(
        payload_b64, [*signatures, _signature(signer, verdict.header.type, payload_b64)]
    )


# -- verify --------------------------------------------------------------------------


def verify(
    raw: bytes,
    trust: TrustStore,
    *,
    topic: str | None = None,
    now: datetime | None = None,
    max_bytes: int = MAX_BYTES,
    roots: RootCache | None = None,
) -> Verdict:
    """Verify an envelope by the rules of schemas/SPEC.md, in their order.

    Never raises on any ``raw``: every failure is a Rejected, tagged with the rule it
    breaks. ``topic`` is the topic the record was read from (checked against the
    signed header); ``now`` is the verification time (aware; default: the current
    time). ``roots``: batch root statements already verified (SPEC 12), kept by the
    caller across records.
    """
    verdict = verify_any(raw, trust, topic=topic, now=now, max_bytes=max_bytes, roots=roots)
    if isinstance(verdict, Sealed):
        # v1 callers get a verdict they can use; a v2 reader calls verify_sealed.
        return Rejected(
            ReasonCode.MALFORMED,
            "envelope v2 (encrypted body): open it with accord.envelope.v2",
            "ENC-01",
        )
    return verdict


def verify_any(
    raw: bytes,
    trust: TrustStore,
    *,
    topic: str | None = None,
    now: datetime | None = None,
    max_bytes: int = MAX_BYTES,
    roots: RootCache | None = None,
) -> Verified | Sealed | Rejected:
    """:func:`verify` for v1 and v2 records alike (a v2 record gives ``Sealed``).

    The one place where a failure becomes a verdict: never raises on any ``raw``.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")  # a caller's bug, not hostile input
    try:
        return _verify(raw, trust, topic, now, max_bytes, roots)
    except Refused as refused:
        return Rejected(refused.reason, refused.message, refused.rule)
    except (
        ValueError,
        TypeError,
        binascii.Error,
        RecursionError,
        UnicodeError,
        OverflowError,
    ) as exc:
        return Rejected(ReasonCode.MALFORMED, f"{type(exc).__name__}: {exc}"[:500])
    except Exception as exc:
        # A bug, not a verdict: still never raise into the consumer loop, but say so
        # loudly. Tests assert no detail starts with "internal error".
        log.error("envelope.verify_internal_error", error=type(exc).__name__, exc_info=True)
        return Rejected(ReasonCode.MALFORMED, f"internal error: {type(exc).__name__}")


_SCAN_LIMIT = 64
_V2_PAYLOAD = re.compile(rb'"payload"[ \t\r\n]*:[ \t\r\n]*"\{')
_PAYLOAD_NAME = b'"payload"'
_V2_AFTER_NAME = re.compile(rb'[ \t\r\n]*:[ \t\r\n]*"\{')
_PAYLOAD_NAMES_TRIED = 4
# "unrolled loop": linear, no nested quantifier to backtrack through
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[{:,")
_NOT_JSON_SPACE = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")  # str.isspace, ASCII


def _bounded_shape(raw: bytes) -> int:
    """ENV-02's structural bound (SPEC 5.2): at most 64 bytes ``{ [ : ,`` in the record.

    Every string of a valid record is base64url, so all of its ``{``/``[``, ``:`` and
    ``,`` are structure: 4 + 5 per signature, 44 with 8 signatures (a batched element,
    SPEC 12, counts 11 plus a comma per path hash after the first). Counting bytes (C
    speed) before any general parse makes a 1 MiB record of ``[[[[`` or ``{}``-lists
    as cheap to refuse as a valid record is to check (issue 9 item 4), and below the
    bound the general parse handles at most a few hundred tokens. The bound is part of
    ENV-02, so every verifier reports such a record under the same rule; 64 rather than
    44 keeps records of up to 12 well-formed signatures for ENV-04 to judge.
    """
    v2 = _v2_payload_quote(raw)
    if v2 is not None and rules.enabled("ENC-01"):
        # SPEC 11.1: a v2 payload is JSON text; its structure is counted (and bounded)
        # when it is parsed after the signatures, not here. Cut its string out.
        raw = _without_string_at(raw, v2)
    structure = raw.translate(None, _NOT_STRUCTURE)  # one C pass; keeps only [ { : ,
    openings = structure.count(b"[") + structure.count(b"{")
    if len(structure) > _SCAN_LIMIT:
        _refuse(
            ReasonCode.MALFORMED,
            f"envelope has more than {_SCAN_LIMIT} of the bytes {{ [ : , (a record of "
            "8 per-message signatures has 44)",
            "ENV-02",
        )
    return openings


def _v2_payload_quote(raw: bytes) -> int | None:
    """Where ``_V2_PAYLOAD`` first matches, as the index of the payload string's
    opening quote; None where it does not match.

    The expression's own search tries every byte of the record; ``bytes.find`` skips
    to each ``"payload"`` in C and the rest is matched there: a 3 kB v1 record in a
    third of the instructions (issue 16). A record with many such names (only a
    hostile one has more than one) is left to the expression after the first few.
    """
    at = raw.find(_PAYLOAD_NAME)
    for _ in range(_PAYLOAD_NAMES_TRIED):
        if at == -1:
            return None
        after = _V2_AFTER_NAME.match(raw, at + len(_PAYLOAD_NAME))
        if after is not None:
            return after.end() - 2
        at = raw.find(_PAYLOAD_NAME, at + 1)
    if at == -1:
        return None
    found = _V2_PAYLOAD.search(raw, at)
    return None if found is None else found.end() - 2


def _without_string_at(raw: bytes, quote: int) -> bytes:
    """``raw`` without the JSON string whose opening quote is byte ``quote``; ``raw``
    unchanged when no string ends there.

    The json module's C scanner finds the end of a 3 kB v2 payload in a few
    microseconds where the regular expression took ten (issue 16): the payload escapes
    every quote of its JSON text. Text it refuses (not UTF-8, a control character, an
    escape JSON does not have) goes to the expression, so the cut is the one it makes.
    Where both read a string they end it at the same quote (the first one no escape
    takes), and the quote is ASCII, so decoding from it splits no character.
    """
    try:
        text = raw[quote:].decode("utf-8")
        _, end = _LENIENT.raw_decode(text)  # a string: no member, no number to judge
    except (UnicodeDecodeError, ValueError):
        match = _JSON_STRING.match(raw, quote)
        return raw if match is None else raw[:quote] + raw[match.end() :]
    return raw[:quote] + text[end:].encode("utf-8")


def _outer(raw: bytes, max_bytes: int) -> tuple[dict[str, Any], bytes | None]:
    """ENV-01 to ENV-06: size, strict JSON, the general JWS JSON shape, base64url.

    Returns the record's JSON and, when ENV-06 found a v1 payload canonical, the
    payload's bytes: decoded in the same pass as that check (``_decoded_if_canonical``),
    not decoded again where ENV-24 reads them."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        _refuse(ReasonCode.MALFORMED, "envelope must be bytes", "ENV-02")
    raw = bytes(raw)
    if len(raw) > max_bytes and rules.enabled("ENV-01"):
        _refuse(ReasonCode.OVERSIZED, f"envelope is {len(raw)} bytes, limit {max_bytes}", "ENV-01")
    openings = _bounded_shape(raw) if rules.enabled("ENV-02") else None
    outer = _strict_json(raw, "envelope", "ENV-02", openings=openings)
    if not isinstance(outer, dict):
        _refuse(ReasonCode.MALFORMED, "envelope must be a JSON object", "ENV-03")
    if rules.enabled("ENV-03") and outer.keys() != {"payload", "signatures"}:
        _refuse(
            ReasonCode.MALFORMED,
            "envelope must be a JWS JSON object with exactly 'payload' and 'signatures' "
            "(general serialization; flattened and compact are refused)",
            "ENV-03",
        )
    signatures = outer.get("signatures")
    if not isinstance(outer.get("payload"), str) or not isinstance(signatures, list):
        _refuse(
            ReasonCode.MALFORMED, "'payload' must be a string and 'signatures' an array", "ENV-03"
        )
    if not signatures or (len(signatures) > MAX_SIGNATURES and rules.enabled("ENV-04")):
        _refuse(
            ReasonCode.MALFORMED, f"an envelope carries 1 to {MAX_SIGNATURES} signatures", "ENV-04"
        )
    for sig in signatures:
        # ENV-05: a per-message element; one with a 'batch' member is BAT-01's (SPEC 12)
        if (
            not isinstance(sig, dict)
            or not isinstance(sig.get("protected"), str)
            or (
                "batch" not in sig
                and (
                    not isinstance(sig.get("signature"), str)
                    or (sig.keys() != {"protected", "signature"} and rules.enabled("ENV-05"))
                )
            )
        ):
            _refuse(
                ReasonCode.MALFORMED,
                "each signature must have exactly string 'protected' and 'signature' "
                "members, or 'protected' and 'batch' (no unprotected 'header')",
                "ENV-05",
            )
    for sig in signatures:
        if "batch" in sig:
            _check_batch_element(sig)
    payload: bytes | None = None
    if rules.enabled("ENV-06"):
        # ENC-01: an unencoded (v2) payload is not base64url; ENV-06 reads the rest.
        v2 = _is_v2(outer["payload"])
        texts = []
        for sig in signatures:
            texts.append(sig["protected"])
            if "batch" not in sig:
                texts.append(sig["signature"])
        canonical = all(_canonical_b64url(t) for t in texts)
        if canonical and not v2:
            payload = _decoded_if_canonical(outer["payload"])
            canonical = payload is not None
        if not canonical:
            _refuse(
                ReasonCode.MALFORMED,
                "payload, protected and signature must be canonical "
                "base64url (no padding, no stray low bits)",
                "ENV-06",
            )
        # No string of a valid v1 record needs an escape, so none may hold one: the text
        # ENV-23 signs over is then the transmitted bytes, with no unescaping to agree on.
        # A v2 payload (ENC-01) is JSON text in a JSON string: written minimally, its one
        # spelling ('"' as \\", '\\' as \\\\, nothing else escaped).
        if b"\\" in raw:
            if not v2:
                _refuse(
                    ReasonCode.MALFORMED,
                    "the envelope holds a JSON escape (\\); its "
                    "strings must be written as plain base64url",
                    "ENV-06",
                )
            if not _minimal_escapes(raw, outer["payload"]) and rules.enabled("ENC-01"):
                _refuse(
                    ReasonCode.MALFORMED,
                    "a v2 payload escapes only '\"' and '\\\\', "
                    "and nothing else of the record is escaped",
                    "ENC-01",
                )
    for sig in signatures:
        if "batch" in sig:
            _check_batch_encoding(sig["batch"])
    return outer, payload


def _check_batch_element(sig: dict[str, Any]) -> None:
    """BAT-01: a batched element's members, types and bounds (SPEC 12)."""
    batch = sig["batch"]
    well_typed = (
        isinstance(batch, dict)
        and isinstance(batch.get("root"), str)
        and type(batch.get("index")) is int  # an integer literal; JSON true is not one
        and isinstance(batch.get("path"), list)
        and all(isinstance(h, str) for h in batch["path"])
    )
    if not rules.enabled("BAT-01"):
        # mutation test only: a verifier that ignores extra members and the bounds
        if well_typed:
            return
    elif (
        well_typed
        and sig.keys() == {"protected", "batch"}
        and batch.keys() == {"root", "index", "path"}
        and len(batch["root"]) <= _ROOT_MAX
        and len(batch["path"]) <= MAX_PATH
    ):
        return
    _refuse(
        ReasonCode.MALFORMED,
        "a batched signature has exactly 'protected' and 'batch', and 'batch' exactly a "
        f"string 'root' (at most {_ROOT_MAX} characters), an integer 'index' and a "
        f"'path' of at most {MAX_PATH} strings",
        "BAT-01",
    )


def _check_batch_encoding(batch: dict[str, Any]) -> None:
    """BAT-02: root is three canonical base64url parts; path elements 32 bytes each."""
    if not rules.enabled("BAT-02"):
        return
    if not _compact_jws(batch["root"]):
        _refuse(
            ReasonCode.MALFORMED,
            "batch root must be a compact JWS: three canonical base64url parts",
            "BAT-02",
        )
    if not _hashes_b64url(batch["path"]):
        _refuse(
            ReasonCode.MALFORMED,
            "each batch path element is canonical base64url of 32 bytes",
            "BAT-02",
        )


@functools.lru_cache(maxsize=4096)
def _compact_jws(root: str) -> bool:
    """Three canonical base64url parts. Cached by the exact text: a batch's records
    all carry the same root."""
    parts = root.split(".")
    return len(parts) == 3 and all(_canonical_b64url(p) for p in parts)


def _hashes_b64url(path: list[str]) -> bool:
    """Each element is the canonical base64url of 32 bytes: exactly 43 characters of
    the alphabet whose last one leaves no stray bits (``_canonical_b64url`` of each,
    with the alphabet checked in one pass over them all)."""
    if not all(len(h) == 43 and h[-1] in _LAST_OF_3 for h in path):
        return False
    joined = "".join(path)
    return joined.isascii() and not joined.encode("ascii").translate(None, _B64URL_ALPHABET)


def _minimal_escapes(raw: bytes, payload: str) -> bool:
    """Whether the record's escapes are exactly its v2 payload written minimally."""
    written = payload.replace("\\", "\\\\").replace('"', '\\"').encode("utf-8")
    return raw.count(b"\\") == written.count(b"\\") and written in raw


_HEADER_MEMBERS = frozenset({"alg", "kid", "typ", "cty"})
_V2_MEMBERS = frozenset({"b64", "crit"})


def _is_v2(payload: str) -> bool:
    """ENC-01: a payload starting with ``{`` is v2's unencoded payload (RFC 7797)."""
    return payload[:1] == "{" and rules.enabled("ENC-01")


@functools.lru_cache(maxsize=4096)
def _header_of(protected_b64: str, v2: bool = False) -> tuple[str, str]:
    """The (kid, cty) of one protected header, after ENV-07 to ENV-14.

    Cached by the exact base64url text: a signer's protected header is the same for
    every message of a type, so steady-state verification skips this work. Only
    accepted headers are cached (a refusal raises), and the cache is bounded.
    """
    if len(protected_b64) > _PROTECTED_MAX and rules.enabled("ENV-07"):
        _refuse(ReasonCode.MALFORMED, "protected header too long", "ENV-07")
    header = _strict_json(_b64d(protected_b64, "protected header"), "protected header", "ENV-07")
    if not isinstance(header, dict):
        _refuse(ReasonCode.MALFORMED, "protected header must be a JSON object", "ENV-07")
    if not isinstance(header.get("alg"), str) and rules.enabled("ENV-08"):
        _refuse(ReasonCode.MALFORMED, "protected header needs a string 'alg'", "ENV-08")
    if header.get("alg") != ALG and rules.enabled("ENV-09"):
        alg = str(header.get("alg"))[:40]
        _refuse(ReasonCode.UNSUPPORTED_ALG, f"alg must be {ALG}, got {alg!r}", "ENV-09")
    members = header.keys() - {"x5t#S256"}
    if v2:
        # ENC-02: the signer committed to the unencoded reading (RFC 7797 section 6).
        if (header.get("b64") is not False or header.get("crit") != ["b64"]) and rules.enabled(
            "ENC-02"
        ):
            _refuse(
                ReasonCode.MALFORMED,
                'envelope v2 needs "b64": false and "crit": ["b64"] in every protected header',
                "ENC-02",
            )
        members = members - _V2_MEMBERS
    if members != _HEADER_MEMBERS and rules.enabled("ENV-10"):
        # crit: accord understands no extension. jku/x5u/jwk/x5c: an attacker would use
        # them to supply its own key; refused rather than ignored, so that no partner
        # library along the way can act on them.
        extra = sorted(members - _HEADER_MEMBERS)[:5]
        missing = sorted(_HEADER_MEMBERS - members)
        _refuse(
            ReasonCode.MALFORMED,
            f"protected header members: unexpected {extra}, missing {missing}",
            "ENV-10",
        )
    if header.get("typ") != TYP and rules.enabled("ENV-11"):
        _refuse(ReasonCode.MALFORMED, f"typ must be {TYP!r}", "ENV-11")
    kid = header.get("kid")
    if not (isinstance(kid, str) and _KID.fullmatch(kid)) and rules.enabled("ENV-12"):
        _refuse(ReasonCode.MALFORMED, "kid must be 64 lower-case hex digits", "ENV-12")
    if (
        "x5t#S256" in header
        and rules.enabled("ENV-13")
        and (
            header["x5t#S256"] != x5t_s256(kid)  # type: ignore[arg-type]  # str after ENV-12
        )
    ):
        _refuse(ReasonCode.MALFORMED, "x5t#S256 does not match kid", "ENV-13")
    cty = header.get("cty")
    if not isinstance(cty, str) and rules.enabled("ENV-14"):
        _refuse(ReasonCode.MALFORMED, "protected header needs a string 'cty'", "ENV-14")
    return str(kid), str(cty)


def _first_failure(checks: list[Refused | None]) -> None:
    """Raise the refusal of the lowest-numbered rule among per-signature results.

    Each signature is checked up to its own first failure; the earliest rule across
    all of them is the rule that running each rule across all signatures, in table
    order, would fail first (SPEC 5.1).
    """
    failures = [c for c in checks if c is not None]
    if failures:
        raise min(failures, key=lambda r: rules.order(r.rule))


def _per_signature(check: Any, *columns: Sequence[Any]) -> list[Any]:
    """``check(a, b, ...)`` for each signature's item of each column, in order.

    A record of one signature (nearly every record) is one call: its first failure is
    the earliest. No zipped list is built for it (issue 16: a few µs a record)."""
    if len(columns[0]) == 1:
        return [check(*[column[0] for column in columns])]
    results: list[Any] = []
    failures: list[Refused | None] = []
    for item in zip(*columns, strict=True):
        try:
            results.append(check(*item))
            failures.append(None)
        except Refused as refused:
            results.append(None)
            failures.append(refused)
    _first_failure(failures)
    return results


def _verify(
    raw: bytes,
    trust: TrustStore,
    topic: str | None,
    now: datetime,
    max_bytes: int,
    roots: RootCache | None = None,
) -> Verified | Sealed:
    # ENV-01..06: size and the outer shape, before anything is decoded
    outer, decoded = _outer(raw, max_bytes)
    payload_b64: str = outer["payload"]
    signatures: list[dict[str, Any]] = outer["signatures"]
    v2 = _is_v2(payload_b64)

    # ENV-07..16: every protected header, before any key is looked up
    headers: list[tuple[str, str]] = _per_signature(
        lambda protected: _header_of(protected, v2), [s["protected"] for s in signatures]
    )
    cty = headers[0][1]
    # The duplicate and agreement checks below have nothing to compare in a record of
    # one signature (nearly every record): skipped before building their sets.
    several = len(headers) > 1
    if several and any(h[1] != cty for h in headers) and rules.enabled("ENV-15"):
        _refuse(ReasonCode.MALFORMED, "signatures disagree on cty", "ENV-15")
    kids = [kid for kid, _ in headers]
    if several and len(set(kids)) != len(kids) and rules.enabled("ENV-16"):
        _refuse(ReasonCode.MALFORMED, "a key signs an envelope at most once", "ENV-16")
    # BAT-03: each batched element's root statement, and its position in that tree
    statements: list[_RootStatement | None] = _per_signature(_batch_position, signatures, kids)

    # ENV-17..22: keys only from the local trust store; chain, usage, CRL, validity now
    keys: list[TrustedKey] = _per_signature(
        lambda kid, sig: _trusted_key(trust, kid, sig, payload_b64, now), kids, signatures
    )
    agencies = tuple([k.agency for k in keys])
    if several and len(set(agencies)) != len(agencies) and rules.enabled("ENV-22"):
        _refuse(ReasonCode.MALFORMED, "an agency signs an envelope at most once", "ENV-22")

    # ENV-23: every signature, over the transmitted text; a batched element's over its
    # root statement, once per (root, kid) when the caller keeps a RootCache (SPEC 12)
    for key, sig, statement in zip(keys, signatures, statements, strict=True):
        if statement is None:
            signature = _b64d(sig["signature"], "signature")
            signed = _signing_input(sig["protected"], payload_b64, v2)
        else:
            root_text = sig["batch"]["root"]
            if roots is not None and (root_text, key.kid) in roots:
                continue
            signature, signed = statement.signature, statement.signed
        if rules.enabled("ENV-23"):
            try:
                if len(signature) != 64:
                    raise InvalidSignature
                key.public_key.verify(signature, signed)
            except InvalidSignature:
                _refuse(
                    ReasonCode.BAD_SIGNATURE, f"signature by {key.agency} does not verify", "ENV-23"
                )
            if statement is not None and roots is not None:
                roots.add(root_text, key.kid)
    # BAT-04: each batched record is a leaf of the tree its verified root commits to
    for key, sig, statement in zip(keys, signatures, statements, strict=True):
        if statement is not None and rules.enabled("BAT-04"):
            _check_inclusion(
                statement, sig, payload_b64, v2, key.agency, None if roots is None else roots.proofs
            )

    if v2:
        return _verify_v2(payload_b64, cty, keys, agencies, topic, now)

    # ENV-24..29: only now is the payload parsed. The text is read twice, by two
    # readers that each check what the other cannot: the strict reader (SPEC 3.1:
    # duplicate names, depth, number length, lone surrogates, NaN, all of which
    # pydantic's JSON parser lets through) and pydantic's strict validation in JSON
    # mode (JSON's spellings of enums, tuples, dates, which strict validation of the
    # parsed Python value refuses and lax validation would coerce). Measured on the
    # bench message (issue 16): validating the parsed value laxly costs more than the
    # JSON validation it would replace, and proving "no duplicate names" after a
    # pydantic-only parse costs more than the strict reader. So: parse twice.
    # ENV-06 found the payload canonical base64url and decoded it; only with ENV-06
    # switched off (mutation test) is it decoded here, leniently.
    payload = decoded if decoded is not None else _b64d(payload_b64, "payload")
    doc = _strict_json(payload, "payload", "ENV-24")
    model = _PAYLOADS.get(cty)
    if model is None:
        if rules.enabled("ENV-25"):
            _refuse(ReasonCode.SCHEMA_INVALID, f"unknown message type {cty[:100]!r}", "ENV-25")
        model = _LOOSE_PAYLOAD
    if rules.enabled("ENV-26") and isinstance(doc, dict):
        unknown = unknown_label_values(doc.get("label"))
        if unknown is not None:
            _refuse(ReasonCode.UNKNOWN_LABEL_VALUE, unknown, "ENV-26")
    try:
        # Strict: no coercion (SPEC 3.1 integers, exact types). With ENV-27 switched off
        # (mutation test only) it validates as a lax partner library would.
        parsed = model.model_validate_json(payload, strict=rules.enabled("ENV-27"))
    except ValidationError as exc:
        _refuse(ReasonCode.SCHEMA_INVALID, _summary(exc), _rule_of(exc))
    header: Header = parsed.header  # type: ignore[attr-defined]
    label: Label = parsed.label  # type: ignore[attr-defined]
    body: MessageBody = parsed.body  # type: ignore[attr-defined]
    _check_time_and_parties(header, cty, keys, agencies, now)
    _check_message(header, label, body, cosigners=agencies[1:], verifying=True)
    if topic is not None and header.topic != topic and rules.enabled("ENV-44"):
        _refuse(
            ReasonCode.TOPIC_MISMATCH,
            f"signed for topic {header.topic} but read from {topic[:249]}",
            "ENV-44",
        )
    return Verified(header, label, body, agencies, payload)


class _RootStatement(NamedTuple):
    """A batch root statement (SPEC 12) that passed BAT-03's own checks."""

    kid: str
    tree_size: int
    root_hash: bytes
    signed: bytes
    """ASCII(RH_b64 "." RP_b64): what ENV-23 verifies the signature over."""
    signature: bytes


@functools.lru_cache(maxsize=4096)
def _root_statement(root: str) -> _RootStatement:
    """The parts of a root statement ``RH.RP.sig`` after BAT-03's checks on RH and RP.

    A pure function of the exact text, cached like ``_header_of``: a batch's records
    all carry the same root. Only accepted statements are cached (a refusal raises).
    """
    rh_b64, rp_b64, sig_b64 = root.split(".")  # three parts: BAT-02
    rh = _strict_json(_b64d(rh_b64, "batch root header", "BAT-02"), "batch root header", "BAT-03")
    strict = rules.enabled("BAT-03")
    if not isinstance(rh, dict) or not isinstance(rh.get("alg"), str):
        _refuse(ReasonCode.MALFORMED, "batch root header: an object with a string alg", "BAT-03")
    if rh["alg"] != ALG and strict:
        alg = str(rh["alg"])[:40]
        _refuse(ReasonCode.UNSUPPORTED_ALG, f"batch root alg must be {ALG}, got {alg!r}", "BAT-03")
    kid = rh.get("kid")
    if strict and (
        rh.keys() != {"alg", "kid", "typ"}
        or rh.get("typ") != BATCH_TYP
        or not (isinstance(kid, str) and _KID.fullmatch(kid))
    ):
        _refuse(
            ReasonCode.MALFORMED,
            f"batch root header must be exactly alg, kid (64 hex) and typ {BATCH_TYP!r}",
            "BAT-03",
        )
    rp = _strict_json(_b64d(rp_b64, "batch root payload", "BAT-02"), "batch root payload", "BAT-03")
    if not isinstance(rp, dict):
        _refuse(ReasonCode.MALFORMED, "batch root payload must be a JSON object", "BAT-03")
    size, digest = rp.get("tree_size"), rp.get("root_hash")
    if (
        type(size) is not int
        or not 1 <= size <= MAX_TREE_SIZE
        or not isinstance(digest, str)
        or not (_canonical_b64url(digest) and len(digest) == 43)
        or (strict and rp.keys() != {"tree_size", "root_hash"})
    ):
        _refuse(
            ReasonCode.MALFORMED,
            f"batch root payload must be exactly tree_size (1 to {MAX_TREE_SIZE}) and "
            "root_hash (canonical base64url of 32 bytes)",
            "BAT-03",
        )
    return _RootStatement(
        str(kid),
        size,
        _b64d(digest, "root_hash", "BAT-03"),
        f"{rh_b64}.{rp_b64}".encode("ascii"),
        _b64d(sig_b64, "batch root signature", "BAT-02"),
    )


def _batch_position(sig: dict[str, Any], kid: str) -> _RootStatement | None:
    """BAT-03 for one signature element: its root statement, then its place in that
    tree; None for a per-message element (no ``batch``)."""
    batch = sig.get("batch")
    if batch is None:
        return None
    statement = _root_statement(batch["root"])
    if not rules.enabled("BAT-03"):
        return statement
    if statement.kid != kid:
        _refuse(ReasonCode.MALFORMED, "batch root kid is not the protected header's", "BAT-03")
    index = batch["index"]
    if not 0 <= index < statement.tree_size:
        _refuse(
            ReasonCode.MALFORMED,
            f"batch index {index} is not in a tree of {statement.tree_size}",
            "BAT-03",
        )
    if len(batch["path"]) != audit_path_length(index, statement.tree_size):
        _refuse(
            ReasonCode.MALFORMED,
            f"batch path of {len(batch['path'])} hashes; leaf {index} of a tree of "
            f"{statement.tree_size} has {audit_path_length(index, statement.tree_size)}",
            "BAT-03",
        )
    return statement


def audit_path_length(index: int, size: int) -> int:
    """Hashes in the RFC 9162 audit path of leaf ``index`` in a tree of ``size`` leaves.

    The loop of section 2.1.3.2 without the hashing: a proof is exactly this long.
    """
    fn, sn, length = index, size - 1, 0
    while sn:
        if fn & 1 or fn == sn:
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        length += 1
        fn >>= 1
        sn >>= 1
    return length


def _check_inclusion(
    statement: _RootStatement,
    sig: dict[str, Any],
    payload: str,
    v2: bool,
    agency: str,
    memo: merkle.InclusionMemo | None = None,
) -> None:
    """BAT-04: the record's signing input, at its index, leads by its path to the root.

    ``memo`` (a receiver's, in its ``RootCache``): where the path joins that of a
    record already shown to reach this root, the rest is not hashed again; the
    verdict is the same (``merkle.InclusionMemo``). Used only while BAT-02 holds,
    so every path element is canonical base64url of 32 bytes."""
    batch = sig["batch"]
    leaf = merkle.leaf_hash(_signing_input(sig["protected"], payload, v2))
    try:
        if memo is not None and rules.enabled("BAT-02"):
            path_text: list[str] = batch["path"]
            computed, steps = memo.root(
                leaf, batch["index"], statement.tree_size, path_text, _decode_canonical
            )
            if steps and hmac.compare_digest(computed, statement.root_hash):
                memo.remember(steps, path_text, computed)
        else:
            path = [_b64d(h, "batch path element", "BAT-02") for h in batch["path"]]
            computed = merkle.root_from_inclusion_proof(
                leaf, batch["index"], statement.tree_size, path
            )
    except merkle.InvalidProof as exc:  # only with BAT-03 switched off (mutation test)
        _refuse(ReasonCode.BAD_SIGNATURE, f"batch inclusion proof: {exc}", "BAT-04")
    if not hmac.compare_digest(computed, statement.root_hash):
        _refuse(
            ReasonCode.BAD_SIGNATURE,
            f"record is not in the batch signed by {agency} (inclusion proof fails)",
            "BAT-04",
        )


def _check_time_and_parties(
    header: Header, cty: str, keys: list[TrustedKey], agencies: tuple[str, ...], now: datetime
) -> None:
    """ENV-29 to ENV-32."""
    if header.type != cty and rules.enabled("ENV-29"):
        _refuse(ReasonCode.SCHEMA_INVALID, f"header type {header.type} but cty {cty}", "ENV-29")

    # ENV-30, ENV-31: the signed time is plausible, and the keys were valid then
    if header.issued_at > now + CLOCK_SKEW and rules.enabled("ENV-30"):
        _refuse(
            ReasonCode.FUTURE_DATED,
            f"issued_at {header.issued_at.isoformat()} is more than "
            f"{int(CLOCK_SKEW.total_seconds())} s after {now.isoformat()}",
            "ENV-30",
        )
    for key in keys:
        if not key.not_before <= header.issued_at <= key.not_after and rules.enabled("ENV-31"):
            _refuse(
                ReasonCode.EXPIRED_CERT,
                f"certificate of {key.agency} was not valid at issued_at "
                f"{header.issued_at.isoformat()}",
                "ENV-31",
            )

    # ENV-32..44: sender, scope, body rules, label, topic
    if header.sender != agencies[0] and rules.enabled("ENV-32"):
        _refuse(
            ReasonCode.SENDER_MISMATCH,
            f"header sender {header.sender} but first signer is {agencies[0]}",
            "ENV-32",
        )


def _signing_input(protected: str, payload: str, v2: bool) -> bytes:
    """RFC 7515 5.2 / RFC 7797 3: the unencoded payload is signed as its UTF-8 bytes."""
    if v2:
        return protected.encode("ascii") + b"." + payload.encode("utf-8")
    return f"{protected}.{payload}".encode("ascii")


_HEADER_LABEL = create_model("PayloadV2", __base__=Strict, header=(Header, ...), label=(Label, ...))
_ENC_MIN = 45  # 0x01 || cwk_id (16) || nonce (12) || tag (16)
_ENC_MAX = MAX_BYTES + _ENC_MIN


def _v2_layout(payload: str) -> tuple[str, str, Any, bytes]:
    """ENC-03: ``{"header":H,"label":L,"enc":"E"}`` exactly; the exact H and L text, and
    the label as parsed (for ENV-26)."""
    strict = rules.enabled("ENC-03")
    if not strict:
        # ENC-03 switched off (mutation test only): read the payload as a lax partner
        # would, any layout, header and label re-serialised.
        doc = _LENIENT.decode(payload)
        return (
            json.dumps(doc["header"], separators=(",", ":")),
            json.dumps(doc["label"], separators=(",", ":")),
            doc["label"],
            _b64d(doc["enc"], "enc", "ENC-03"),
        )
    if _depth(payload) > _MAX_DEPTH:
        _refuse(ReasonCode.MALFORMED, f"payload nesting deeper than {_MAX_DEPTH}", "ENV-24")

    def part(start: int, prefix: str) -> tuple[str, Any, int]:
        if not payload.startswith(prefix, start):
            _refuse(
                ReasonCode.MALFORMED,
                f"envelope v2 payload: expected {prefix!r} at {start}",
                "ENC-03",
            )
        begin = start + len(prefix)
        try:
            # One strict parse per part from where the previous part ended: the AAD
            # then binds exactly the transmitted bytes, nothing re-serialised.
            value, end = _DECODER.raw_decode(payload, begin)
        except (ValueError, RecursionError) as exc:
            _refuse(ReasonCode.MALFORMED, f"envelope v2 payload: {exc}"[:300], "ENC-03")
        return payload[begin:end], value, end

    header, _, end = part(0, '{"header":')
    label, label_doc, end = part(end, ',"label":')
    tail = payload[end:]
    if not (tail.startswith(',"enc":"') and tail.endswith('"}')) and strict:
        _refuse(ReasonCode.MALFORMED, 'envelope v2 payload must end with ,"enc":"…"}', "ENC-03")
    enc_text = tail[8:-2]
    if strict and (
        not _canonical_b64url(enc_text) or not _ENC_MIN <= len(enc_text) * 3 // 4 <= _ENC_MAX
    ):
        _refuse(
            ReasonCode.MALFORMED, "enc must be canonical base64url of 45 bytes to 1 MiB", "ENC-03"
        )
    # Strict, the text was just found canonical: decoded without a second look.
    enc = _decode_canonical(enc_text) if strict else _b64d(enc_text, "enc", "ENC-03")
    if enc[:1] != b"\x01" and strict:
        _refuse(ReasonCode.MALFORMED, "unknown encrypted body version", "ENC-03")
    return header, label, label_doc, enc


def _verify_v2(
    payload_text: str,
    cty: str,
    keys: list[TrustedKey],
    agencies: tuple[str, ...],
    topic: str | None,
    now: datetime,
) -> Sealed:
    """ENC-03, then ENV-24..ENV-33 and ENV-41..ENV-44 with no body (SPEC 11)."""
    # ENC-03 parses H and L strictly (ENV-24's parse, done part by part)
    header_text, label_text, label_doc, enc = _v2_layout(payload_text)
    header_bytes, label_bytes = header_text.encode("utf-8"), label_text.encode("utf-8")
    if cty not in MESSAGE_TYPES and rules.enabled("ENV-25"):
        _refuse(ReasonCode.SCHEMA_INVALID, f"unknown message type {cty[:100]!r}", "ENV-25")
    if rules.enabled("ENV-26"):
        unknown = unknown_label_values(label_doc)
        if unknown is not None:
            _refuse(ReasonCode.UNKNOWN_LABEL_VALUE, unknown, "ENV-26")
    try:
        parsed = _HEADER_LABEL.model_validate_json(
            b'{"header":' + header_bytes + b',"label":' + label_bytes + b"}",
            strict=rules.enabled("ENV-27"),
        )
    except ValidationError as exc:
        _refuse(ReasonCode.SCHEMA_INVALID, _summary(exc), _rule_of(exc))
    header: Header = parsed.header  # type: ignore[attr-defined]
    label: Label = parsed.label  # type: ignore[attr-defined]
    _check_time_and_parties(header, cty, keys, agencies, now)
    _check_message(header, label, None, cosigners=agencies[1:], verifying=True)
    if topic is not None and header.topic != topic and rules.enabled("ENV-44"):
        _refuse(
            ReasonCode.TOPIC_MISMATCH,
            f"signed for topic {header.topic} but read from {topic[:249]}",
            "ENV-44",
        )
    return Sealed(
        header, label, cty, agencies, payload_text.encode("utf-8"), header_bytes, label_bytes, enc
    )


def _trusted_key(
    trust: TrustStore, kid: str, sig: dict[str, str], payload_b64: str, now: datetime
) -> TrustedKey:
    """ENV-17 to ENV-21 for one signature: the trust store resolves ``kid``, locally."""
    try:
        return trust.validate(kid, now)
    except Refused as exc:
        if exc.rule != "ENV-17" or rules.enabled("ENV-17"):
            raise
        unknown = exc
    # ENV-17 switched off (mutation test only): behave like a verifier that ignores the
    # kid and tries every key it knows until one verifies.
    if "batch" in sig:
        raise unknown
    signing_input = f"{sig['protected']}.{payload_b64}".encode("ascii")
    signature = _b64d(sig["signature"], "signature")
    for cert in trust.certificates():
        try:
            key = trust.validate(kid_of(cert), now)
            key.public_key.verify(signature, signing_input)
        except (Refused, InvalidSignature):
            continue
        return key
    raise unknown


@functools.lru_cache(maxsize=256)
def _country_of(agency: str) -> Country:
    # country_of runs a regex per call; the answer for an agency id never changes.
    # A malformed id raises, and a raise is never cached.
    return country_of(agency)


def _check_message(
    header: Header,
    label: Label,
    body: MessageBody | None,
    *,
    cosigners: tuple[str, ...],
    verifying: bool = False,
) -> None:
    """ENV-33 to ENV-43, the rules seal and verify share, in SPEC order.

    ``body`` None: an encrypted body (v2), whose rules ENV-34..ENV-40 run once it is
    decrypted (``check_body``). ``verifying``: called by the verifier, which ran
    ENV-26 on the label as received (before schema validation), so the label's
    values are not judged a second time."""
    for agency in (header.sender, *cosigners):
        if _country_of(agency) not in header.scope.members and rules.enabled("ENV-33"):
            _refuse(
                ReasonCode.SCOPE_VIOLATION,
                f"{agency} is not a member of scope {header.scope}",
                "ENV-33",
            )
    if body is not None:
        body.check_context(sender=header.sender, scope=header.scope, area=header.area)
    check_label(label, header.scope, sender=header.sender, values_checked=verifying)
    expected = topic_for(header)
    if header.topic != expected and rules.enabled("ENV-43"):
        _refuse(
            ReasonCode.TOPIC_MISMATCH,
            f"header topic {header.topic} but scope/area/type give {expected}",
            "ENV-43",
        )


def _rule_of(exc: ValidationError) -> str:
    # ENV-27 (schema) comes before ENV-28 (cross-field invariants): an invariant is
    # reported only when it is the sole kind of error.
    errors = exc.errors(include_url=False, include_input=False)
    if errors and all(e["type"] == "invariant" for e in errors):
        return "ENV-28"
    return "ENV-27"


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
    payload: str = outer["payload"]
    if payload[:1] == "{":  # envelope v2: the unencoded payload (SPEC 11.1)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()
    return hashlib.sha256(_b64d(payload, "payload")).hexdigest()


rules.on_change(_header_of.cache_clear)
rules.on_change(_root_statement.cache_clear)
