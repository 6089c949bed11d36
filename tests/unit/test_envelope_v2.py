"""Envelope v2 (SPEC.md section 11): signed header, label and ciphertext; verified
without decrypting, opened only by a recipient."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.confidentiality import (
    ContentEncryptor,
    EncryptionKeyPair,
    KeyDirectory,
    Keyring,
    recipient_agencies,
    resolve_recipients,
    sign_key_statement,
)
from accord.confidentiality.wrap import Cwk
from accord.envelope import Rejected, Verified, jws, seal, verify
from accord.envelope.jws import Sealed, sign_record
from accord.envelope.samples import SAMPLES, Sample, sample_header, sample_label
from accord.envelope.v2 import open_sealed, seal_encrypted, unsigned_encrypted, verify_sealed
from accord.errors import ReasonCode, Refused
from accord.plan import Plan, load_plan
from accord.trust import TrustStore
from accord.trust.pki import Pki, provision

PLAN_FILE = Path(__file__).resolve().parents[2] / "deploy" / "plan.yaml"
AGENCIES = ("AUS.DFAT", "AUS.DEFENCE", "JPN.MOFA", "JPN.MOD", "USA.STATE")
TYPE = "accord.strategic-assessment.v1"
SECRET = "a sentence only the recipients may read"


@dataclass
class World:
    pki: Pki
    trust: TrustStore
    keys: dict[str, EncryptionKeyPair]
    directory: KeyDirectory
    plan: Plan

    def keyring(self, agency: str) -> Keyring:
        return Keyring(agency, [self.keys[agency]])

    def cwk(self, sender: str, *agencies: str) -> tuple[Cwk, bytes]:
        recipients = resolve_recipients(agencies, self.directory, now=datetime.now(UTC))
        cwk, announcement = ContentEncryptor(self.pki.signer(sender)).cwk_for(recipients)
        assert announcement is not None
        return cwk, announcement


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    pki = provision(tmp_path_factory.mktemp("pki"), AGENCIES)
    trust = pki.trust_store()
    keys = {a: EncryptionKeyPair.generate() for a in AGENCIES}
    directory = KeyDirectory(trust)
    for agency, key in keys.items():
        directory.add(sign_key_statement(pki.signer(agency), key.public), now=datetime.now(UTC))
    return World(pki, trust, keys, directory, load_plan(PLAN_FILE))


def _sample() -> Sample:
    sample = SAMPLES[TYPE]
    body = sample.body.model_copy(update={"summary": SECRET})
    return dataclasses.replace(sample, body=body)


def _entitled(world: World, sample: Sample) -> tuple[str, ...]:
    return recipient_agencies(
        world.plan, sender=sample.sender, scope=sample.scope, area=sample.area
    )


def _sealed(world: World, *agencies: str) -> tuple[bytes, bytes, Sample]:
    sample = _sample()
    header = sample_header(sample, issued_at=datetime.now(UTC))
    label = sample_label(sample.sender, sample.scope, at=header.issued_at)
    recipients = agencies or _entitled(world, sample)
    cwk, announcement = world.cwk(sample.sender, *recipients)
    record = seal_encrypted(header, label, sample.body, world.pki.signer(sample.sender), cwk)
    return record, announcement, sample


def _verify(world: World, record: bytes) -> Sealed:
    verdict = verify_sealed(record, world.trust)
    assert isinstance(verdict, Sealed), verdict
    return verdict


def test_a_recipient_verifies_then_decrypts(world: World) -> None:
    record, announcement, sample = _sealed(world)
    assert SECRET.encode() not in record
    sealed = _verify(world, record)
    assert sealed.header.sender == sample.sender
    for agency in _entitled(world, sample):
        keyring = world.keyring(agency)
        keyring.open(announcement, world.trust, now=datetime.now(UTC))
        verified = open_sealed(sealed, keyring, entitled=_entitled(world, sample))
        assert verified.body == sample.body
        assert verified.payload_sha256 == sealed.payload_sha256


def test_the_builder_hashes_the_payload_the_verifier_hashes(world: World) -> None:
    sample = _sample()
    header = sample_header(sample, issued_at=datetime.now(UTC))
    label = sample_label(sample.sender, sample.scope, at=header.issued_at)
    cwk, _ = world.cwk(sample.sender, *_entitled(world, sample))
    signer = world.pki.signer(sample.sender)
    item = unsigned_encrypted(header, label, sample.body, signer, cwk)
    assert item.payload_sha256 == _verify(world, sign_record(signer, item)).payload_sha256


def test_the_protected_header_commits_to_the_unencoded_payload(world: World) -> None:
    record, _, _ = _sealed(world)
    outer = json.loads(record)
    protected = json.loads(base64.urlsafe_b64decode(outer["signatures"][0]["protected"] + "=="))
    assert protected["b64"] is False
    assert protected["crit"] == ["b64"]
    assert outer["payload"].startswith('{"header":')


def test_a_v1_verifier_refuses_v2_and_v1_records_still_verify(world: World) -> None:
    record, _, sample = _sealed(world)
    v1 = verify(record, world.trust)
    assert isinstance(v1, Rejected)
    assert v1.rule == "ENC-01"
    header = sample_header(sample, issued_at=datetime.now(UTC))
    label = sample_label(sample.sender, sample.scope, at=header.issued_at)
    plain = seal(header, label, sample.body, world.pki.signer(sample.sender))
    assert isinstance(verify_sealed(plain, world.trust), Verified)


def test_an_agency_outside_the_recipients_cannot_read(world: World) -> None:
    # The USA is entitled to nothing bilateral; it is left out of the CWK.
    record, announcement, sample = _sealed(world)
    assert "USA.STATE" not in _entitled(world, sample)
    keyring = world.keyring("USA.STATE")
    with pytest.raises(Refused) as left_out:
        keyring.open(announcement, world.trust, now=datetime.now(UTC))
    assert left_out.value.reason is ReasonCode.NOT_A_RECIPIENT
    with pytest.raises(Refused) as refused:
        open_sealed(_verify(world, record), keyring)
    assert (refused.value.reason, refused.value.rule) == (ReasonCode.NOT_A_RECIPIENT, "ENC-05")


def test_a_narrowed_recipient_set_leaves_an_entitled_agency_out(world: World) -> None:
    record, announcement, sample = _sealed(world, "AUS.DFAT", "JPN.MOFA")
    keyring = world.keyring("JPN.MOD")
    with pytest.raises(Refused):
        keyring.open(announcement, world.trust, now=datetime.now(UTC))
    with pytest.raises(Refused) as refused:
        open_sealed(_verify(world, record), keyring, entitled=_entitled(world, sample))
    assert refused.value.reason is ReasonCode.NOT_A_RECIPIENT


def test_a_cwk_shared_beyond_the_entitled_is_refused(world: World) -> None:
    record, announcement, sample = _sealed(world, *AGENCIES)
    keyring = world.keyring("JPN.MOFA")
    keyring.open(announcement, world.trust, now=datetime.now(UTC))
    with pytest.raises(Refused) as refused:
        open_sealed(_verify(world, record), keyring, entitled=_entitled(world, sample))
    assert (refused.value.reason, refused.value.rule) == (
        ReasonCode.RELEASABILITY_VIOLATION,
        "ENC-06",
    )


def _resign(world: World, payload: str, sender: str) -> bytes:
    """A payload signed properly by ``sender``: only the decryption can tell."""
    from accord.envelope.v2 import _protected

    protected = _protected(world.pki.signer(sender).kid, TYPE)
    signature = world.pki.signer(sender).sign(protected.encode() + b"." + payload.encode())
    return json.dumps(
        {
            "payload": payload,
            "signatures": [
                {
                    "protected": protected,
                    "signature": base64.urlsafe_b64encode(signature).rstrip(b"=").decode(),
                }
            ],
        },
        separators=(",", ":"),
    ).encode()


def test_a_label_swapped_onto_another_ciphertext_fails(world: World) -> None:
    first, announcement, sample = _sealed(world)
    second, announcement2, _ = _sealed(world)
    a = json.loads(first)["payload"]
    b = json.loads(second)["payload"]
    # a's header and label with b's ciphertext, signed again by the true sender
    swapped = a[: a.index(',"enc":"')] + b[b.index(',"enc":"') :]
    sealed = _verify(world, _resign(world, swapped, sample.sender))
    keyring = world.keyring("JPN.MOFA")
    keyring.open(announcement, world.trust, now=datetime.now(UTC))
    keyring.open(announcement2, world.trust, now=datetime.now(UTC))
    with pytest.raises(Refused) as refused:
        open_sealed(sealed, keyring)
    assert (refused.value.reason, refused.value.rule) == (ReasonCode.UNDECRYPTABLE, "ENC-07")


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda p: p.replace('"b64":false', '"b64":true'), "ENC-02"),
        (lambda p: p.replace(',"crit":["b64"]', ""), "ENC-02"),
    ],
)
def test_protected_header_rules(world: World, mutate: object, rule: str) -> None:
    from accord.envelope.v2 import _protected

    record, _, sample = _sealed(world)
    kid = world.pki.signer(sample.sender).kid
    header = base64.urlsafe_b64decode(_protected(kid, TYPE) + "==").decode()
    changed = mutate(header)  # type: ignore[operator]
    outer = json.loads(record)
    outer["signatures"][0]["protected"] = (
        base64.urlsafe_b64encode(changed.encode()).rstrip(b"=").decode()
    )
    verdict = verify_sealed(json.dumps(outer, separators=(",", ":")).encode(), world.trust)
    assert isinstance(verdict, Rejected)
    assert verdict.rule == rule


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.replace('{"header":', '{"header" :', 1),
        lambda p: p.replace(',"enc":"', ',"body":"', 1),
        lambda p: p[:-2] + '=="}',
        lambda p: p[:-2] + '","x":1}',
    ],
)
def test_payload_layout_rule(world: World, mutate: object) -> None:
    record, _, sample = _sealed(world)
    payload = mutate(json.loads(record)["payload"])  # type: ignore[operator]
    verdict = verify_sealed(_resign(world, payload, sample.sender), world.trust)
    assert isinstance(verdict, Rejected), verdict
    assert verdict.rule == "ENC-03", verdict


def test_a_flipped_ciphertext_bit_breaks_the_signature(world: World) -> None:
    record, _, _ = _sealed(world)
    text = record.decode()
    at = text.index(',\\"enc\\":\\"') + 20
    flipped = text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]
    verdict = verify_sealed(flipped.encode(), world.trust)
    assert isinstance(verdict, Rejected)
    assert verdict.reason is ReasonCode.BAD_SIGNATURE


def test_size_overhead_against_signed_only(world: World) -> None:
    # The figure itself is printed by `accord bench`; here: it stays within budget.
    record, _, sample = _sealed(world)
    header = sample_header(sample, issued_at=datetime.now(UTC))
    label = sample_label(sample.sender, sample.scope, at=header.issued_at)
    plain = seal(header, label, sample.body, world.pki.signer(sample.sender))
    assert len(record) - len(plain) <= 512


def _cases(world: World) -> dict[str, tuple[bytes, str]]:
    """In-memory v2 vectors: (record, expected verdict) by name."""
    from accord.envelope.v2 import _protected

    record, _, sample = _sealed(world)
    payload = json.loads(record)["payload"]
    kid = world.pki.signer(sample.sender).kid
    header = base64.urlsafe_b64decode(_protected(kid, TYPE) + "==").decode()
    outer = json.loads(record)
    outer["signatures"][0]["protected"] = (
        base64.urlsafe_b64encode(header.replace('"b64":false', '"b64":true').encode())
        .rstrip(b"=")
        .decode()
    )
    return {
        "valid": (record, "valid"),
        "ENC-02-b64-true": (json.dumps(outer, separators=(",", ":")).encode(), "malformed"),
        "ENC-03-space": (
            _resign(world, payload.replace('{"header":', '{"header" :', 1), sample.sender),
            "malformed",
        ),
    }


@pytest.mark.parametrize("rule_id", ["ENC-01", "ENC-02", "ENC-03"])
def test_removing_a_v2_rule_changes_a_verdict(world: World, rule_id: str) -> None:
    from accord.conformance import rules

    def verdicts() -> dict[str, str]:
        out = {}
        for name, (record, _) in cases.items():
            verdict = verify_sealed(record, world.trust)
            out[name] = (
                "valid"
                if isinstance(verdict, Sealed)
                else verdict.reason.value
                if isinstance(verdict, Rejected)
                else "v1"
            )
        return out

    cases = _cases(world)
    assert verdicts() == {name: expected for name, (_, expected) in cases.items()}
    with rules.disabled(rule_id):
        mutated = verdicts()
    assert mutated != {name: expected for name, (_, expected) in cases.items()}, rule_id


def test_a_v2_record_has_one_spelling_of_its_escapes(world: World) -> None:
    record, _, _ = _sealed(world)
    assert isinstance(_verify(world, record), Sealed)
    # The same payload value, with a quote escaped as \u0022 instead of \": the JSON
    # string means the same, the signature would verify, and it is refused (ENC-01).
    other = record.replace(b'\\"', b"\\u0022", 1)
    assert other != record
    verdict = verify_sealed(other, world.trust, now=datetime.now(UTC))
    assert isinstance(verdict, Rejected)
    assert (verdict.reason, verdict.rule) == (ReasonCode.MALFORMED, "ENC-01")
    # An escape outside the payload: refused too.
    spaced = record.replace(b'"signatures"', b'"sign\\u0061tures"', 1)
    verdict = verify_sealed(spaced, world.trust, now=datetime.now(UTC))
    assert isinstance(verdict, Rejected)
    assert verdict.reason is ReasonCode.MALFORMED


# ENV-02 cuts a v2 payload's string out before counting structure. The cut used a
# regular expression; the json module's C scanner now finds the string's end, and
# must cut exactly where the expression did, for any bytes a sender can write.
_THE_EXPRESSION = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_PIECES = st.sampled_from(
    [
        b"\\",
        b'"',
        b'\\"',
        b"\\\\",
        b"\\u00e9",
        b"\\ud800",
        b"\\x",
        b"\n",
        b"\x00",
        b"\x1f",
        b"\xff",
        b"\xc3\xa9",
        b"\xe2\x80",
        b"{",
        b",",
        b"a",
        b"\t",
    ]
)


@given(st.lists(_PIECES, max_size=16).map(b"".join), st.binary(max_size=8))
def test_the_v2_payload_string_is_cut_where_the_expression_cut_it(
    inside: bytes, after: bytes
) -> None:
    raw = b'{"payload":"{' + inside + after
    match = _THE_EXPRESSION.match(raw, 11)
    expected = raw if match is None else raw[:11] + raw[match.end() :]
    assert jws._without_string_at(raw, 11) == expected


# ENV-02 finds a v2 payload by a regular expression; bytes.find now skips to each
# '"payload"' and the expression's tail is matched there. It must find exactly what
# the expression's own search finds, for any bytes, however many names they hold.
_THE_SEARCH = re.compile(rb'"payload"[ \t\r\n]*:[ \t\r\n]*"\{')
_NEAR_PAYLOADS = st.sampled_from(
    [b'"payload"', b'"payload', b"payload", b":", b'"', b"{", b" ", b"\t", b"\n", b"x", b"\\"]
)


@given(st.lists(_NEAR_PAYLOADS, max_size=24).map(b"".join))
def test_the_v2_payload_is_found_where_the_expression_finds_it(raw: bytes) -> None:
    match = _THE_SEARCH.search(raw)
    assert jws._v2_payload_quote(raw) == (None if match is None else match.end() - 2)


def test_a_record_of_many_payload_names_is_still_searched_to_its_end() -> None:
    # More names than the loop tries before handing over to the expression.
    raw = b'"payload" ' * 50 + b'"payload" : "{}"'
    assert jws._v2_payload_quote(raw) == len(raw) - 4
    assert jws._v2_payload_quote(b'"payload" ' * 50) is None
