"""Envelope v2 conformance vectors (SPEC.md section 11): signed, encrypted records.

    python -m accord.envelope.vectors_v2   # rewrites schemas/vectors/v2/

The signing PKI is the v1 vectors' (same bundle, same roots, same TEST signing keys);
the encryption keys are X-Wing seeds derived from agency names and published in the
manifest: TEST ONLY. HPKE encapsulation and the body nonces are random, so these
files are generated once and checked in (``accord schemas check`` covers v1 only);
the conformance run, not a byte comparison, is their test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accord.confidentiality.body import encrypt_body
from accord.confidentiality.keys import EncryptionKeyPair
from accord.confidentiality.recipients import Recipient
from accord.confidentiality.wrap import Cwk, seal_cwk
from accord.envelope.batch import sign_batch
from accord.envelope.jws import MAX_BYTES, TYP, payload_bytes, sign_payload
from accord.envelope.samples import ISSUED_AT, SAMPLES, sample_header, sample_label
from accord.envelope.v2 import seal_encrypted, unsigned_encrypted
from accord.envelope.vectors import VERIFY_AT, _b64, _build_pki, _iso, _json
from accord.errors import ReasonCode
from accord.labels import Label
from accord.models import StrategicAssessment
from accord.trust import Signer, x5t_s256

__all__ = ["build_v2_vectors", "encryption_seed"]

READER = "AUS.DFAT"
"""The decrypting agency of every v2 vector."""

# Sender, reader, and eight more: ten recipients in all for the wide vector.
_TEN = (
    "AUS.AFP",
    "AUS.ASIO",
    "AUS.DEFENCE",
    "AUS.DFAT",
    "AUS.ONI",
    "JPN.CAO",
    "JPN.MOD",
    "JPN.MOFA",
    "JPN.NPA",
    "JPN.PSIA",
)


def encryption_seed(agency: str) -> bytes:
    """An agency's TEST X-Wing seed (32 bytes): anyone can derive it, never use it."""
    return hashlib.sha256(
        b"accord test encryption key, not for production: " + agency.encode()
    ).digest()


def _pair(agency: str) -> EncryptionKeyPair:
    return EncryptionKeyPair.from_seed(encryption_seed(agency))


def _cwk(signer: Signer, agencies: tuple[str, ...]) -> tuple[Cwk, bytes]:
    recipients = [Recipient(a, _pair(a).public) for a in agencies]
    return seal_cwk(signer, recipients, now=ISSUED_AT)


def _v2_record(
    payload: bytes, signer: Signer, cty: str, protected: dict[str, Any] | None = None
) -> bytes:
    """A v2 record signed over ``payload`` as given (to build records seal_encrypted refuses)."""
    header = (
        protected
        if protected is not None
        else {
            "alg": "EdDSA",
            "kid": signer.kid,
            "typ": TYP,
            "cty": cty,
            "b64": False,
            "crit": ["b64"],
            "x5t#S256": x5t_s256(signer.kid),
        }
    )
    p64 = _b64(_json(header))
    signature = signer.sign(p64.encode("ascii") + b"." + payload)
    return _json(
        {
            "payload": payload.decode("utf-8"),
            "signatures": [{"protected": p64, "signature": _b64(signature)}],
        }
    )


def build_v2_vectors() -> dict[str, bytes]:
    """Every file of ``schemas/vectors/v2/``, by path relative to it."""
    pki = _build_pki()
    mofa = pki.signers["JPN.MOFA"]
    sa = SAMPLES[StrategicAssessment.TYPE]
    SA = StrategicAssessment.TYPE
    header, label = sample_header(sa), sample_label(sa.sender, sa.scope)
    h, lab = header.model_dump_json().encode(), label.model_dump_json().encode()
    body = sa.body.model_dump_json().encode()
    files: dict[str, bytes] = {}
    vectors: list[dict[str, Any]] = []
    pair = ("AUS.DFAT", "JPN.MOFA")
    entitled = sorted(_TEN)

    def add(
        vid: str,
        record: bytes,
        expected: str,
        rule: str | None,
        description: str,
        announcements: list[bytes],
        *,
        required: bool = False,
        plaintext: bytes | None = None,
    ) -> None:
        file = f"{vid}.jws.json"
        files[file] = record
        names = []
        for i, announcement in enumerate(announcements):
            name = f"{vid}.cwk{i}.jws"
            files[name] = announcement
            names.append(name)
        vectors.append(
            {
                "id": vid,
                "file": file,
                "expected": expected,
                "rule": rule,
                "description": description,
                "topic": header.topic,
                "now": _iso(VERIFY_AT),
                "max_bytes": MAX_BYTES,
                "decrypt": {
                    "agency": READER,
                    "announcements": names,
                    "entitled": entitled,
                    "encryption_required": required,
                },
                **(
                    {"plaintext_sha256": hashlib.sha256(plaintext).hexdigest()}
                    if plaintext is not None
                    else {}
                ),
            }
        )

    cwk, ann = _cwk(mofa, pair)
    good = seal_encrypted(header, label, sa.body, mofa, cwk)
    add(
        "valid/v2-one-recipient",
        good,
        "valid",
        None,
        f"a strategic assessment from JPN.MOFA encrypted to {READER} (and the sender)",
        [ann],
        plaintext=body,
    )
    cwk10, ann10 = _cwk(mofa, _TEN)
    add(
        "valid/v2-ten-recipients",
        seal_encrypted(header, label, sa.body, mofa, cwk10),
        "valid",
        None,
        "the same message under a CWK shared with ten agencies",
        [ann10],
        plaintext=body,
    )

    # Batch signatures (SPEC 12) over v2 records: the leaf is the unencoded signing
    # input, so the tree covers the encrypted records.
    batch = sign_batch(
        mofa,
        [
            unsigned_encrypted(sample_header(sa, sequence=i), label, sa.body, mofa, cwk)
            for i in range(3)
        ],
    )
    add(
        "valid/v2-batch-2-of-3",
        batch[1],
        "valid",
        None,
        "record 2 of a batch of 3 encrypted records signed with one root by JPN.MOFA",
        [ann],
        plaintext=body,
    )
    swapped = json.loads(batch[1])
    swapped["payload"] = json.loads(batch[2])["payload"]
    add(
        "reject/BAT-04-v2-payload-of-another-leaf",
        _json(swapped),
        ReasonCode.BAD_SIGNATURE.value,
        "BAT-04",
        "record 2's root, index and path with record 3's payload",
        [ann],
    )

    payload = json.loads(good)["payload"].encode("utf-8")
    M = ReasonCode.MALFORMED
    # ENC-01: the one spelling: an escape the minimal escaping never writes
    # (\u0041 for A in the payload); the signed payload text is unchanged.
    at = good.index(b'"payload":"') + 11
    at = good.index(b"A", at)
    add(
        "reject/ENC-01-extra-escape",
        good[:at] + b"\\u0041" + good[at + 1 :],
        M.value,
        "ENC-01",
        "a valid v2 record with one A of its payload spelt \\u0041",
        [ann],
    )
    # ENC-02: signed over the unencoded payload without b64 false / crit.
    v1_protected = {
        "alg": "EdDSA",
        "kid": mofa.kid,
        "typ": TYP,
        "cty": SA,
        "x5t#S256": x5t_s256(mofa.kid),
    }
    add(
        "reject/ENC-02-no-b64-false",
        _v2_record(payload, mofa, SA, v1_protected),
        M.value,
        "ENC-02",
        "a v2 payload under a protected header without b64 false and crit",
        [ann],
    )
    # ENC-03: a member after enc.
    add(
        "reject/ENC-03-extra-member",
        _v2_record(payload[:-1] + b',"x":1}', mofa, SA),
        M.value,
        "ENC-03",
        'a v2 payload with a member after "enc"',
        [ann],
    )
    # ENC-04: a valid v1 record where the plan requires encryption.
    v1 = sign_payload(payload_bytes(header, label, sa.body), SA, [mofa])
    add(
        "reject/ENC-04-plaintext",
        v1,
        ReasonCode.PLAINTEXT_REFUSED.value,
        "ENC-04",
        "a valid v1 record read by a node whose plan requires encryption",
        [],
        required=True,
    )
    # ENC-05: the announcement leaves the reader out.
    cwk5, ann5 = _cwk(mofa, ("JPN.MOD", "JPN.MOFA"))
    add(
        "reject/ENC-05-not-announced-to-reader",
        seal_encrypted(header, label, sa.body, mofa, cwk5),
        ReasonCode.NOT_A_RECIPIENT.value,
        "ENC-05",
        f"a CWK announced to JPN.MOD and the sender only, read by {READER}",
        [ann5],
    )
    # ENC-06: shared beyond the entitled agencies.
    cwk6, ann6 = _cwk(mofa, ("AUS.DFAT", "JPN.MOFA", "USA.STATE"))
    add(
        "reject/ENC-06-shared-beyond-entitled",
        seal_encrypted(header, label, sa.body, mofa, cwk6),
        ReasonCode.RELEASABILITY_VIOLATION.value,
        "ENC-06",
        "a CWK also shared with USA.STATE, which the plan does not entitle",
        [ann6],
    )
    # ENC-07: the body encrypted under another label (AAD), then signed as sent.
    other = label.model_dump_json().replace('"SECRET"', '"TOP SECRET"', 1).encode()
    if other == lab:
        other = lab[:-1] + b" }"
    enc = encrypt_body(cwk, header.message_id, header=h, label=other, plaintext=body)
    add(
        "reject/ENC-07-aad-mismatch",
        _v2_record(
            b'{"header":' + h + b',"label":' + lab + b',"enc":"' + _b64(enc).encode() + b'"}',
            mofa,
            SA,
        ),
        ReasonCode.UNDECRYPTABLE.value,
        "ENC-07",
        "a body encrypted with AAD over another label than the one sent",
        [ann],
    )
    # ENC-08: the plaintext is not a valid body.
    bad = json.loads(body)
    bad["annex"] = "x"
    enc8 = encrypt_body(cwk, header.message_id, header=h, label=lab, plaintext=_json(bad))
    add(
        "reject/ENC-08-body-invalid",
        _v2_record(
            b'{"header":' + h + b',"label":' + lab + b',"enc":"' + _b64(enc8).encode() + b'"}',
            mofa,
            SA,
        ),
        ReasonCode.SCHEMA_INVALID.value,
        "ENC-08",
        "a well-encrypted body that is not valid against the strategic assessment schema",
        [ann],
    )

    _need_to_know_vectors(add, mofa)
    _order_vectors(add, mofa)

    manifest = {
        "description": "accord envelope v2 conformance vectors. TEST KEYS ONLY: the "
        "signing keys are the v1 vectors', the encryption keys the X-Wing seeds below "
        "(published on purpose; never use them). Verify each record with the bundle, "
        "topic and time given, after opening its announcements as decrypt.agency.",
        "bundle": "../bundle.pem",
        "roots": pki.pinned,
        "decryption_keys": {
            a: base64.b64encode(encryption_seed(a)).decode("ascii") for a in (READER,)
        },
        "encryption_public_keys": {a: _pair(a).ekid for a in sorted({*_TEN, "USA.STATE"})},
        "vectors": vectors,
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    return files


def _need_to_know_vectors(add: Callable[..., None], mofa: Signer) -> None:
    """``label.need_to_know`` read by a node (SPEC 11.4): ENC-06 narrowed, ENC-09."""
    sa = SAMPLES[StrategicAssessment.TYPE]
    SA = StrategicAssessment.TYPE
    header = sample_header(sa)
    label = sample_label(sa.sender, sa.scope)
    body = sa.body.model_dump_json().encode()

    def listing(*agencies: str) -> Label:
        return label.model_copy(update={"need_to_know": agencies})

    trio = ("AUS.DFAT", "JPN.MOD", "JPN.MOFA")
    cwk, ann = _cwk(mofa, trio)
    add(
        "valid/v2-need-to-know",
        seal_encrypted(header, listing("AUS.DFAT", "JPN.MOD"), sa.body, mofa, cwk),
        "valid",
        None,
        f"need_to_know [AUS.DFAT, JPN.MOD] of ten entitled agencies: the CWK is shared "
        f"with those two and the sender only; read by {READER}",
        [ann],
        plaintext=body,
    )
    add(
        "reject/ENC-06-beyond-need-to-know",
        seal_encrypted(header, listing("AUS.DFAT"), sa.body, mofa, cwk),
        ReasonCode.RELEASABILITY_VIOLATION.value,
        "ENC-06",
        "need_to_know [AUS.DFAT] but the CWK is also shared with JPN.MOD (entitled by "
        "the plan, not on the list)",
        [ann],
    )
    v1 = sign_payload(payload_bytes(header, listing("JPN.MOD"), sa.body), SA, [mofa])
    add(
        "reject/ENC-09-v1-not-on-list",
        v1,
        ReasonCode.NOT_A_RECIPIENT.value,
        "ENC-09",
        f"a valid plaintext (v1) record with need_to_know [JPN.MOD], read by {READER} "
        "(encryption not required)",
        [],
    )
    cwk9, ann9 = _cwk(mofa, ("JPN.MOD", "JPN.MOFA"))
    add(
        "reject/ENC-09-v2-not-on-list",
        seal_encrypted(header, listing("JPN.MOD"), sa.body, mofa, cwk9),
        ReasonCode.NOT_A_RECIPIENT.value,
        "ENC-09",
        f"need_to_know [JPN.MOD], CWK announced to JPN.MOD and the sender, read by "
        f"{READER}: refused on the label, before the announcement is looked at",
        [ann9],
    )


def _order_vectors(add: Callable[..., None], mofa: Signer) -> None:
    """Header and label rules come before decryption (SPEC 11): a record that breaks
    one AND is not for the reader gets the header or label rule's reason."""
    sa = SAMPLES[StrategicAssessment.TYPE]
    header = sample_header(sa)
    h = header.model_dump_json().encode()
    label = sample_label(sa.sender, sa.scope).model_copy(
        update={"need_to_know": ("AUS.DFAT", "USA.STATE")}
    )
    lab = label.model_dump_json().encode()
    cwk, ann = _cwk(mofa, ("JPN.MOD", "JPN.MOFA"))
    body = sa.body.model_dump_json().encode()
    enc = encrypt_body(cwk, header.message_id, header=h, label=lab, plaintext=body)
    add(
        "reject/ENV-41-v2-before-decryption",
        _v2_record(
            b'{"header":' + h + b',"label":' + lab + b',"enc":"' + _b64(enc).encode() + b'"}',
            mofa,
            StrategicAssessment.TYPE,
        ),
        ReasonCode.RELEASABILITY_VIOLATION.value,
        "ENV-41",
        f"order: a bilateral label whose need_to_know names USA.STATE (ENV-41), under a CWK "
        f"not announced to {READER} (ENC-09 and ENC-05 would say not-a-recipient)",
        [ann],
    )


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "schemas/vectors/v2")
    for name, data in build_v2_vectors().items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
