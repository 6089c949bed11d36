from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from _accord_pki import header_for, now, pki, sealed
from hypothesis import given
from hypothesis import strategies as st

from accord.envelope import (
    Header,
    Rejected,
    Verified,
    cosign,
    jws,
    new_message_id,
    payload_bytes,
    seal,
    sign_payload,
    uuid7_time_ms,
    verify,
)
from accord.envelope.jws import Unsigned, label_bytes, sign_record, unsigned
from accord.envelope.samples import SAMPLES, sample_label
from accord.errors import ReasonCode, Refused
from accord.models import MESSAGE_TYPES, Retract, StrategicAssessment
from accord.parties import Scope
from accord.trust import TrustStore

SA = StrategicAssessment.TYPE


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def reason(verdict: object) -> ReasonCode:
    assert isinstance(verdict, Rejected), verdict
    assert not verdict.detail.startswith("internal error"), verdict.detail
    return verdict.reason


def edited_payload(type_name: str, edit: Any, sender: str | None = None) -> bytes:
    sample = SAMPLES[type_name]
    header = header_for(sample)
    doc = json.loads(
        payload_bytes(
            header, sample_label(sample.sender, sample.scope, at=header.issued_at), sample.body
        )
    )
    edit(doc)
    return json.dumps(doc, separators=(",", ":")).encode()


@pytest.mark.parametrize("type_name", sorted(MESSAGE_TYPES))
def test_round_trip_every_type(type_name: str) -> None:
    envelope, header = sealed(type_name)
    verdict = verify(envelope, pki().trust_store(), topic=header.topic)
    assert isinstance(verdict, Verified), verdict
    assert verdict.header == header
    assert verdict.body == SAMPLES[type_name].body
    assert verdict.signers == (SAMPLES[type_name].sender,)
    outer = json.loads(envelope)
    assert verdict.payload == b64d(outer["payload"])  # the exact signed bytes
    assert len(verdict.payload_sha256) == 64


def test_the_builder_hashes_the_payload_the_verifier_hashes() -> None:
    # The publisher acknowledges and announces by Unsigned.payload_sha256, hashed
    # before the payload was encoded; receipts come back with Verified.payload_sha256.
    sample = SAMPLES[SA]
    header = header_for(sample)
    label = sample_label(sample.sender, sample.scope, at=header.issued_at)
    item = unsigned(header, label, sample.body, pki().signer(sample.sender))
    verdict = verify(sign_record(pki().signer(sample.sender), item), pki().trust_store())
    assert isinstance(verdict, Verified), verdict
    assert item.payload_sha256 == verdict.payload_sha256
    assert item.payload_sha256 != Unsigned(item.protected_b64, item.payload, False).payload_sha256


def test_protected_header_format() -> None:
    envelope, _ = sealed()
    outer = json.loads(envelope)
    protected = json.loads(b64d(outer["signatures"][0]["protected"]))
    signer = pki().signer("JPN.MOFA")
    assert protected == {
        "alg": "EdDSA",
        "kid": signer.kid,
        "typ": "accord+jws",
        "cty": SA,
        "x5t#S256": b64(bytes.fromhex(signer.kid)),
    }


def test_cosign_and_verify() -> None:
    envelope, header = sealed()
    both = cosign(envelope, pki().signer("AUS.DFAT"), pki().trust_store())
    verdict = verify(both, pki().trust_store(), topic=header.topic)
    assert isinstance(verdict, Verified)
    assert verdict.signers == ("JPN.MOFA", "AUS.DFAT")
    with pytest.raises(Refused):
        cosign(both, pki().signer("AUS.DFAT"), pki().trust_store())


def test_cosigner_outside_scope_is_refused() -> None:
    envelope, _ = sealed()
    both = cosign(envelope, pki().signer("USA.STATE"), pki().trust_store())
    assert reason(verify(both, pki().trust_store())) is ReasonCode.SCOPE_VIOLATION


def test_every_cosignature_must_verify() -> None:
    envelope, _ = sealed()
    doc = json.loads(cosign(envelope, pki().signer("AUS.DFAT"), pki().trust_store()))
    doc["signatures"][1]["signature"] = doc["signatures"][0]["signature"]
    tampered = json.dumps(doc).encode()
    assert reason(verify(tampered, pki().trust_store())) is ReasonCode.BAD_SIGNATURE


def test_seal_refuses_what_verify_would() -> None:
    sample = SAMPLES[SA]
    header = header_for(sample)
    label = sample_label("JPN.MOFA", Scope.BILATERAL, at=header.issued_at)
    with pytest.raises(Refused) as err:
        seal(header, label, sample.body, pki().signer("AUS.DFAT"))
    assert err.value.reason is ReasonCode.SENDER_MISMATCH
    narrow = label.model_copy(update={"releasable_to": (label.releasable_to[0],)})
    with pytest.raises(Refused) as err:
        seal(header, narrow, sample.body, pki().signer("JPN.MOFA"))
    assert err.value.reason is ReasonCode.RELEASABILITY_VIOLATION
    moved = header.model_copy(update={"topic": "accord.bilateral.counter-terrorism"})
    with pytest.raises(Refused) as err:
        seal(moved, label, sample.body, pki().signer("JPN.MOFA"))
    assert err.value.reason is ReasonCode.TOPIC_MISMATCH


# -- one test per rejection reason --------------------------------------------------


def test_oversized() -> None:
    envelope, _ = sealed()
    assert reason(verify(envelope, pki().trust_store(), max_bytes=100)) is ReasonCode.OVERSIZED


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b"{}",
        b'{"payload":"x"}',
        b"\xff\xfe",
        b'{"payload":1,"signatures":[]}',
        b'{"payload":"a","signatures":[{"protected":"a","signature":"b","header":{}}]}',
        b'{"payload":"a","payload":"a","signatures":[]}',
        b"[" * 100_000,
    ],
)
def test_malformed(raw: bytes) -> None:
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.MALFORMED


def _resigned_with_header(protected: dict[str, Any], signer: str = "JPN.MOFA") -> bytes:
    envelope, _ = sealed()
    payload = json.loads(envelope)["payload"]
    p64 = b64(json.dumps(protected).encode())
    sig = pki().signer(signer).sign(f"{p64}.{payload}".encode())
    return json.dumps(
        {"payload": payload, "signatures": [{"protected": p64, "signature": b64(sig)}]}
    ).encode()


def _protected(**changes: Any) -> dict[str, Any]:
    header = {"alg": "EdDSA", "kid": pki().signer("JPN.MOFA").kid, "typ": "accord+jws", "cty": SA}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


@pytest.mark.parametrize("alg", ["none", "HS256", "ES256", "RS256", "Ed25519", "eddsa"])
def test_unsupported_alg(alg: str) -> None:
    verdict = verify(_resigned_with_header(_protected(alg=alg)), pki().trust_store())
    assert reason(verdict) is ReasonCode.UNSUPPORTED_ALG


@pytest.mark.parametrize(
    "changes",
    [
        {"crit": ["b64"], "b64": False},
        {"jku": "https://attacker.example/keys"},
        {"x5u": "https://attacker.example/cert"},
        {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}},
        {"x5c": ["MIIB"]},
        {"typ": "JWT"},
        {"kid": None},
        {"alg": None},
        {"zip": "DEF"},
        {"x5t#S256": "AAAA"},
    ],
)
def test_protected_header_rules(changes: dict[str, Any]) -> None:
    verdict = verify(_resigned_with_header(_protected(**changes)), pki().trust_store())
    assert reason(verdict) is ReasonCode.MALFORMED


def test_unknown_key() -> None:
    envelope, _ = sealed()
    assert reason(verify(envelope, TrustStore())) is ReasonCode.UNKNOWN_KEY
    verdict = verify(_resigned_with_header(_protected(kid="00" * 32)), pki().trust_store())
    assert reason(verdict) is ReasonCode.UNKNOWN_KEY


def test_bad_signature_on_payload_change() -> None:
    envelope, _ = sealed()
    doc = json.loads(envelope)
    payload = b64d(doc["payload"]).replace(b"Korean Peninsula", b"Korean peninsula")
    doc["payload"] = b64(payload)
    assert reason(verify(json.dumps(doc).encode(), pki().trust_store())) is (
        ReasonCode.BAD_SIGNATURE
    )


def test_untrusted_issuer_when_root_missing() -> None:
    envelope, _ = sealed()
    store = TrustStore()
    store.add_certificate(pki().signer("JPN.MOFA").certificate)
    for country, root in pki().trust_store().roots():
        if country.value != "JPN":
            store.add_root(root)
    assert reason(verify(envelope, store)) is ReasonCode.UNTRUSTED_ISSUER


def test_expired_cert_now_and_at_issue() -> None:
    envelope, _ = sealed()
    later = now() + timedelta(days=400)
    assert reason(verify(envelope, pki().trust_store(), now=later)) is ReasonCode.EXPIRED_CERT
    sample = SAMPLES[SA]
    old = header_for(sample).model_copy(update={"issued_at": now() - timedelta(days=30)})
    label = sample_label(sample.sender, sample.scope, at=old.issued_at)
    raw = seal(old, label, sample.body, pki().signer("JPN.MOFA"))
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.EXPIRED_CERT


def test_sender_mismatch() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["header"]["sender"] = doc["label"]["originator"] = "JPN.MOD"

    raw = sign_payload(edited_payload(SA, edit), SA, [pki().signer("JPN.MOFA")])
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.SENDER_MISMATCH


def test_label_originator_mismatch() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["label"]["originator"] = "JPN.MOD"

    raw = sign_payload(edited_payload(SA, edit), SA, [pki().signer("JPN.MOFA")])
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.SENDER_MISMATCH


def test_scope_violation() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["header"]["sender"] = doc["label"]["originator"] = "USA.STATE"

    raw = sign_payload(edited_payload(SA, edit), SA, [pki().signer("USA.STATE")])
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.SCOPE_VIOLATION


@pytest.mark.parametrize("releasable", [["JPN"], ["JPN", "AUS", "USA"]])
def test_releasability_violation(releasable: list[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["label"]["releasable_to"] = releasable

    raw = sign_payload(edited_payload(SA, edit), SA, [pki().signer("JPN.MOFA")])
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.RELEASABILITY_VIOLATION


def test_topic_mismatch_replay_and_inconsistent_header() -> None:
    envelope, _ = sealed()
    verdict = verify(envelope, pki().trust_store(), topic="accord.trilateral.strategic-assessments")
    assert reason(verdict) is ReasonCode.TOPIC_MISMATCH

    def edit(doc: dict[str, Any]) -> None:
        doc["header"]["topic"] = "accord.bilateral.counter-terrorism"

    raw = sign_payload(edited_payload(SA, edit), SA, [pki().signer("JPN.MOFA")])
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.TOPIC_MISMATCH


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["body"].update(extra=1),
        lambda d: d["body"].pop("title"),
        lambda d: d["header"].update(issued_at="2026-01-15T09:00:00"),  # naive
        lambda d: d["header"].update(sequence="1"),  # strict: no coercion
        lambda d: d["header"].update(message_id="00000000-0000-4000-8000-000000000000"),  # v4
        lambda d: d["header"].update(type="accord.retract.v1"),  # disagrees with cty
        lambda d: d["body"].update(title="x" * 301),
    ],
)
def test_schema_invalid(edit: Any) -> None:
    raw = sign_payload(edited_payload(SA, edit), SA, [pki().signer("JPN.MOFA")])
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.SCHEMA_INVALID


def test_unknown_cty_is_schema_invalid() -> None:
    raw = sign_payload(
        edited_payload(SA, lambda d: None), "accord.unknown.v9", [pki().signer("JPN.MOFA")]
    )
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.SCHEMA_INVALID


def test_duplicate_member_in_payload_is_refused() -> None:
    payload = edited_payload(SA, lambda d: None)
    raw = sign_payload(
        payload.replace(b'{"header":', b'{"label":{},"header":', 1), SA, [pki().signer("JPN.MOFA")]
    )
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.MALFORMED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("policy", "nato-2020"),
        ("classification", "TOP SECRET"),
        ("caveats", ["NOFORN"]),
        ("releasable_to", ["JPN", "CHN"]),
    ],
)
def test_unknown_label_value(field: str, value: Any) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["label"][field] = value

    raw = sign_payload(edited_payload(SA, edit), SA, [pki().signer("JPN.MOFA")])
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.UNKNOWN_LABEL_VALUE


def test_not_originator() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["body"]["target_sender"] = "AUS.DFAT"

    raw = sign_payload(edited_payload(Retract.TYPE, edit), Retract.TYPE, [pki().signer("JPN.MOFA")])
    assert reason(verify(raw, pki().trust_store())) is ReasonCode.NOT_ORIGINATOR


def test_revoked_and_cache_invalidated_by_crl(tmp_path: Any) -> None:
    from accord.trust.pki import provision

    own = provision(tmp_path, ["JPN.MOFA", "AUS.DFAT"])
    sample = SAMPLES[SA]
    header = header_for(sample)
    raw = seal(
        header,
        sample_label("JPN.MOFA", Scope.BILATERAL, at=header.issued_at),
        sample.body,
        own.signer("JPN.MOFA"),
    )
    store = own.trust_store()
    assert isinstance(verify(raw, store), Verified)  # fills the per-kid cache
    own.directory.revoke("JPN.MOFA")
    crl = own.directory._crl(next(c for c, _ in store.roots() if c.value == "JPN"))
    assert crl is not None
    store.add_crl(crl)
    assert reason(verify(raw, store)) is ReasonCode.REVOKED


def test_header_create_derives_topic() -> None:
    h = Header.create(
        SA, sender="JPN.MOFA", scope=Scope.BILATERAL, area=SAMPLES[SA].area, sequence=3
    )
    assert h.topic == "accord.bilateral.strategic-assessments"
    r = Header.create(
        "accord.receipt.v1",
        sender="AUS.DFAT",
        scope=Scope.BILATERAL,
        area=SAMPLES[SA].area,
        sequence=0,
    )
    assert r.topic == "accord.receipts"


def test_uuid7() -> None:
    ids = [new_message_id() for _ in range(5000)]
    assert all(i.version == 7 for i in ids)
    assert all(i.variant == "specified in RFC 4122" for i in ids)
    assert ids == sorted(ids, key=lambda u: u.int)
    assert len(set(ids)) == len(ids)
    assert abs(uuid7_time_ms(ids[0]) / 1000 - now().timestamp()) < 5


def test_naive_now_is_a_caller_error() -> None:
    envelope, _ = sealed()
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(envelope, pki().trust_store(), now=now().replace(tzinfo=None))


def test_cosign_verifies_the_envelope_first() -> None:
    envelope, _ = sealed()
    doc = json.loads(envelope)
    doc["signatures"][0]["signature"] = "A" + doc["signatures"][0]["signature"][1:]
    forged = json.dumps(doc, separators=(",", ":")).encode()
    with pytest.raises(Refused) as err:
        cosign(forged, pki().signer("AUS.DFAT"), pki().trust_store())
    assert err.value.reason is ReasonCode.BAD_SIGNATURE
    assert err.value.rule == "ENV-23"


def test_rejected_keeps_reason_and_detail_and_adds_the_rule() -> None:
    verdict = verify(b"[]", pki().trust_store())
    assert isinstance(verdict, Rejected)
    assert verdict.reason is ReasonCode.MALFORMED
    assert verdict.detail
    assert verdict.rule == "ENV-03"
    assert Rejected(ReasonCode.MALFORMED, "x").rule is None  # existing callers unchanged


@given(st.binary(max_size=300))
def test_the_base64url_codec_is_rfc_4648s_without_padding(data: bytes) -> None:
    # The envelope's encoder and canonical decoder (pybase64) against the standard
    # library's definition, on every length class.
    text = jws._b64e(data)
    assert text == b64(data)
    assert jws._canonical_b64url(text)
    assert jws._decode_canonical(text) == data
    assert jws._decoded_if_canonical(text) == data


# Text near base64url: its alphabet, the standard alphabet's '+' and '/', padding,
# whitespace, a non-ASCII letter and other ASCII, at every length class.
_NEAR_BASE64URL = st.text(st.sampled_from("AQgwEIMUYcks048BZz9-_+/= \n.\x00é"), max_size=40)


@given(_NEAR_BASE64URL)
def test_the_one_pass_check_and_decode_agree_with_the_check_then_the_decode(
    text: str,
) -> None:
    # ENV-06 checks a payload and decodes it in one pass (jws._decoded_if_canonical):
    # the same texts refused, and the same bytes for the rest.
    expected = jws._decode_canonical(text) if jws._canonical_b64url(text) else None
    assert jws._decoded_if_canonical(text) == expected


def test_each_label_is_written_with_its_own_bytes_however_labels_alternate() -> None:
    # label_bytes keeps the last label's bytes by identity: labels that alternate, and
    # an equal label that is another object, each get the bytes of their own JSON.
    sample = SAMPLES["accord.strategic-assessment.v1"]
    first = sample_label(sample.sender, sample.scope)
    second = first.model_copy(update={"legal_basis": "Another basis under the same law."})
    twin = first.model_copy()
    for label in (first, second, first, twin, second, twin):
        assert label_bytes(label) == label.model_dump_json().encode()
    assert label_bytes(first) is label_bytes(first)  # kept, not written again
