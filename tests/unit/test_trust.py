from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accord.errors import PkiError, ReasonCode, Refused
from accord.parties import Country
from accord.trust import Signer, TrustStore, kid_of
from accord.trust.pki import PkiDirectory, build_crl, create_root, issue_certificate, provision


def test_provision_layout_and_modes(tmp_path: Path) -> None:
    pki = provision(tmp_path, ["JPN.MOFA", "AUS.DFAT"])
    assert pki.bundle_path == tmp_path / "bundle.pem"
    for key in tmp_path.rglob("*.key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (tmp_path / "roots/JPN/ca.cert.pem").exists()
    assert (tmp_path / "roots/AUS/crl.pem").exists()
    assert not (tmp_path / "roots/USA").exists()
    signer = pki.signer("JPN.MOFA")
    assert (tmp_path / "agencies/JPN.MOFA/CURRENT").read_text().strip() == signer.kid
    assert "key" not in repr(signer).lower().replace("kid", "")


def test_kid_is_sha256_of_der(tmp_path: Path) -> None:
    import hashlib

    from cryptography.hazmat.primitives.serialization import Encoding

    signer = provision(tmp_path, ["JPN.MOFA"]).signer("JPN.MOFA")
    assert signer.kid == hashlib.sha256(signer.certificate.public_bytes(Encoding.DER)).hexdigest()


def test_bundle_round_trip(tmp_path: Path) -> None:
    pki = provision(tmp_path, ["JPN.MOFA", "AUS.DFAT", "USA.STATE"])
    store = TrustStore.from_bundle(pki.bundle_path)
    assert store.to_bundle() == pki.trust_store().to_bundle()
    now = datetime.now(UTC)
    for agency in ("JPN.MOFA", "AUS.DFAT", "USA.STATE"):
        assert store.validate(pki.signer(agency).kid, now).agency == agency


def test_certificate_extensions(tmp_path: Path) -> None:
    from cryptography import x509

    cert = provision(tmp_path, ["JPN.MOFA"]).signer("JPN.MOFA").certificate
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:accord:agency:JPN.MOFA"]


def test_crl_must_be_signed_by_trusted_root() -> None:
    key, root = create_root(Country.JPN)
    rogue_key, rogue = create_root(Country.JPN)  # same name, other key
    store = TrustStore()
    store.add_root(root)
    with pytest.raises(PkiError):
        store.add_crl(build_crl(rogue_key, rogue, [], number=1))
    store.add_crl(build_crl(key, root, [], number=1))


def test_country_must_match_root() -> None:
    aus_key, aus_root = create_root(Country.AUS)
    _, cert = issue_certificate("JPN.MOFA", root_key=aus_key, root_cert=aus_root)
    store = TrustStore()
    store.add_root(aus_root)
    kid = store.add_certificate(cert)
    with pytest.raises(Refused) as err:
        store.validate(kid, datetime.now(UTC))
    assert err.value.reason is ReasonCode.UNTRUSTED_ISSUER


def test_rotation_overlaps_then_revoke_old(tmp_path: Path) -> None:
    pki = provision(tmp_path, ["JPN.MOFA"])
    old = pki.signer("JPN.MOFA")
    directory = PkiDirectory(tmp_path)
    directory.issue("JPN.MOFA", rotate=True)
    new = pki.signer("JPN.MOFA")
    assert new.kid != old.kid
    now = datetime.now(UTC)
    store = directory.trust_store()
    assert store.validate(old.kid, now)
    assert store.validate(new.kid, now)
    with pytest.raises(PkiError, match="2 certificates"):
        directory.revoke("JPN.MOFA")
    directory.revoke("JPN.MOFA", kid=old.kid)
    store = directory.trust_store()
    with pytest.raises(Refused) as err:
        store.validate(old.kid, now)
    assert err.value.reason is ReasonCode.REVOKED
    assert store.validate(new.kid, now).kid == new.kid
    assert {r.kid: (r.revoked, r.current) for r in directory.show()} == {
        old.kid: (True, False),
        new.kid: (False, True),
    }


def test_expired_window(tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(days=10)
    key, root = create_root(Country.JPN, not_before=start)
    _, cert = issue_certificate(
        "JPN.MOFA", root_key=key, root_cert=root, not_before=start, valid_days=5
    )
    store = TrustStore()
    store.add_root(root)
    kid = store.add_certificate(cert)
    assert kid == kid_of(cert)
    assert store.validate(kid, start + timedelta(days=1))
    with pytest.raises(Refused) as err:
        store.validate(kid, datetime.now(UTC))
    assert err.value.reason is ReasonCode.EXPIRED_CERT


def test_signer_load_with_passphrase(tmp_path: Path) -> None:
    directory = PkiDirectory(tmp_path)
    directory.init_root(Country.AUS, passphrase=b"root pass")
    directory.issue("AUS.DFAT", passphrase=b"agency pass", ca_passphrase=b"root pass")
    assert directory.signer("AUS.DFAT", passphrase=b"agency pass").agency == "AUS.DFAT"
    with pytest.raises(PkiError) as err:
        directory.signer("AUS.DFAT", passphrase=b"wrong")
    assert "agency pass" not in str(err.value)
    assert "wrong" not in str(err.value)
    with pytest.raises(PkiError):
        directory.issue("AUS.DEFENCE", ca_passphrase=b"nope")


def test_signer_key_must_match_cert(tmp_path: Path) -> None:
    pki = provision(tmp_path, ["JPN.MOFA", "JPN.MOD"])
    a, b = pki.signer("JPN.MOFA"), pki.signer("JPN.MOD")
    with pytest.raises(PkiError):
        Signer.from_key(a._key, b.certificate)


def test_store_refuses_non_accord_material() -> None:
    _, root = create_root(Country.JPN)
    store = TrustStore()
    with pytest.raises(PkiError):
        store.add_certificate(root)  # a CA is not an agency certificate
    with pytest.raises(PkiError):
        TrustStore.from_pem(b"not a bundle")
