"""Co-signing an encrypted envelope (SPEC 8 and 11.5): the co-signer verifies header,
label and ciphertext and signs the same payload text; it needs no key and learns
nothing of the body, and every recipient still opens the result."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from accord.confidentiality import (
    ContentEncryptor,
    EncryptionKeyPair,
    KeyDirectory,
    Keyring,
    resolve_recipients,
    sign_key_statement,
)
from accord.envelope import Verified, seal
from accord.envelope.jws import Sealed
from accord.envelope.samples import SAMPLES, sample_header, sample_label
from accord.envelope.v2 import cosign_sealed, open_sealed, seal_encrypted, verify_sealed
from accord.errors import ReasonCode, Refused
from accord.trust.pki import Pki, provision

AGENCIES = ("AUS.DFAT", "JPN.MOD", "JPN.MOFA")
SAMPLE = SAMPLES["accord.strategic-assessment.v1"]  # JPN.MOFA, bilateral
SECRET = "a sentence the co-signer never reads"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return provision(tmp_path_factory.mktemp("pki"), AGENCIES)


def _encrypted(pki: Pki) -> tuple[bytes, bytes, Keyring]:
    """A v2 record from JPN.MOFA to AUS.DFAT (and itself); AUS.DFAT's keyring."""
    trust, now = pki.trust_store(), datetime.now(UTC)
    keys = {a: EncryptionKeyPair.generate() for a in ("AUS.DFAT", "JPN.MOFA")}
    directory = KeyDirectory(trust)
    for agency, key in keys.items():
        directory.add(sign_key_statement(pki.signer(agency), key.public), now=now)
    recipients = resolve_recipients(keys, directory, now=now)
    cwk, announcement = ContentEncryptor(pki.signer("JPN.MOFA")).cwk_for(recipients, now=now)
    assert announcement is not None
    header = sample_header(SAMPLE, issued_at=now)
    label = sample_label(SAMPLE.sender, SAMPLE.scope, at=now)
    body = SAMPLE.body.model_copy(update={"summary": SECRET})
    record = seal_encrypted(header, label, body, pki.signer("JPN.MOFA"), cwk)
    return record, announcement, Keyring("AUS.DFAT", [keys["AUS.DFAT"]])


def test_a_co_signer_without_keys_signs_and_the_recipient_still_reads(pki: Pki) -> None:
    record, announcement, dfat = _encrypted(pki)
    trust = pki.trust_store()
    # JPN.MOD vouches for the message; it holds no encryption key at all.
    cosigned = cosign_sealed(record, pki.signer("JPN.MOD"), trust)
    assert SECRET.encode() not in cosigned
    sealed = verify_sealed(cosigned, trust)
    assert isinstance(sealed, Sealed)
    assert sealed.signers == ("JPN.MOFA", "JPN.MOD")
    # The same payload text: the receipts' digest does not change.
    assert json.loads(cosigned)["payload"] == json.loads(record)["payload"]
    original = verify_sealed(record, trust)
    assert isinstance(original, Sealed)
    assert sealed.payload_sha256 == original.payload_sha256
    dfat.open(announcement, trust, now=datetime.now(UTC))
    opened = open_sealed(sealed, dfat)
    assert opened.body.summary == SECRET  # type: ignore[attr-defined]
    assert opened.signers == ("JPN.MOFA", "JPN.MOD")


def test_a_co_signer_refuses_what_does_not_verify_and_signs_once(pki: Pki) -> None:
    record, _, _ = _encrypted(pki)
    trust = pki.trust_store()
    # The ciphertext's version byte (0x01: its base64url starts "A") changed after signing.
    tampered = record.replace(b'\\"enc\\":\\"A', b'\\"enc\\":\\"B', 1)
    assert tampered != record
    with pytest.raises(Refused) as bad:
        cosign_sealed(tampered, pki.signer("JPN.MOD"), trust)
    assert bad.value.reason is ReasonCode.BAD_SIGNATURE
    once = cosign_sealed(record, pki.signer("JPN.MOD"), trust)
    with pytest.raises(Refused) as twice:
        cosign_sealed(once, pki.signer("JPN.MOD"), trust)
    assert (twice.value.reason, twice.value.rule) == (ReasonCode.MALFORMED, "ENV-16")


def test_a_plaintext_envelope_is_co_signed_as_before(pki: Pki) -> None:
    header = sample_header(SAMPLE, issued_at=datetime.now(UTC))
    label = sample_label(SAMPLE.sender, SAMPLE.scope, at=header.issued_at)
    plain = seal(header, label, SAMPLE.body, pki.signer("JPN.MOFA"))
    cosigned = cosign_sealed(plain, pki.signer("AUS.DFAT"), pki.trust_store())
    verdict = verify_sealed(cosigned, pki.trust_store())
    assert isinstance(verdict, Verified)
    assert verdict.signers == ("JPN.MOFA", "AUS.DFAT")
