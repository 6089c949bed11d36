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

from accord.envelope.header import Header
from accord.envelope.jws import payload_bytes, sign_payload
from accord.envelope.samples import ISSUED_AT, SAMPLES, Sample, sample_header, sample_label
from accord.errors import ReasonCode
from accord.models import Retract, StrategicAssessment
from accord.parties import Country, country_of
from accord.trust import Signer, TrustStore
from accord.trust.pki import build_crl, create_root, issue_certificate

__all__ = ["VERIFY_AT", "build_vectors"]

PKI_FROM = datetime(2026, 1, 1, tzinfo=UTC)
ROOTS_FROM = datetime(2024, 1, 1, tzinfo=UTC)
PKI_UNTIL = datetime(2046, 1, 1, tzinfo=UTC)
VERIFY_AT = ISSUED_AT + timedelta(minutes=5)
"""The ``now`` every vector is verified at, unless the manifest says otherwise."""

AGENCIES = ("JPN.MOFA", "JPN.MOD", "AUS.DFAT", "AUS.DEFENCE", "USA.STATE")


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
        agency, root_key=root[0], root_cert=root[1], key=_key(name),
        not_before=start, valid_days=(until - start).days, serial=_serial(name),
    )
    return Signer.from_key(key, cert)


def _build_pki() -> _Pki:
    days = (PKI_UNTIL - ROOTS_FROM).days
    roots = {
        c: create_root(c, key=_key(f"root:{c}"), not_before=ROOTS_FROM, valid_days=days,
                       serial=_serial(f"root:{c}"))
        for c in Country
    }
    signers = {a: _issue(a, roots[country_of(a)]) for a in AGENCIES}
    # Certificates for the rejection vectors:
    signers["revoked"] = _issue("JPN.NPA", roots[Country.JPN], name="revoked")
    signers["expired"] = _issue(
        "JPN.PSIA", roots[Country.JPN], name="expired",
        start=datetime(2024, 1, 1, tzinfo=UTC), until=datetime(2025, 1, 1, tzinfo=UTC),
    )
    # Same subject as the real JPN root, different key: only a signature check on
    # the chain tells them apart.
    rogue_root = create_root(Country.JPN, key=_key("root:rogue"), not_before=ROOTS_FROM,
                             valid_days=days, serial=_serial("root:rogue"))
    signers["untrusted"] = _issue("JPN.ROGUE", rogue_root, name="untrusted")
    signers["unknown"] = _issue("JPN.GHOST", roots[Country.JPN], name="unknown")

    store = TrustStore()
    for _, cert in roots.values():
        store.add_root(cert)
    for name, signer in signers.items():
        if name != "unknown":  # never given to verifiers: its kid is unknown
            store.add_certificate(signer.certificate)
    for country, (key, cert) in roots.items():
        revoked = [(signers["revoked"].certificate.serial_number, PKI_FROM + timedelta(days=1))]
        crl = build_crl(key, cert, revoked if country is Country.JPN else [], number=1,
                        this_update=PKI_FROM + timedelta(days=1),
                        valid_days=(PKI_UNTIL - PKI_FROM).days - 1)
        store.add_crl(crl)
    return _Pki(roots, signers, store.to_bundle())


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


def _vectors(pki: _Pki) -> list[_Vector]:
    s = pki.signers
    out: list[_Vector] = []
    for type_name, sample in SAMPLES.items():
        out.append(_Vector(
            f"valid/{type_name}.jws.json",
            sign_payload(_payload(sample), type_name, [s[sample.sender]]),
            "valid", f"a valid {type_name} from {sample.sender}",
            sample_header(sample).topic,
        ))
    sa = SAMPLES[StrategicAssessment.TYPE]
    sa_topic = sample_header(sa).topic
    sa_type = StrategicAssessment.TYPE
    good = sign_payload(_payload(sa), sa_type, [s["JPN.MOFA"]])
    out.append(_Vector(
        "valid/cosigned.jws.json",
        sign_payload(_payload(sa), sa_type, [s["JPN.MOFA"], s["AUS.DFAT"]]),
        "valid", "a strategic assessment signed by JPN.MOFA and co-signed by AUS.DFAT",
        sa_topic,
    ))

    def reject(reason: ReasonCode, envelope: bytes, description: str, **kw: Any) -> None:
        kw.setdefault("topic", sa_topic)
        out.append(_Vector(f"reject/{reason.value}.jws.json", envelope, reason.value,
                           description, **kw))

    reject(ReasonCode.MALFORMED, good[:200], "a valid envelope truncated to 200 bytes")
    reject(ReasonCode.OVERSIZED, good, "a valid envelope, verified with max_bytes 1024",
           max_bytes=1024)
    doc = json.loads(good)
    protected = {"alg": "HS256", "kid": s["JPN.MOFA"].kid, "typ": "accord+jws", "cty": sa_type}
    p64 = _b64(_json(protected))
    sig = s["JPN.MOFA"].sign(f"{p64}.{doc['payload']}".encode())
    reject(ReasonCode.UNSUPPORTED_ALG,
           _json({"payload": doc["payload"], "signatures": [{"protected": p64,
                                                             "signature": _b64(sig)}]}),
           "protected header alg HS256 (alg is pinned to EdDSA)")
    unknown = _payload(sa, s=_set("header.sender", "JPN.GHOST"), o=_set("label.originator",
                                                                         "JPN.GHOST"))
    reject(ReasonCode.UNKNOWN_KEY, sign_payload(unknown, sa_type, [s["unknown"]]),
           "signed by a certificate that is not in the trust bundle")
    sig64 = doc["signatures"][0]["signature"]
    tampered = ("A" if sig64[0] != "A" else "B") + sig64[1:]
    reject(ReasonCode.BAD_SIGNATURE,
           _json({"payload": doc["payload"], "signatures": [
               {"protected": doc["signatures"][0]["protected"], "signature": tampered}]}),
           "the first character of the signature changed")
    rogue = _payload(sa, s=_set("header.sender", "JPN.ROGUE"),
                     o=_set("label.originator", "JPN.ROGUE"))
    reject(ReasonCode.UNTRUSTED_ISSUER, sign_payload(rogue, sa_type, [s["untrusted"]]),
           "certificate issued by a key claiming the JPN root's name but not the JPN root")
    expired_at = datetime(2024, 6, 1, tzinfo=UTC)
    expired = payload_bytes(
        _with(sample_header(sa), sender="JPN.PSIA", issued_at=expired_at),
        sample_label("JPN.PSIA", sa.scope, at=expired_at), sa.body,
    )
    reject(ReasonCode.EXPIRED_CERT, sign_payload(expired, sa_type, [s["expired"]]),
           "signed in 2024 with a certificate valid 2024-01-01 to 2025-01-01")
    revoked = _payload(sa, s=_set("header.sender", "JPN.NPA"), o=_set("label.originator",
                                                                       "JPN.NPA"))
    reject(ReasonCode.REVOKED, sign_payload(revoked, sa_type, [s["revoked"]]),
           "signed with a certificate on the JPN root's CRL")
    mismatch = _payload(sa, s=_set("header.sender", "JPN.MOD"), o=_set("label.originator",
                                                                        "JPN.MOD"))
    reject(ReasonCode.SENDER_MISMATCH, sign_payload(mismatch, sa_type, [s["JPN.MOFA"]]),
           "header sender JPN.MOD, signed by JPN.MOFA")
    usa = _payload(sa, s=_set("header.sender", "USA.STATE"), o=_set("label.originator",
                                                                     "USA.STATE"))
    reject(ReasonCode.SCOPE_VIOLATION, sign_payload(usa, sa_type, [s["USA.STATE"]]),
           "USA.STATE sending in the bilateral (JPN, AUS) scope")
    narrow = _payload(sa, r=_set("label.releasable_to", ["JPN"]))
    reject(ReasonCode.RELEASABILITY_VIOLATION, sign_payload(narrow, sa_type, [s["JPN.MOFA"]]),
           "bilateral message whose label releases it to JPN only")
    reject(ReasonCode.TOPIC_MISMATCH, good,
           "a valid bilateral strategic assessment read from another topic (replay)",
           topic="accord.bilateral.counter-terrorism")
    extra = _payload(sa, x=_set("body.annex", "not in the schema"))
    reject(ReasonCode.SCHEMA_INVALID, sign_payload(extra, sa_type, [s["JPN.MOFA"]]),
           "body has a member the schema does not define")
    noforn = _payload(sa, c=_set("label.caveats", ["NOFORN"]))
    reject(ReasonCode.UNKNOWN_LABEL_VALUE, sign_payload(noforn, sa_type, [s["JPN.MOFA"]]),
           "label caveat NOFORN is not in the policy")
    retract = SAMPLES[Retract.TYPE]
    foreign = _payload(retract, t=_set("body.target_sender", "AUS.DFAT"))
    reject(ReasonCode.NOT_ORIGINATOR, sign_payload(foreign, Retract.TYPE, [s["JPN.MOFA"]]),
           "JPN.MOFA retracting a message of AUS.DFAT", topic=sample_header(retract).topic)
    return out


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
        "kids": dict(sorted(
            (signer.agency, signer.kid) for name, signer in pki.signers.items()
            if name != "unknown"
        )),
        "vectors": [],
    }
    for vector in vectors:
        files[vector.file] = vector.envelope
        entry: dict[str, Any] = {
            "file": vector.file,
            "expected": vector.expected,
            "description": vector.description,
            "topic": vector.topic,
            "now": vector.now.isoformat().replace("+00:00", "Z"),
        }
        if vector.max_bytes is not None:
            entry["max_bytes"] = vector.max_bytes
        manifest["vectors"].append(entry)
    files["manifest.json"] = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    for country, (_, cert) in pki.roots.items():
        files[f"roots/{country.value}.cert.pem"] = cert.public_bytes(Encoding.PEM)
    return files

