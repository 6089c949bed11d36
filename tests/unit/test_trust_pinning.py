"""Roots are pinned by fingerprint; trust-topic records are vetted before publishing;
CRLs are keyed by their root; the feed survives any record and any error."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from _poison import duplicate_extension_certificate, unknown_key_certificate
from accord.config import KafkaConnection, load_node_settings
from accord.errors import PkiError, ReasonCode, Refused
from accord.parties import Country
from accord.trust import TrustStore
from accord.trust.feed import TrustFeed, apply_item, trust_items
from accord.trust.pki import PkiDirectory, provision
from accord.trust.store import ROOTS_FILE


def test_a_bundle_from_pki_bundle_pins_its_own_roots(tmp_path: Path) -> None:
    pki = provision(tmp_path, ["JPN.MOFA", "AUS.DFAT"])
    pins = (tmp_path / ROOTS_FILE).read_text().split()
    store = TrustStore.from_bundle(pki.bundle_path)
    assert sorted(store.root_fingerprints()) == sorted(p for p in pins if len(p) == 64)
    assert store.validate(pki.signer("JPN.MOFA").kid, datetime.now(UTC)).agency == "JPN.MOFA"


def test_an_unpinned_ca_in_the_bundle_is_not_a_root(tmp_path: Path) -> None:
    good = provision(tmp_path / "good", ["JPN.MOFA"])
    rogue = provision(tmp_path / "rogue", ["JPN.MOD"])  # another JPN root, same name
    bundle = good.bundle_path.read_bytes() + rogue.bundle_path.read_bytes()
    pins = good.trust_store().root_fingerprints()
    store = TrustStore.from_pem(bundle, roots=pins)
    assert store.root_fingerprints() == pins
    with pytest.raises(Refused) as err:
        store.validate(rogue.signer("JPN.MOD").kid, datetime.now(UTC))
    assert err.value.reason is ReasonCode.UNTRUSTED_ISSUER
    assert store.validate(good.signer("JPN.MOFA").kid, datetime.now(UTC))


def test_no_pins_means_no_trust(tmp_path: Path) -> None:
    pki = provision(tmp_path, ["JPN.MOFA"])
    (tmp_path / ROOTS_FILE).unlink()
    with pytest.raises(PkiError, match="pinned roots"):
        TrustStore.from_bundle(pki.bundle_path)
    with pytest.raises(PkiError, match="no pinned roots"):
        TrustStore.from_pem(pki.bundle_path.read_bytes(), roots=[])


def test_a_pin_must_be_a_fingerprint_that_is_in_the_bundle(tmp_path: Path) -> None:
    pki = provision(tmp_path, ["JPN.MOFA"])
    with pytest.raises(PkiError, match="not a SHA-256 fingerprint"):
        TrustStore.from_bundle(pki.bundle_path, roots=["JPN"])
    with pytest.raises(PkiError, match="not in the bundle"):
        TrustStore.from_bundle(pki.bundle_path, roots=["ab" * 32])
    pin = pki.trust_store().root_fingerprints()[0]
    colons = ":".join(pin[i : i + 2] for i in range(0, 64, 2)).upper()
    assert TrustStore.from_bundle(pki.bundle_path, roots=[colons]).root_fingerprints() == [pin]


def test_pins_come_from_the_one_config_loader(tmp_path: Path) -> None:
    pin = "ab" * 32
    settings = load_node_settings("JPN.MOFA", env={"ACCORD_TRUSTED_ROOTS": f"{pin}, {pin.upper()}"})
    assert settings.trusted_roots == (pin, pin.upper())
    assert load_node_settings("JPN.MOFA", env={}).trusted_roots is None


def test_crl_keys_are_unique_per_root(tmp_path: Path) -> None:
    a = provision(tmp_path / "a", ["JPN.MOFA"])
    b = provision(tmp_path / "b", ["JPN.MOD"])  # a second JPN root: same issuer name
    key_a = [k for k, _ in trust_items(a.bundle_path.read_bytes()) if k.startswith("crl:")]
    key_b = [k for k, _ in trust_items(b.bundle_path.read_bytes()) if k.startswith("crl:")]
    roots_a = a.trust_store().root_fingerprints()
    assert key_a == [f"crl:{roots_a[0]}"]
    assert key_b != key_a


def test_publish_refuses_what_a_node_could_not_apply(tmp_path: Path) -> None:
    pki = provision(tmp_path / "pki", ["JPN.MOFA"])
    poison = unknown_key_certificate(pki.signer("JPN.MOFA").certificate)
    with pytest.raises(PkiError, match="UnsupportedAlgorithm"):
        trust_items(pki.bundle_path.read_bytes() + poison)
    stranger = PkiDirectory(tmp_path / "stranger")
    stranger.init_root(Country.JPN)
    stranger_crl = (stranger.root_dir(Country.JPN) / "crl.pem").read_bytes()
    with pytest.raises(PkiError, match="not signed by a known root"):
        trust_items(pki.bundle_path.read_bytes() + stranger_crl, pki.trust_store())


def test_apply_item_skips_any_unappliable_record(tmp_path: Path) -> None:
    pki = provision(tmp_path, ["JPN.MOFA"])
    store = pki.trust_store()
    poison = unknown_key_certificate(pki.signer("JPN.MOFA").certificate)
    for value in (
        poison,
        duplicate_extension_certificate(),
        b"-----BEGIN X509 CRL-----\nnot base64\n",
        b"\x00" * 64,
    ):
        what, error = apply_item(store, b"cert:x", value)
        assert what == "rejected"
        assert error
    assert apply_item(
        store, b"k", pki.signer("JPN.MOFA").certificate.public_bytes(Encoding.PEM)
    ) == ("known", None)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_feed_restarts_after_errors_and_stop_never_raises(tmp_path: Path) -> None:
    pki = provision(tmp_path, ["JPN.MOFA"])
    conn = KafkaConnection(bootstrap_servers=f"127.0.0.1:{_closed_port()}", request_timeout_ms=1000)
    feed = TrustFeed(conn, "nowhere.trust", pki.trust_store(), agency="JPN.MOFA")
    await feed.start()
    for _ in range(600):
        if feed.restarts >= 2:
            break
        await asyncio.sleep(0.05)
    assert feed.running
    assert feed.metrics.trust_feed_restarts.labels("JPN.MOFA")._value.get() >= 2
    await feed.stop()
    assert not feed.running
    await feed.stop()  # twice is fine too
