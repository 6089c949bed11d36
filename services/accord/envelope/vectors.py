"""Golden test vectors for partners: a fixed PKI and envelopes with expected verdicts.

Deterministic: keys derive from fixed seeds, serials from names, times are fixed,
and Ed25519 signatures are deterministic, so ``accord schemas vectors`` rebuilds the
same bytes and ``accord schemas check`` can detect drift. The keys are TEST ONLY
(anyone can derive them from this file); they are not written out.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from accord.envelope.header import Header
from accord.envelope.jws import MAX_BYTES, payload_bytes, sign_payload
from accord.envelope.samples import ISSUED_AT, SAMPLES, Sample, sample_header, sample_label
from accord.errors import ReasonCode
from accord.models import Receipt, Retract, StrategicAssessment
from accord.parties import Country, country_of
from accord.trust import Signer, TrustStore, x5t_s256
from accord.trust.certs import AGENCY_URI_PREFIX, kid_of
from accord.trust.pki import build_crl, create_root, issue_certificate

__all__ = ["VERIFY_AT", "build_vectors"]

PKI_FROM = datetime(2026, 1, 1, tzinfo=UTC)
ROOTS_FROM = datetime(2024, 1, 1, tzinfo=UTC)
PKI_UNTIL = datetime(2046, 1, 1, tzinfo=UTC)
VERIFY_AT = ISSUED_AT + timedelta(minutes=5)
"""The ``now`` every vector is verified at, unless the manifest says otherwise."""

AGENCIES = (
    "JPN.MOFA",
    "JPN.MOD",
    "AUS.DFAT",
    "AUS.DEFENCE",
    "USA.STATE",
    # enough agencies in the trilateral scope for 8 (and 9) signatures
    "JPN.CAO",
    "AUS.AFP",
    "USA.DOD",
    "USA.DHS",
)


def _key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"accord test vector key, not for production: " + name.encode()).digest()
    )


def _serial(name: str) -> int:
    return int.from_bytes(hashlib.sha256(b"serial:" + name.encode()).digest()[:19], "big") | 1


@dataclass
class _Pki:
    roots: dict[Country, tuple[Ed25519PrivateKey, x509.Certificate]]
    signers: dict[str, Signer]
    bundle: bytes
    pinned: list[str]
    """SHA-256 fingerprints of every pinned root (the three, and a short-lived one)."""


def _custom_cert(
    agency: str,
    root: tuple[Ed25519PrivateKey, x509.Certificate],
    name: str,
    *,
    country_code: str,
    digital_signature: bool,
    issuer: x509.Name | None = None,
) -> Signer:
    """A certificate off the profile: another subject C, no digitalSignature usage, or
    an issuer Name other than the root's subject DER."""
    key = _key(name)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, country_code),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "accord"),
                    x509.NameAttribute(NameOID.COMMON_NAME, agency),
                ]
            )
        )
        .issuer_name(issuer or root[1].subject)
        .public_key(public)
        .serial_number(_serial(name))
        .not_valid_before(PKI_FROM)
        .not_valid_after(PKI_UNTIL)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=digital_signature,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=not digital_signature,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(AGENCY_URI_PREFIX + agency)]
            ),
            critical=False,
        )
        .sign(root[0], algorithm=None)
    )
    return Signer.from_key(key, cert)


def _issue(
    agency: str,
    root: tuple[Ed25519PrivateKey, x509.Certificate],
    *,
    name: str | None = None,
    start: datetime = PKI_FROM,
    until: datetime = PKI_UNTIL,
) -> Signer:
    name = name or agency
    key, cert = issue_certificate(
        agency,
        root_key=root[0],
        root_cert=root[1],
        key=_key(name),
        not_before=start,
        valid_days=(until - start).days,
        serial=_serial(name),
    )
    return Signer.from_key(key, cert)


def _build_pki() -> _Pki:
    days = (PKI_UNTIL - ROOTS_FROM).days
    roots = {
        c: create_root(
            c,
            key=_key(f"root:{c}"),
            not_before=ROOTS_FROM,
            valid_days=days,
            serial=_serial(f"root:{c}"),
        )
        for c in Country
    }
    signers = {a: _issue(a, roots[country_of(a)]) for a in AGENCIES}
    # Certificates for the rejection vectors:
    signers["revoked"] = _issue("JPN.NPA", roots[Country.JPN], name="revoked")
    signers["expired"] = _issue(
        "JPN.PSIA",
        roots[Country.JPN],
        name="expired",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        until=datetime(2025, 1, 1, tzinfo=UTC),
    )
    # Same subject as the real JPN root, different key: only a signature check on
    # the chain tells them apart.
    rogue_root = create_root(
        Country.JPN,
        key=_key("root:rogue"),
        not_before=ROOTS_FROM,
        valid_days=days,
        serial=_serial("root:rogue"),
    )
    signers["untrusted"] = _issue("JPN.ROGUE", rogue_root, name="untrusted")
    signers["unknown"] = _issue("JPN.GHOST", roots[Country.JPN], name="unknown")
    # For the rule-by-rule suite (SPEC.md 10):
    signers["mofa-2"] = _issue("JPN.MOFA", roots[Country.JPN], name="mofa-2")  # a rotation
    signers["cross"] = _issue("JPN.XAUS", roots[Country.AUS], name="cross")  # wrong country
    signers["no-usage"] = _custom_cert(
        "JPN.NOKU", roots[Country.JPN], "no-usage", country_code="JP", digital_signature=False
    )
    # Subject C says AU, the SAN says a JPN agency: the country is read from the SAN.
    signers["c-mismatch"] = _custom_cert(
        "JPN.CMIS", roots[Country.JPN], "c-mismatch", country_code="AU", digital_signature=True
    )
    # Issued and signed by the JPN root, but its issuer Name spells the root's subject
    # with PrintableString where the root has UTF8String: equal under RFC 5280 7.1
    # matching, not byte-identical DER (SPEC 4.1 requires byte-identical).
    jpn_subject = roots[Country.JPN][1].subject
    signers["issuer-spelling"] = _custom_cert(
        "JPN.SPELL",
        roots[Country.JPN],
        "issuer-spelling",
        country_code="JP",
        digital_signature=True,
        issuer=x509.Name(
            [
                x509.NameAttribute(a.oid, str(a.value), _type=_ASN1Type.PrintableString)
                for a in jpn_subject
            ]
        ),
    )
    signers["old-revoked"] = _issue(
        "JPN.OLD",
        roots[Country.JPN],
        name="old-revoked",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        until=datetime(2025, 1, 1, tzinfo=UTC),
    )
    signers["rogue-old"] = _issue(
        "JPN.ROGUEOLD",
        rogue_root,
        name="rogue-old",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        until=datetime(2025, 1, 1, tzinfo=UTC),
    )
    # A CA in the bundle that no verifier pins, with the JPN root's very name.
    unpinned = create_root(
        Country.JPN,
        key=_key("root:unpinned"),
        not_before=ROOTS_FROM,
        valid_days=days,
        serial=_serial("root:unpinned"),
    )
    signers["unpinned"] = _issue("JPN.UNPIN", unpinned, name="unpinned")

    # A second, short-lived JPN root (2025-06-01 to 2026-01-10) whose certificate
    # outlives it: the root's own validity bounds the key's (SPEC 4.2).
    short_root = create_root(
        Country.JPN,
        key=_key("root:short"),
        not_before=datetime(2025, 6, 1, tzinfo=UTC),
        valid_days=223,
        serial=_serial("root:short"),
    )
    signers["short-root"] = _issue(
        "JPN.SHORT", short_root, name="short-root", start=datetime(2025, 1, 1, tzinfo=UTC)
    )

    store = TrustStore()
    for _, cert in [*roots.values(), short_root]:
        store.add_root(cert)
    for name, signer in signers.items():
        if name != "unknown":  # never given to verifiers: its kid is unknown
            store.add_certificate(signer.certificate)
    for country, (key, cert) in roots.items():
        revoked = [
            (signers[n].certificate.serial_number, PKI_FROM + timedelta(days=1))
            for n in ("revoked", "old-revoked")
        ]
        crl = build_crl(
            key,
            cert,
            revoked if country is Country.JPN else [],
            number=1,
            this_update=PKI_FROM + timedelta(days=1),
            valid_days=(PKI_UNTIL - PKI_FROM).days - 1,
        )
        store.add_crl(crl)
    bundle = store.to_bundle() + unpinned[1].public_bytes(Encoding.PEM)
    pinned = sorted(kid_of(cert) for _, cert in [*roots.values(), short_root])
    return _Pki(roots, signers, bundle, pinned)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _payload(sample: Sample, **changes: Callable[[dict[str, Any]], None]) -> bytes:
    """A sample's payload, optionally edited as JSON (to build invalid messages)."""
    header = sample_header(sample)
    raw = payload_bytes(header, sample_label(sample.sender, sample.scope), sample.body)
    if not changes:
        return raw
    doc = json.loads(raw)
    for edit in changes.values():
        edit(doc)
    return _json(doc)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            doc = doc[part]
        doc[last] = value

    return edit


@dataclass(frozen=True)
class _Vector:
    file: str
    envelope: bytes
    expected: str
    description: str
    topic: str | None
    now: datetime = VERIFY_AT
    max_bytes: int | None = None
    rule: str | None = None
    """For a reject: the SPEC.md rule it breaks first."""


def _vectors(pki: _Pki) -> list[_Vector]:
    s = pki.signers
    out: list[_Vector] = []
    for type_name, sample in SAMPLES.items():
        out.append(
            _Vector(
                f"valid/{type_name}.jws.json",
                sign_payload(_payload(sample), type_name, [s[sample.sender]]),
                "valid",
                f"a valid {type_name} from {sample.sender}",
                sample_header(sample).topic,
            )
        )
    sa = SAMPLES[StrategicAssessment.TYPE]
    sa_topic = sample_header(sa).topic
    sa_type = StrategicAssessment.TYPE
    good = sign_payload(_payload(sa), sa_type, [s["JPN.MOFA"]])
    out.append(
        _Vector(
            "valid/cosigned.jws.json",
            sign_payload(_payload(sa), sa_type, [s["JPN.MOFA"], s["AUS.DFAT"]]),
            "valid",
            "a strategic assessment signed by JPN.MOFA and co-signed by AUS.DFAT",
            sa_topic,
        )
    )

    def reject(reason: ReasonCode, envelope: bytes, description: str, **kw: Any) -> None:
        kw.setdefault("topic", sa_topic)
        out.append(
            _Vector(
                f"reject/{reason.value}.jws.json",
                envelope,
                reason.value,
                description,
                rule=_FIRST_RULE[reason],
                **kw,
            )
        )

    reject(ReasonCode.MALFORMED, good[:200], "a valid envelope truncated to 200 bytes")
    reject(
        ReasonCode.OVERSIZED, good, "a valid envelope, verified with max_bytes 1024", max_bytes=1024
    )
    doc = json.loads(good)
    protected = {"alg": "HS256", "kid": s["JPN.MOFA"].kid, "typ": "accord+jws", "cty": sa_type}
    p64 = _b64(_json(protected))
    sig = s["JPN.MOFA"].sign(f"{p64}.{doc['payload']}".encode())
    reject(
        ReasonCode.UNSUPPORTED_ALG,
        _json(
            {"payload": doc["payload"], "signatures": [{"protected": p64, "signature": _b64(sig)}]}
        ),
        "protected header alg HS256 (alg is pinned to EdDSA)",
    )
    unknown = _payload(
        sa, s=_set("header.sender", "JPN.GHOST"), o=_set("label.originator", "JPN.GHOST")
    )
    reject(
        ReasonCode.UNKNOWN_KEY,
        sign_payload(unknown, sa_type, [s["unknown"]]),
        "signed by a certificate that is not in the trust bundle",
    )
    sig64 = doc["signatures"][0]["signature"]
    tampered = ("A" if sig64[0] != "A" else "B") + sig64[1:]
    reject(
        ReasonCode.BAD_SIGNATURE,
        _json(
            {
                "payload": doc["payload"],
                "signatures": [
                    {"protected": doc["signatures"][0]["protected"], "signature": tampered}
                ],
            }
        ),
        "the first character of the signature changed",
    )
    rogue = _payload(
        sa, s=_set("header.sender", "JPN.ROGUE"), o=_set("label.originator", "JPN.ROGUE")
    )
    reject(
        ReasonCode.UNTRUSTED_ISSUER,
        sign_payload(rogue, sa_type, [s["untrusted"]]),
        "certificate issued by a key claiming the JPN root's name but not the JPN root",
    )
    expired_at = datetime(2024, 6, 1, tzinfo=UTC)
    expired = payload_bytes(
        _with(sample_header(sa), sender="JPN.PSIA", issued_at=expired_at),
        sample_label("JPN.PSIA", sa.scope, at=expired_at),
        sa.body,
    )
    reject(
        ReasonCode.EXPIRED_CERT,
        sign_payload(expired, sa_type, [s["expired"]]),
        "signed in 2024 with a certificate valid 2024-01-01 to 2025-01-01",
    )
    revoked = _payload(
        sa, s=_set("header.sender", "JPN.NPA"), o=_set("label.originator", "JPN.NPA")
    )
    reject(
        ReasonCode.REVOKED,
        sign_payload(revoked, sa_type, [s["revoked"]]),
        "signed with a certificate on the JPN root's CRL",
    )
    mismatch = _payload(
        sa, s=_set("header.sender", "JPN.MOD"), o=_set("label.originator", "JPN.MOD")
    )
    reject(
        ReasonCode.SENDER_MISMATCH,
        sign_payload(mismatch, sa_type, [s["JPN.MOFA"]]),
        "header sender JPN.MOD, signed by JPN.MOFA",
    )
    usa = _payload(
        sa, s=_set("header.sender", "USA.STATE"), o=_set("label.originator", "USA.STATE")
    )
    reject(
        ReasonCode.SCOPE_VIOLATION,
        sign_payload(usa, sa_type, [s["USA.STATE"]]),
        "USA.STATE sending in the bilateral (JPN, AUS) scope",
    )
    narrow = _payload(sa, r=_set("label.releasable_to", ["JPN"]))
    reject(
        ReasonCode.RELEASABILITY_VIOLATION,
        sign_payload(narrow, sa_type, [s["JPN.MOFA"]]),
        "bilateral message whose label releases it to JPN only",
    )
    reject(
        ReasonCode.TOPIC_MISMATCH,
        good,
        "a valid bilateral strategic assessment read from another topic (replay)",
        topic="accord.bilateral.counter-terrorism",
    )
    extra = _payload(sa, x=_set("body.annex", "not in the schema"))
    reject(
        ReasonCode.SCHEMA_INVALID,
        sign_payload(extra, sa_type, [s["JPN.MOFA"]]),
        "body has a member the schema does not define",
    )
    noforn = _payload(sa, c=_set("label.caveats", ["NOFORN"]))
    reject(
        ReasonCode.UNKNOWN_LABEL_VALUE,
        sign_payload(noforn, sa_type, [s["JPN.MOFA"]]),
        "label caveat NOFORN is not in the policy",
    )
    retract = SAMPLES[Retract.TYPE]
    foreign = _payload(retract, t=_set("body.target_sender", "AUS.DFAT"))
    reject(
        ReasonCode.NOT_ORIGINATOR,
        sign_payload(foreign, Retract.TYPE, [s["JPN.MOFA"]]),
        "JPN.MOFA retracting a message of AUS.DFAT",
        topic=sample_header(retract).topic,
    )
    out += _suite(pki)
    out += _need_to_know_vectors(pki)
    out += _readers_vectors(pki)
    # Imported here: vectors_batch builds on this module's helpers.
    from accord.envelope.vectors_batch import batch_vectors

    out += batch_vectors(pki)
    return out


# The rule each of the original (one per reason) vectors breaks.
_FIRST_RULE: dict[ReasonCode, str] = {
    ReasonCode.MALFORMED: "ENV-02",
    ReasonCode.OVERSIZED: "ENV-01",
    ReasonCode.UNSUPPORTED_ALG: "ENV-09",
    ReasonCode.UNKNOWN_KEY: "ENV-17",
    ReasonCode.BAD_SIGNATURE: "ENV-23",
    ReasonCode.UNTRUSTED_ISSUER: "ENV-18",
    ReasonCode.EXPIRED_CERT: "ENV-21",
    ReasonCode.REVOKED: "ENV-20",
    ReasonCode.SENDER_MISMATCH: "ENV-32",
    ReasonCode.SCOPE_VIOLATION: "ENV-33",
    ReasonCode.RELEASABILITY_VIOLATION: "ENV-41",
    ReasonCode.TOPIC_MISMATCH: "ENV-44",
    ReasonCode.SCHEMA_INVALID: "ENV-27",
    ReasonCode.UNKNOWN_LABEL_VALUE: "ENV-26",
    ReasonCode.NOT_ORIGINATOR: "ENV-37",
}


def _with(header: Header, **changes: Any) -> Header:
    return Header.model_validate({**dict(header), **changes})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def build_vectors() -> dict[str, bytes]:
    """Every vector file, by path relative to ``schemas/vectors/``."""
    pki = _build_pki()
    vectors = _vectors(pki)
    files: dict[str, bytes] = {"bundle.pem": pki.bundle}
    manifest: dict[str, Any] = {
        "description": "accord golden test vectors. TEST KEYS ONLY. Verify each file's exact "
        "bytes with the trust bundle, the topic and the time given; expect the verdict.",
        "bundle": "bundle.pem",
        "roots": pki.pinned,
        "kids": dict(
            sorted(
                (signer.agency, signer.kid)
                for name, signer in pki.signers.items()
                if name != "unknown"
            )
        ),
        "vectors": [],
    }
    for vector in vectors:
        if vector.file in files:
            raise AssertionError(f"two vectors named {vector.file}")
        files[vector.file] = vector.envelope
        entry: dict[str, Any] = {
            "id": vector.file.removesuffix(".jws.json"),
            "file": vector.file,
            "expected": vector.expected,
            "rule": vector.rule,
            "description": vector.description,
            "topic": vector.topic,
            "now": vector.now.isoformat().replace("+00:00", "Z"),
            "max_bytes": vector.max_bytes or MAX_BYTES,
        }
        manifest["vectors"].append(entry)
    files["manifest.json"] = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    for country, (_, cert) in pki.roots.items():
        files[f"roots/{country.value}.cert.pem"] = cert.public_bytes(Encoding.PEM)
    return files


# -- the rule-by-rule suite (SPEC.md section 10) --------------------------------------

_DROP = object()


def _protected_json(signer: Signer, cty: Any, edits: dict[str, Any] | None = None) -> bytes:
    header: dict[str, Any] = {
        "alg": "EdDSA",
        "kid": signer.kid,
        "typ": "accord+jws",
        "cty": cty,
        "x5t#S256": x5t_s256(signer.kid),
    }
    for key, value in (edits or {}).items():
        if value is _DROP:
            header.pop(key, None)
        else:
            header[key] = value
    return _json(header)


def _signature_of(signer: Signer, protected: bytes | str, payload_b64: str) -> dict[str, str]:
    p64 = protected if isinstance(protected, str) else _b64(protected)
    return {"protected": p64, "signature": _b64(signer.sign(f"{p64}.{payload_b64}".encode()))}


def _env(
    payload: bytes,
    cty: Any,
    signers: list[Signer],
    edits: list[dict[str, Any] | None] | None = None,
) -> bytes:
    """An envelope; ``edits[i]`` changes signer i's protected header (_DROP removes)."""
    p64 = _b64(payload)
    edits = edits or [None] * len(signers)
    return _json(
        {
            "payload": p64,
            "signatures": [
                _signature_of(s, _protected_json(s, cty, e), p64)
                for s, e in zip(signers, edits, strict=True)
            ],
        }
    )


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            doc = doc[part]
        del doc[last]

    return edit


def _replace(raw: bytes, old: str, new: str) -> bytes:
    assert old.encode() in raw, old
    return raw.replace(old.encode(), new.encode(), 1)


def _flip_last(text: str) -> str:
    """The same bytes, spelt with non-zero unused low bits in the last character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:-1] + alphabet[alphabet.index(text[-1]) + 1]


def _suite(pki: _Pki) -> list[_Vector]:
    s = pki.signers
    out: list[_Vector] = []
    sa = SAMPLES[StrategicAssessment.TYPE]
    SA = StrategicAssessment.TYPE
    sa_topic = sample_header(sa).topic
    mofa = s["JPN.MOFA"]
    sa_payload = _payload(sa)
    good = _env(sa_payload, SA, [mofa])

    def add(
        vid: str, envelope: bytes, expected: str, rule: str | None, description: str, **kw: Any
    ) -> None:
        kw.setdefault("topic", sa_topic)
        out.append(_Vector(f"{vid}.jws.json", envelope, expected, description, rule=rule, **kw))

    def valid(vid: str, envelope: bytes, description: str, **kw: Any) -> None:
        add(f"valid/{vid}", envelope, "valid", None, description, **kw)

    def reject(
        rule: str, slug: str, envelope: bytes, reason: ReasonCode, description: str, **kw: Any
    ) -> None:
        add(f"reject/{rule}-{slug}", envelope, reason.value, rule, description, **kw)

    M, R = ReasonCode.MALFORMED, ReasonCode
    doc = json.loads(good)
    p64, sig0 = doc["payload"], doc["signatures"][0]

    # ENV-01 size
    valid(
        "size-at-limit",
        good,
        "max_bytes equal to the record's length (the bound is inclusive)",
        max_bytes=len(good),
    )
    reject(
        "ENV-01",
        "one-byte-over",
        good,
        R.OVERSIZED,
        "max_bytes one less than the length",
        max_bytes=len(good) - 1,
    )
    at_limit = _of_length(sa_payload, mofa, MAX_BYTES)
    valid(
        "size-1mib",
        at_limit,
        f"a record of exactly {MAX_BYTES} bytes (the default "
        "max_bytes; the payload and the record padded with JSON whitespace)",
    )
    reject(
        "ENV-01",
        "1mib-plus-one",
        at_limit[:1] + b" " + at_limit[1:],
        R.OVERSIZED,
        f"the same record with one more space: {MAX_BYTES + 1} bytes, default max_bytes",
    )

    # ENV-02 strict JSON (record)
    decoy = _b64(b'{"decoy":true}')
    reject(
        "ENV-02",
        "duplicate-payload",
        good.replace(b'{"payload":', b'{"payload":"' + decoy.encode() + b'","payload":', 1),
        M,
        "pitfall: two 'payload' members (a last-wins parser verifies the second)",
    )
    reject("ENV-02", "bom", b"\xef\xbb\xbf" + good, M, "a UTF-8 byte-order mark before the record")
    reject(
        "ENV-02",
        "compact",
        f"{sig0['protected']}.{p64}.{sig0['signature']}".encode(),
        M,
        "pitfall: the compact serialization",
    )
    reject("ENV-02", "deep", b"[" * 4096 + b"]" * 4096, M, "4096 nested arrays (bounded work)")
    reject(
        "ENV-02",
        "thirteen-signatures",
        _json({"payload": p64, "signatures": [sig0] * 13}),
        M,
        "13 signatures: 69 of the bytes { [ : , (the bound is 64), refused before the parse",
    )
    reject(
        "ENV-02",
        "lone-surrogate-name",
        good[:-1] + b',"\\udc00":"x"}',
        M,
        "a member name with a lone low surrogate escape",
    )
    reject(
        "ENV-02",
        "invalid-utf8",
        good[:-1] + b',"\xff":"x"}',
        M,
        "a byte that is not UTF-8 in a member name",
    )

    # ENV-03 shape
    reject(
        "ENV-03",
        "extra-member",
        good[:-1] + b',"x":"y"}',
        M,
        "pitfall: an unknown top-level member",
    )
    flat = _json({"payload": p64, "protected": sig0["protected"], "signature": sig0["signature"]})
    reject("ENV-03", "flattened", flat, M, "pitfall: the flattened JSON serialization")
    reject("ENV-03", "array", b"[" + good + b"]", M, "the record inside an array")
    reject(
        "ENV-03",
        "payload-not-string",
        _json({"payload": {"x": 1}, "signatures": doc["signatures"]}),
        M,
        "payload is an object",
    )

    # ENV-04 signature count
    tri = SAMPLES["accord.information-report.v1"]
    tri_payload = _payload(tri)
    eight = [
        s[a]
        for a in (
            "AUS.DFAT",
            "JPN.MOFA",
            "JPN.MOD",
            "JPN.CAO",
            "AUS.DEFENCE",
            "AUS.AFP",
            "USA.STATE",
            "USA.DOD",
        )
    ]
    tri_topic = sample_header(tri).topic
    valid(
        "eight-signatures",
        _env(tri_payload, tri.body.TYPE, eight),
        "a trilateral report signed by AUS.DFAT and co-signed by 7 agencies (the maximum)",
        topic=tri_topic,
    )
    reject(
        "ENV-04",
        "nine-signatures",
        _env(tri_payload, tri.body.TYPE, [*eight, s["USA.DHS"]]),
        M,
        "9 valid signatures of 9 agencies",
        topic=tri_topic,
    )
    reject(
        "ENV-04",
        "no-signature",
        _json({"payload": p64, "signatures": []}),
        M,
        "an empty signatures array",
    )
    reject(
        "ENV-04",
        "twelve-signatures",
        _json({"payload": p64, "signatures": [sig0] * 12}),
        M,
        "12 signatures: 64 of the bytes { [ : , (within ENV-02's bound), so ENV-04",
    )

    # ENV-05 signature members
    reject(
        "ENV-05",
        "unprotected-header",
        _json({"payload": p64, "signatures": [{**sig0, "header": {"kid": mofa.kid}}]}),
        M,
        "pitfall: an unprotected 'header' member",
    )
    reject(
        "ENV-05",
        "signature-not-string",
        _json({"payload": p64, "signatures": [{**sig0, "signature": 5}]}),
        M,
        "signature is a number",
    )

    # ENV-06 canonical base64url
    reject(
        "ENV-06",
        "signature-stray-bits",
        _json(
            {"payload": p64, "signatures": [{**sig0, "signature": _flip_last(sig0["signature"])}]}
        ),
        M,
        "pitfall: the signature's last character has non-zero unused bits (same bytes)",
    )
    reject(
        "ENV-06",
        "signature-padding",
        _json({"payload": p64, "signatures": [{**sig0, "signature": sig0["signature"] + "=="}]}),
        M,
        "pitfall: '=' padding on the signature",
    )
    padded = p64 + ("=" * (-len(p64) % 4) if len(p64) % 4 else "==")
    reject(
        "ENV-06",
        "payload-padding",
        _json(
            {
                "payload": padded,
                "signatures": [_signature_of(mofa, _protected_json(mofa, SA), padded)],
            }
        ),
        M,
        "'=' padding on the payload (signed as sent)",
    )
    plus = sig0["signature"].replace("-", "+").replace("_", "/")
    if plus != sig0["signature"]:
        reject(
            "ENV-06",
            "standard-alphabet",
            _json({"payload": p64, "signatures": [{**sig0, "signature": plus}]}),
            M,
            "the signature in the standard base64 alphabet",
        )

    def escape_first(record: bytes, text: str) -> bytes:
        """``record`` with the first character of ``text`` written as a \\u escape."""
        return _replace(record, f'"{text}"', f'"\\u{ord(text[0]):04x}{text[1:]}"')

    reject(
        "ENV-06",
        "escaped-payload",
        escape_first(good, p64),
        M,
        "pitfall: the payload's first character written as a \\u escape (a JSON parser "
        "unescapes it and the signature verifies over the unescaped text)",
    )
    reject(
        "ENV-06",
        "escaped-signature",
        escape_first(good, sig0["signature"]),
        M,
        "the signature's first character written as a \\u escape",
    )
    reject(
        "ENV-06",
        "escaped-member-name",
        _replace(good, '"payload"', '"\\u0070ayload"'),
        M,
        "the member name payload written with a \\u escape",
    )

    # ENV-07 protected header is a bounded strict JSON object
    dup = _protected_json(mofa, SA).replace(b'"alg":"EdDSA"', b'"alg":"EdDSA","alg":"EdDSA"')
    reject(
        "ENV-07",
        "duplicate-member",
        _json({"payload": p64, "signatures": [_signature_of(mofa, dup, p64)]}),
        M,
        "pitfall: a protected header with a duplicated member",
    )
    long = _protected_json(mofa, SA)[:-1] + b" " * 800 + b"}"
    reject(
        "ENV-07",
        "too-long",
        _json({"payload": p64, "signatures": [_signature_of(mofa, long, p64)]}),
        M,
        "a protected header over 1024 base64url characters (padded with spaces)",
    )
    reject(
        "ENV-07",
        "array",
        _json({"payload": p64, "signatures": [_signature_of(mofa, b"[]", p64)]}),
        M,
        "a protected header that is an array",
    )
    reject(
        "ENV-07",
        "bom",
        _json(
            {
                "payload": p64,
                "signatures": [
                    _signature_of(mofa, b"\xef\xbb\xbf" + _protected_json(mofa, SA), p64)
                ],
            }
        ),
        M,
        "a protected header with a byte-order mark",
    )

    # ENV-08 .. ENV-14 protected header members
    def header_case(
        rule: str,
        slug: str,
        edits: dict[str, Any],
        reason: ReasonCode,
        description: str,
        cty: Any = SA,
    ) -> None:
        reject(rule, slug, _env(sa_payload, cty, [mofa], [edits]), reason, description)

    header_case("ENV-08", "no-alg", {"alg": _DROP}, M, "no alg member")
    header_case("ENV-08", "alg-number", {"alg": 5}, M, "alg is a number")
    header_case(
        "ENV-09",
        "alg-ed25519",
        {"alg": "Ed25519"},
        R.UNSUPPORTED_ALG,
        "pitfall: alg 'Ed25519' (Nimbus accepts it)",
    )
    header_case("ENV-09", "alg-none", {"alg": "none"}, R.UNSUPPORTED_ALG, "alg 'none'")
    header_case("ENV-09", "alg-lower", {"alg": "eddsa"}, R.UNSUPPORTED_ALG, "alg 'eddsa'")
    header_case(
        "ENV-10",
        "crit",
        {"crit": ["b64"], "b64": True},
        M,
        "pitfall: a crit member (Nimbus says 'signature invalid')",
    )
    b64_false = _b64(_protected_json(mofa, SA, {"crit": ["b64"], "b64": False}))
    reject(
        "ENV-10",
        "b64-false",
        _json(
            {
                "payload": p64,
                "signatures": [
                    {
                        "protected": b64_false,
                        "signature": _b64(mofa.sign(f"{b64_false}.".encode() + sa_payload)),
                    }
                ],
            }
        ),
        M,
        "pitfall: RFC 7797 b64 false, signed over the unencoded payload as RFC 7797 says "
        "(go-jose verifies it; ENV-23's signing input is not what was signed)",
    )
    header_case("ENV-10", "jku", {"jku": "https://accord.example/keys"}, M, "a jku key pointer")
    header_case("ENV-10", "x5c", {"x5c": ["MIIB"]}, M, "an x5c certificate chain")
    header_case(
        "ENV-10", "jwk", {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}}, M, "an embedded jwk"
    )
    header_case("ENV-10", "x5u", {"x5u": "https://accord.example/cert"}, M, "an x5u pointer")
    header_case("ENV-10", "extra-member", {"zip": "DEF"}, M, "an unknown member zip")
    header_case("ENV-10", "no-typ", {"typ": _DROP}, M, "no typ member")
    header_case("ENV-11", "typ-jwt", {"typ": "JWT"}, M, "typ 'JWT'")
    header_case(
        "ENV-12",
        "kid-upper",
        {"kid": mofa.kid.upper(), "x5t#S256": _DROP},
        M,
        "kid in upper-case hex",
    )
    header_case(
        "ENV-12", "kid-short", {"kid": mofa.kid[:63], "x5t#S256": _DROP}, M, "kid of 63 hex digits"
    )
    header_case(
        "ENV-13",
        "x5t-other",
        {"x5t#S256": x5t_s256(s["AUS.DFAT"].kid)},
        M,
        "x5t#S256 of another certificate",
    )
    header_case("ENV-14", "cty-number", {}, M, "cty is a number", cty=5)
    valid(
        "no-x5t",
        _env(sa_payload, SA, [mofa], [{"x5t#S256": _DROP}]),
        "a protected header without the optional x5t#S256",
    )

    # ENV-15, ENV-16 across signatures
    dfat = s["AUS.DFAT"]
    reject(
        "ENV-15",
        "cty-differs",
        _env(sa_payload, SA, [mofa, dfat], [None, {"cty": "accord.information-report.v1"}]),
        M,
        "the co-signer's cty names another type",
    )
    reject("ENV-16", "same-kid", _env(sa_payload, SA, [mofa, mofa]), M, "the same key signs twice")

    # ENV-17 .. ENV-22 certificates
    jpn_root_kid = kid_of(pki.roots[Country.JPN][1])
    reject(
        "ENV-17",
        "root-kid",
        _env(sa_payload, SA, [mofa], [{"kid": jpn_root_kid, "x5t#S256": _DROP}]),
        R.UNKNOWN_KEY,
        "kid of the pinned JPN root: a root is not an agency certificate",
    )

    reject(
        "ENV-17",
        "kid-of-no-certificate",
        _env(sa_payload, SA, [mofa], [{"kid": s["unknown"].kid, "x5t#S256": _DROP}]),
        R.UNKNOWN_KEY,
        "pitfall: signed by JPN.MOFA's key under a kid the bundle does not "
        "hold (a verifier that ignores kid and tries every key accepts it)",
    )

    def signed_as(signer: Signer, agency: str, **kw: Any) -> bytes:
        payload = _payload(
            sa, s=_set("header.sender", agency), o=_set("label.originator", agency), **kw
        )
        return _env(payload, SA, [signer])

    reject(
        "ENV-18",
        "other-country-root",
        signed_as(s["cross"], "JPN.XAUS"),
        R.UNTRUSTED_ISSUER,
        "a JPN agency certificate issued by the AUS root",
    )
    reject(
        "ENV-18",
        "unpinned-ca",
        signed_as(s["unpinned"], "JPN.UNPIN"),
        R.UNTRUSTED_ISSUER,
        "pitfall: issued by a CA in the bundle that is not pinned (same name as the JPN root)",
    )
    reject(
        "ENV-18",
        "issuer-name-spelling",
        signed_as(s["issuer-spelling"], "JPN.SPELL"),
        R.UNTRUSTED_ISSUER,
        "signed by the JPN root, issuer Name in PrintableString where "
        "the root's subject has UTF8String: RFC 5280 matching says equal, the DER differs",
    )
    reject(
        "ENV-19",
        "no-digital-signature",
        signed_as(s["no-usage"], "JPN.NOKU"),
        R.UNTRUSTED_ISSUER,
        "pitfall: keyUsage without digitalSignature (keyAgreement only)",
    )
    valid(
        "country-from-san",
        signed_as(s["c-mismatch"], "JPN.CMIS"),
        "pitfall: subject C=AU but SAN urn:accord:agency:JPN.CMIS, issued by the JPN root: "
        "the country is JPN",
    )
    psia = s["expired"]
    psia_until = psia.certificate.not_valid_after_utc
    psia_from = psia.certificate.not_valid_before_utc

    def psia_at(at: datetime) -> bytes:
        return _env(
            payload_bytes(
                _with(sample_header(sa), sender="JPN.PSIA", issued_at=at),
                sample_label("JPN.PSIA", sa.scope, at=at),
                sa.body,
            ),
            SA,
            [psia],
        )

    mid = datetime(2024, 6, 1, tzinfo=UTC)
    valid(
        "cert-last-second",
        psia_at(mid),
        "verified at the certificate's notAfter (inclusive)",
        now=psia_until,
    )
    valid(
        "cert-first-second",
        psia_at(psia_from),
        "issued and verified at the certificate's notBefore (inclusive)",
        now=psia_from,
    )
    reject(
        "ENV-21",
        "one-second-late",
        psia_at(mid),
        R.EXPIRED_CERT,
        "verified one second after notAfter",
        now=psia_until + timedelta(seconds=1),
    )
    reject(
        "ENV-21",
        "half-second-late",
        psia_at(mid),
        R.EXPIRED_CERT,
        "verified half a second after notAfter (times compare exactly, fractions included)",
        now=psia_until + timedelta(milliseconds=500),
    )
    reject(
        "ENV-31",
        "issued-microsecond-after-cert",
        psia_at(psia_until + timedelta(microseconds=1)),
        R.EXPIRED_CERT,
        "issued_at one microsecond after notAfter, verified at notAfter",
        now=psia_until,
    )

    def short_at(at: datetime) -> bytes:
        return _env(
            payload_bytes(
                _with(sample_header(sa), sender="JPN.SHORT", issued_at=at),
                sample_label("JPN.SHORT", sa.scope, at=at),
                sa.body,
            ),
            SA,
            [s["short-root"]],
        )

    reject(
        "ENV-21",
        "root-expired",
        short_at(VERIFY_AT - timedelta(minutes=1)),
        R.EXPIRED_CERT,
        "the certificate is valid now but its root expired on 2026-01-10",
    )
    reject(
        "ENV-31",
        "root-not-yet-valid-at-issued-at",
        short_at(datetime(2025, 5, 1, tzinfo=UTC)),
        R.EXPIRED_CERT,
        "pitfall: issued 2025-05-01, when the certificate was valid but its root not yet; "
        "verified 2025-12-01",
        now=datetime(2025, 12, 1, tzinfo=UTC),
    )
    valid(
        "root-valid-throughout",
        short_at(datetime(2025, 7, 1, tzinfo=UTC)),
        "a certificate of the short-lived root, issued and verified while both are valid",
        now=datetime(2025, 12, 1, tzinfo=UTC),
    )
    reject(
        "ENV-22",
        "agency-twice",
        _env(sa_payload, SA, [mofa, s["mofa-2"]]),
        M,
        "two certificates of JPN.MOFA (a rotation) both sign",
    )

    # ENV-23 signatures
    other = _env(tri_payload, tri.body.TYPE, [dfat])
    cosigned = json.loads(_env(sa_payload, SA, [mofa, dfat]))
    cosigned["signatures"][1]["signature"] = json.loads(other)["signatures"][0]["signature"]
    reject(
        "ENV-23",
        "second-signature-bad",
        _json(cosigned),
        R.BAD_SIGNATURE,
        "pitfall: the first signature verifies, the second does not (verify every one)",
    )
    reject(
        "ENV-23",
        "short-signature",
        _json({"payload": p64, "signatures": [{**sig0, "signature": _b64(b"\0" * 63)}]}),
        R.BAD_SIGNATURE,
        "a 63-byte signature",
    )

    # ENV-24 strict JSON (payload)
    def raw_case(
        rule: str, slug: str, payload: bytes, reason: ReasonCode, description: str, **kw: Any
    ) -> None:
        reject(rule, slug, _env(payload, SA, [mofa]), reason, description, **kw)

    raw_case(
        "ENV-24",
        "duplicate-member",
        _replace(sa_payload, '"sequence":0', '"sequence":5,"sequence":0'),
        M,
        "pitfall: a nested duplicate member in the payload (last-wins parsers)",
    )
    raw_case("ENV-24", "bom", b"\xef\xbb\xbf" + sa_payload, M, "payload with a byte-order mark")
    raw_case(
        "ENV-24",
        "lone-surrogate",
        _replace(sa_payload, '"region":"Korean', '"region":"\\ud800Korean'),
        M,
        "pitfall: a lone high surrogate escape in a string",
    )
    raw_case(
        "ENV-24",
        "too-deep",
        _replace(sa_payload, '"region":', '"annex":' + "[" * 40 + "]" * 40 + ',"region":'),
        M,
        "40 nested arrays in the body (depth limit 32)",
    )
    raw_case(
        "ENV-24",
        "long-number",
        _replace(sa_payload, '"sequence":0', '"sequence":' + "1" + "0" * 40),
        M,
        "a 41-digit number literal (limit 32 characters)",
    )

    # ENV-25 .. ENV-29 payload
    raw_case(
        "ENV-25",
        "unknown-cty-and-label",
        _replace(sa_payload, '"caveats":["ORCON"]', '"caveats":["NOFORN"]'),
        R.SCHEMA_INVALID,
        "order: unknown cty (ENV-25) before an unknown caveat (ENV-26)",
    )
    out[-1] = _Vector(
        out[-1].file,
        _env(
            _replace(sa_payload, '"caveats":["ORCON"]', '"caveats":["NOFORN"]'),
            "accord.strategic-assessment.v9",
            [mofa],
        ),
        out[-1].expected,
        out[-1].description,
        out[-1].topic,
        rule="ENV-25",
    )
    reject(
        "ENV-25",
        "unknown-cty",
        _env(sa_payload, "accord.strategic-assessment.v9", [mofa]),
        R.SCHEMA_INVALID,
        "cty names no known type",
    )

    def edit_case(
        rule: str,
        slug: str,
        reason: ReasonCode,
        description: str,
        sample: Sample = sa,
        signer: Signer = mofa,
        **edits: Any,
    ) -> None:
        payload = _payload(sample, **edits)
        reject(
            rule,
            slug,
            _env(payload, sample.body.TYPE, [signer]),
            reason,
            description,
            topic=sample_header(sample).topic,
        )

    UL = R.UNKNOWN_LABEL_VALUE
    edit_case(
        "ENV-26",
        "classification",
        UL,
        "classification TOP SECRET",
        c=_set("label.classification", "TOP SECRET"),
    )
    edit_case("ENV-26", "policy", UL, "policy nato-2020", c=_set("label.policy", "nato-2020"))
    edit_case(
        "ENV-26", "country", UL, "releasable to GBR", c=_set("label.releasable_to", ["AUS", "GBR"])
    )
    edit_case(
        "ENV-26",
        "before-schema",
        UL,
        "order: an unknown caveat (ENV-26) and an unknown body member (ENV-27)",
        c=_set("label.caveats", ["NOFORN"]),
        x=_set("body.annex", "x"),
    )
    edit_case(
        "ENV-27",
        "no-policy-unknown-classification",
        R.SCHEMA_INVALID,
        "no label.policy and classification TOP SECRET: a level is judged only "
        "against a named policy (ENV-26), so the missing policy fails ENV-27",
        p=_drop("label.policy"),
        c=_set("label.classification", "TOP SECRET"),
    )
    edit_case(
        "ENV-27",
        "policy-number-unknown-classification",
        R.SCHEMA_INVALID,
        "label.policy 5 and classification TOP SECRET",
        p=_set("label.policy", 5),
        c=_set("label.classification", "TOP SECRET"),
    )
    edit_case(
        "ENV-27",
        "no-policy-unknown-caveat",
        R.SCHEMA_INVALID,
        "no label.policy and caveat NOFORN",
        p=_drop("label.policy"),
        c=_set("label.caveats", ["NOFORN"]),
    )
    SI = R.SCHEMA_INVALID
    edit_case(
        "ENV-27",
        "caveat-number",
        SI,
        "a caveat of the wrong JSON type",
        c=_set("label.caveats", [5]),
    )
    edit_case(
        "ENV-27", "sequence-string", SI, "sequence as a string", q=_set("header.sequence", "7")
    )
    raw_case(
        "ENV-27",
        "integer-with-fraction",
        _replace(sa_payload, '"sequence":0', '"sequence":7.0'),
        SI,
        "pitfall: sequence written 7.0 (not an integer literal)",
    )
    raw_case(
        "ENV-27",
        "integer-with-exponent",
        _replace(sa_payload, '"sequence":0', '"sequence":1e0'),
        SI,
        "pitfall: sequence written 1e0",
    )
    raw_case(
        "ENV-27",
        "sequence-2-63",
        _replace(sa_payload, '"sequence":0', f'"sequence":{2**63}'),
        SI,
        "sequence 2^63, one over the bound",
    )
    valid(
        "sequence-max",
        _env(_replace(sa_payload, '"sequence":0', f'"sequence":{2**63 - 1}'), SA, [mofa]),
        "pitfall: sequence 2^63-1 (exact; a double would round it)",
    )
    valid(
        "sequence-2-53-plus-1",
        _env(_replace(sa_payload, '"sequence":0', f'"sequence":{2**53 + 1}'), SA, [mofa]),
        "sequence 2^53+1 (a double reads 2^53)",
    )
    mid_text = str(sa.message_id)
    edit_case(
        "ENV-27",
        "message-id-upper",
        SI,
        "message_id in upper case",
        m=_set("header.message_id", mid_text.upper()),
    )
    edit_case(
        "ENV-27",
        "message-id-urn",
        SI,
        "message_id as urn:uuid:",
        m=_set("header.message_id", "urn:uuid:" + mid_text),
    )
    edit_case(
        "ENV-27",
        "message-id-v4",
        SI,
        "message_id is a UUIDv4",
        m=_set("header.message_id", "6f1c2a8e-3b7d-4c5e-9a1f-2b3c4d5e6f70"),
    )
    edit_case(
        "ENV-27",
        "date-time-lower-t",
        SI,
        "issued_at with a lower-case t",
        i=_set("header.issued_at", "2026-01-15t09:00:00Z"),
    )
    edit_case(
        "ENV-27",
        "date-time-space",
        SI,
        "issued_at with a space for T",
        i=_set("header.issued_at", "2026-01-15 09:00:00Z"),
    )
    edit_case(
        "ENV-27",
        "date-time-no-offset",
        SI,
        "issued_at without an offset",
        i=_set("header.issued_at", "2026-01-15T09:00:00"),
    )
    edit_case(
        "ENV-27", "date-feb-30", SI, "review_on 2027-02-30", r=_set("label.review_on", "2027-02-30")
    )
    valid(
        "date-time-offset",
        _env(
            _payload(sa, i=_set("header.issued_at", "2026-01-15T18:00:00.123456+09:00")), SA, [mofa]
        ),
        "issued_at with a +09:00 offset and 6 fraction digits",
    )
    name = "body.attachments"
    attachment = json.loads(sa_payload)["body"]["attachments"][0]
    edit_case(
        "ENV-27",
        "name-division-slash",
        SI,
        "attachment name with U+2215",
        a=_set(name, [{**attachment, "name": "..\u2215etc\u2215passwd"}]),
    )
    edit_case(
        "ENV-27",
        "name-fullwidth-slash",
        SI,
        "attachment name with U+FF0F",
        a=_set(name, [{**attachment, "name": "a\uff0fb.pdf"}]),
    )
    edit_case(
        "ENV-27",
        "name-bidi",
        SI,
        "attachment name with U+202E (right-to-left override)",
        a=_set(name, [{**attachment, "name": "report\u202efdp.exe"}]),
    )
    edit_case(
        "ENV-27",
        "name-dot-dot",
        SI,
        "attachment name '..'",
        a=_set(name, [{**attachment, "name": ".."}]),
    )
    edit_case(
        "ENV-27",
        "subjects-twice",
        SI,
        "a subject listed twice (uniqueItems)",
        u=_set("body.subjects", ["terrorism", "terrorism"]),
    )
    edit_case(
        "ENV-28",
        "valid-until-before-from",
        SI,
        "valid_until before valid_from",
        v=_set("body.valid_until", "2026-01-14T09:00:00Z"),
    )
    edit_case(
        "ENV-28",
        "review-before-created",
        SI,
        "label review_on before created_at",
        r=_set("label.review_on", "2026-01-14"),
    )
    edit_case(
        "ENV-29",
        "type-differs",
        SI,
        "header.type names another type than cty",
        t=_set("header.type", "accord.information-report.v1"),
    )
    edit_case(
        "ENV-27",
        "header-type-unknown",
        SI,
        "header.type names no type of SPEC 6.1 (ENV-27, by accord.header.v1; not ENV-29)",
        t=_set("header.type", "accord.strategic-assessment.v9"),
    )

    # ENV-30, ENV-31 time
    ahead = VERIFY_AT + timedelta(seconds=300)
    valid(
        "issued-300s-ahead",
        _env(
            _payload(
                sa, i=_set("header.issued_at", _iso(ahead)), c=_set("label.created_at", _iso(ahead))
            ),
            SA,
            [mofa],
        ),
        "issued_at exactly 300 s after now",
    )
    late = ahead + timedelta(seconds=1)
    reject(
        "ENV-30",
        "issued-301s-ahead",
        _env(
            _payload(
                sa, i=_set("header.issued_at", _iso(late)), c=_set("label.created_at", _iso(late))
            ),
            SA,
            [mofa],
        ),
        R.FUTURE_DATED,
        "issued_at 301 s after now",
    )
    over = ahead + timedelta(microseconds=1)
    reject(
        "ENV-30",
        "issued-300.000001s-ahead",
        _env(
            _payload(
                sa, i=_set("header.issued_at", _iso(over)), c=_set("label.created_at", _iso(over))
            ),
            SA,
            [mofa],
        ),
        R.FUTURE_DATED,
        "issued_at 300.000001 s after now (fractions count)",
    )
    far = datetime(2050, 1, 1, tzinfo=UTC)
    reject(
        "ENV-30",
        "future-and-after-cert",
        _env(
            _payload(
                sa,
                i=_set("header.issued_at", _iso(far)),
                c=_set("label.created_at", _iso(far)),
                r=_set("label.review_on", "2051-01-01"),
            ),
            SA,
            [mofa],
        ),
        R.FUTURE_DATED,
        "order: issued_at in 2050, also after the certificate (ENV-31)",
    )
    before = datetime(2025, 12, 31, tzinfo=UTC)
    reject(
        "ENV-31",
        "issued-before-cert",
        _env(
            _payload(
                sa,
                i=_set("header.issued_at", _iso(before)),
                c=_set("label.created_at", _iso(before)),
            ),
            SA,
            [mofa],
        ),
        R.EXPIRED_CERT,
        "issued_at before the certificate's notBefore, verified while valid",
    )

    # ENV-32 .. ENV-44 parties, body rules, receipts, label, topic
    reject(
        "ENV-32",
        "before-scope",
        signed_as(mofa, "USA.STATE"),
        R.SENDER_MISMATCH,
        "order: sender USA.STATE signed by JPN.MOFA in the bilateral scope",
    )
    reject(
        "ENV-33",
        "cosigner-outside-scope",
        _env(sa_payload, SA, [mofa, s["USA.STATE"]]),
        R.SCOPE_VIOLATION,
        "a bilateral message co-signed by USA.STATE",
    )
    ex = SAMPLES["accord.exercise-notice.v1"]
    edit_case(
        "ENV-34",
        "exercise-wrong-area",
        SI,
        "an exercise notice in counter-terrorism",
        sample=ex,
        signer=s["JPN.MOD"],
        a=_set("header.area", "counter-terrorism"),
        t=_set("header.topic", "accord.bilateral.counter-terrorism"),
    )
    out[-1] = _Vector(
        out[-1].file,
        out[-1].envelope,
        out[-1].expected,
        out[-1].description,
        "accord.bilateral.counter-terrorism",
        rule="ENV-34",
    )
    edit_case(
        "ENV-36",
        "exercise-participant",
        R.SCOPE_VIOLATION,
        "a USA agency among a bilateral exercise's participants",
        sample=ex,
        signer=s["JPN.MOD"],
        p=_set("body.participants", ["JPN.MOD", "USA.DOD"]),
    )
    pe = SAMPLES["accord.personnel-exchange-notice.v1"]
    edit_case(
        "ENV-36",
        "host-agency",
        R.SCOPE_VIOLATION,
        "a USA host agency, bilateral",
        sample=pe,
        signer=s["AUS.DEFENCE"],
        h=_set("body.host_agency", "USA.STATE"),
    )
    ap = SAMPLES["accord.action-plan-update.v1"]
    edit_case(
        "ENV-36",
        "owner",
        R.SCOPE_VIOLATION,
        "a USA owner, bilateral",
        sample=ap,
        o=_set("body.owners", ["JPN.MOFA", "USA.STATE"]),
    )
    dr = SAMPLES["accord.dialogue-record.v1"]
    tsd = _payload(
        dr,
        s=_set("header.sender", "JPN.MOFA"),
        c=_set("header.scope", "bilateral"),
        t=_set("header.topic", "accord.bilateral.dialogue"),
        o=_set("label.originator", "JPN.MOFA"),
        r=_set("label.releasable_to", ["AUS", "JPN"]),
        p=_set(
            "body.participants",
            [
                {"country": "JPN", "office": "Minister for Foreign Affairs"},
                {"country": "AUS", "office": "Minister for Foreign Affairs"},
            ],
        ),
    )
    reject(
        "ENV-35",
        "tsd-bilateral",
        _env(tsd, dr.body.TYPE, [mofa]),
        R.SCOPE_VIOLATION,
        "a Trilateral Strategic Dialogue record in the bilateral scope",
        topic="accord.bilateral.dialogue",
    )
    edit_case(
        "ENV-36",
        "dialogue-participant",
        R.SCOPE_VIOLATION,
        "a JPN participant missing... a dialogue record with a participant country outside scope",
        sample=dr,
        signer=s["USA.STATE"],
        k=_set("body.kind", "foreign-ministers"),
        c=_set("header.scope", "bilateral"),
        t=_set("header.topic", "accord.bilateral.dialogue"),
        s=_set("header.sender", "JPN.MOFA"),
        o=_set("label.originator", "JPN.MOFA"),
        r=_set("label.releasable_to", ["AUS", "JPN"]),
    )
    out[-1] = _Vector(
        out[-1].file,
        _env(
            _payload(
                dr,
                k=_set("body.kind", "foreign-ministers"),
                c=_set("header.scope", "bilateral"),
                t=_set("header.topic", "accord.bilateral.dialogue"),
                s=_set("header.sender", "JPN.MOFA"),
                o=_set("label.originator", "JPN.MOFA"),
                r=_set("label.releasable_to", ["AUS", "JPN"]),
            ),
            dr.body.TYPE,
            [mofa],
        ),
        out[-1].expected,
        "a bilateral dialogue record with a USA participant",
        "accord.bilateral.dialogue",
        rule="ENV-36",
    )
    supersede = SAMPLES["accord.supersede.v1"]
    edit_case(
        "ENV-37",
        "supersede-other",
        R.NOT_ORIGINATOR,
        "JPN.MOFA superseding a message of JPN.MOD",
        sample=supersede,
        t=_set("body.target_sender", "JPN.MOD"),
    )
    receipt = SAMPLES["accord.receipt.v1"]
    edit_case(
        "ENV-38",
        "receipt-for-other",
        R.SENDER_MISMATCH,
        "a receipt for AUS.DEFENCE signed by AUS.DFAT",
        sample=receipt,
        signer=dfat,
        r=_set("body.receiving_agency", "AUS.DEFENCE"),
    )
    ack = json.loads(_payload(receipt))["body"]["acknowledgements"][0]
    edit_case(
        "ENV-39",
        "ack-outside-scope",
        R.SCOPE_VIOLATION,
        "a bilateral receipt acknowledging a USA.STATE message",
        sample=receipt,
        signer=dfat,
        a=_set("body.acknowledgements", [{**ack, "sender": "USA.STATE"}]),
    )
    edit_case(
        "ENV-40",
        "published-other",
        R.SENDER_MISMATCH,
        "a 'published' receipt from AUS.DFAT for a JPN.MOFA message",
        sample=receipt,
        signer=dfat,
        p=_set("body.status", "published"),
    )
    edit_case(
        "ENV-41",
        "wider",
        R.RELEASABILITY_VIOLATION,
        "a bilateral label releasable to JPN, AUS and USA",
        r=_set("label.releasable_to", ["AUS", "JPN", "USA"]),
    )
    edit_case(
        "ENV-42",
        "originator-other",
        R.SENDER_MISMATCH,
        "label originator JPN.MOD on a JPN.MOFA message",
        o=_set("label.originator", "JPN.MOD"),
    )
    reject(
        "ENV-43",
        "topic-other-area",
        _env(
            _payload(sa, t=_set("header.topic", "accord.bilateral.counter-terrorism")), SA, [mofa]
        ),
        R.TOPIC_MISMATCH,
        "header.topic names another area than header.area, read from that topic",
        topic="accord.bilateral.counter-terrorism",
    )

    # multi-defect vectors: the evaluation order
    npa, ghost = s["revoked"], s["unknown"]
    npa_payload = _payload(
        sa, s=_set("header.sender", "JPN.NPA"), o=_set("label.originator", "JPN.NPA")
    )
    reject(
        "ENV-17",
        "order-revoked-then-unknown",
        _env(npa_payload, SA, [npa, ghost]),
        R.UNKNOWN_KEY,
        "order: signature 1 revoked (ENV-20), signature 2 unknown (ENV-17): "
        "each rule across all signatures",
    )
    reject(
        "ENV-09",
        "order-typ-then-alg",
        _env(sa_payload, SA, [mofa, dfat], [{"typ": "JWT"}, {"alg": "HS256"}]),
        R.UNSUPPORTED_ALG,
        "order: signature 1 bad typ (ENV-11), signature 2 alg HS256 (ENV-09)",
    )
    reject(
        "ENV-16",
        "order-same-kid-revoked",
        _env(npa_payload, SA, [npa, npa]),
        M,
        "order: a revoked key signing twice (ENV-16 before ENV-20)",
    )
    reject(
        "ENV-20",
        "order-revoked-and-expired",
        _env(
            payload_bytes(
                _with(sample_header(sa), sender="JPN.OLD", issued_at=mid),
                sample_label("JPN.OLD", sa.scope, at=mid),
                sa.body,
            ),
            SA,
            [s["old-revoked"]],
        ),
        R.REVOKED,
        "order: revoked (ENV-20) and expired (ENV-21)",
    )
    reject(
        "ENV-18",
        "order-rogue-and-expired",
        _env(
            payload_bytes(
                _with(sample_header(sa), sender="JPN.ROGUEOLD", issued_at=mid),
                sample_label("JPN.ROGUEOLD", sa.scope, at=mid),
                sa.body,
            ),
            SA,
            [s["rogue-old"]],
        ),
        R.UNTRUSTED_ISSUER,
        "pitfall (Go x509 Verify order): untrusted issuer (ENV-18) and expired (ENV-21)",
    )
    bad_sig_schema = _env(_payload(sa, x=_set("body.annex", "x")), SA, [mofa])
    bad = json.loads(bad_sig_schema)
    bad["signatures"][0]["signature"] = sig0["signature"]
    reject(
        "ENV-23",
        "order-before-payload",
        _json(bad),
        R.BAD_SIGNATURE,
        "order: a bad signature (ENV-23) over a schema-invalid payload (ENV-27)",
    )
    reject(
        "ENV-01",
        "order-oversized-malformed",
        good[:200],
        R.OVERSIZED,
        "order: truncated (ENV-02) and over max_bytes 100 (ENV-01)",
        max_bytes=100,
    )
    return out


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _of_length(payload: bytes, signer: Signer, length: int) -> bytes:
    """A valid envelope of exactly ``length`` bytes: JSON whitespace after the payload's
    first ``{`` brings it close, spaces after the record's first ``{`` the rest."""
    base = len(_env(payload, StrategicAssessment.TYPE, [signer]))
    pad = max(0, (length - base) * 3 // 4 - 4)
    record = _env(payload[:1] + b" " * pad + payload[1:], StrategicAssessment.TYPE, [signer])
    assert len(record) <= length, (len(record), length)
    return record[:1] + b" " * (length - len(record)) + record[1:]


def _readers_vectors(pki: _Pki) -> list[_Vector]:
    """``readers`` in a receipt's acknowledgement (SPEC 7, v1.3): only in a
    ``published`` receipt, ascending, without the acknowledged sender."""
    receipt = SAMPLES[Receipt.TYPE]
    topic, dfat = sample_header(receipt).topic, pki.signers["AUS.DFAT"]
    ack = json.loads(_payload(receipt))["body"]["acknowledgements"][0]
    own = {**ack, "sender": "AUS.DFAT"}  # an AUS.DFAT message, announced by AUS.DFAT
    R = ReasonCode

    def case(
        vid: str, status: str, acked: dict[str, Any], readers: Any, expected: str, rule: str | None
    ) -> tuple[str, bytes, str, str | None]:
        payload = _payload(
            receipt,
            s=_set("body.status", status),
            a=_set("body.acknowledgements", [{**acked, "readers": readers}]),
        )
        return vid, _env(payload, Receipt.TYPE, [dfat]), expected, rule

    cases = [
        (
            case("valid/receipt-readers", "published", own, ["JPN.MOD", "JPN.MOFA"], "valid", None),
            "a 'published' receipt naming the readers a need-to-know list leaves",
        ),
        (
            case("valid/receipt-readers-none", "published", own, [], "valid", None),
            "a 'published' receipt whose message no agency but the sender reads (readers [])",
        ),
        (
            case(
                "reject/ENV-28-readers-in-delivered",
                "delivered",
                ack,
                ["AUS.DEFENCE"],
                R.SCHEMA_INVALID.value,
                "ENV-28",
            ),
            "a 'delivered' receipt naming readers (only the originator says who reads)",
        ),
        (
            case(
                "reject/ENV-28-readers-unsorted",
                "published",
                own,
                ["JPN.MOFA", "JPN.MOD"],
                R.SCHEMA_INVALID.value,
                "ENV-28",
            ),
            "readers not in ascending order",
        ),
        (
            case(
                "reject/ENV-28-readers-name-the-sender",
                "published",
                own,
                ["AUS.DFAT", "JPN.MOD"],
                R.SCHEMA_INVALID.value,
                "ENV-28",
            ),
            "readers listing the acknowledged message's sender",
        ),
        (
            case(
                "reject/ENV-27-readers-null",
                "published",
                own,
                None,
                R.SCHEMA_INVALID.value,
                "ENV-27",
            ),
            "readers null (absent, not null, means every entitled agency)",
        ),
        (
            case(
                "reject/ENV-27-readers-twice-in-delivered",
                "delivered",
                ack,
                ["JPN.MOD", "JPN.MOD"],
                R.SCHEMA_INVALID.value,
                "ENV-27",
            ),
            "a 'delivered' receipt whose readers list JPN.MOD twice (uniqueItems, ENV-27, "
            "comes before ENV-28)",
        ),
    ]
    return [
        _Vector(f"{vid}.jws.json", envelope, expected, description, topic, rule=rule)
        for (vid, envelope, expected, rule), description in cases
    ]


def _need_to_know_vectors(pki: _Pki) -> list[_Vector]:
    """``label.need_to_know`` (SPEC 11.4): its schema, order and scope rules."""
    sa = SAMPLES[StrategicAssessment.TYPE]
    SA, topic, mofa = StrategicAssessment.TYPE, sample_header(sa).topic, pki.signers["JPN.MOFA"]
    R = ReasonCode

    def case(vid: str, need: Any, expected: str, rule: str | None, description: str) -> _Vector:
        payload = _payload(sa, n=_set("label.need_to_know", need))
        envelope = _env(payload, SA, [mofa])
        return _Vector(f"{vid}.jws.json", envelope, expected, description, topic, rule=rule)

    return [
        case(
            "valid/need-to-know",
            ["AUS.DFAT", "JPN.MOD"],
            "valid",
            None,
            "a bilateral label with need_to_know [AUS.DFAT, JPN.MOD] (the sender reads too)",
        ),
        case(
            "reject/ENV-41-need-to-know-outside-scope",
            ["AUS.DFAT", "USA.STATE"],
            R.RELEASABILITY_VIOLATION.value,
            "ENV-41",
            "a bilateral label whose need_to_know names USA.STATE",
        ),
        case(
            "reject/ENV-28-need-to-know-unsorted",
            ["JPN.MOD", "AUS.DFAT"],
            R.SCHEMA_INVALID.value,
            "ENV-28",
            "need_to_know not in ascending order",
        ),
        case(
            "reject/ENV-27-need-to-know-empty",
            [],
            R.SCHEMA_INVALID.value,
            "ENV-27",
            "need_to_know [] (absent means everyone; no spelling means no one)",
        ),
        case(
            "reject/ENV-27-need-to-know-null",
            None,
            R.SCHEMA_INVALID.value,
            "ENV-27",
            "need_to_know null (absent, not null, means everyone)",
        ),
        case(
            "reject/ENV-27-need-to-know-twice",
            ["AUS.DFAT", "AUS.DFAT"],
            R.SCHEMA_INVALID.value,
            "ENV-27",
            "need_to_know lists AUS.DFAT twice (uniqueItems)",
        ),
    ]
