"""The checked-in conformance vectors verify as the manifest says, and are up to date."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from accord.conformance import rules
from accord.envelope import MAX_BYTES, Rejected, Verified, verify
from accord.envelope.vectors import build_vectors
from accord.errors import ReasonCode
from accord.trust import TrustStore
from accord.trust.certs import is_ca, kid_of

VECTORS = Path(__file__).resolve().parents[2] / "schemas" / "vectors"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text())


def store() -> TrustStore:
    return TrustStore.from_bundle(VECTORS / MANIFEST["bundle"], roots=MANIFEST["roots"])


def test_vectors_are_reproducible() -> None:
    generated = build_vectors()
    on_disk = {str(p.relative_to(VECTORS)): p.read_bytes() for p in VECTORS.rglob("*")
               if p.is_file()}
    assert generated == on_disk


def test_every_reason_has_a_vector() -> None:
    expected = {v["expected"] for v in MANIFEST["vectors"]}
    # Exchange-level codes (the receiver's, beyond the envelope alone).
    wanted = {r.value for r in ReasonCode} - {"not-entitled", "header-mismatch", "replay"}
    # Envelope v2 (confidentiality) codes: their vectors come with the v2 rules.
    wanted -= {"undecryptable", "not-a-recipient", "plaintext-refused"}
    assert wanted <= expected
    assert "valid" in expected


def test_every_rule_has_a_vector_that_breaks_it_first() -> None:
    tagged = {v["rule"] for v in MANIFEST["vectors"] if v["rule"] is not None}
    assert tagged == {r.id for r in rules.RULES}
    for vector in MANIFEST["vectors"]:
        if vector["rule"] is not None:
            assert rules.by_id(vector["rule"]).reason.value == vector["expected"], vector["id"]


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=lambda v: v["id"])
def test_vector(vector: dict[str, Any]) -> None:
    verdict = verify((VECTORS / vector["file"]).read_bytes(), store(), topic=vector["topic"],
                     now=datetime.fromisoformat(vector["now"]), max_bytes=vector["max_bytes"])
    if vector["expected"] == "valid":
        assert isinstance(verdict, Verified), verdict
    else:
        assert isinstance(verdict, Rejected)
        assert not verdict.detail.startswith("internal error"), verdict.detail
        assert verdict.reason.value == vector["expected"], verdict.detail
        assert verdict.rule == vector["rule"], verdict.detail


def test_unpinned_ca_in_the_bundle_is_not_a_root() -> None:
    vector = next(v for v in MANIFEST["vectors"] if v["id"] == "reject/ENV-18-unpinned-ca")
    raw = (VECTORS / vector["file"]).read_bytes()
    now = datetime.fromisoformat(vector["now"])
    assert isinstance(verify(raw, store(), topic=vector["topic"], now=now), Rejected)
    # Every CA of the bundle made a root: the mistake the vector is there to catch.
    bundle = (VECTORS / MANIFEST["bundle"]).read_bytes()
    every_ca = [kid_of(c) for c in x509.load_pem_x509_certificates(
        b"".join(re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n",
                            bundle, re.DOTALL))) if is_ca(c)]
    naive = TrustStore.from_pem(bundle, roots=every_ca)
    assert isinstance(verify(raw, naive, topic=vector["topic"], now=now), Verified)


def test_size_boundary_vectors_sit_at_the_default_max_bytes() -> None:
    """A valid record of exactly the default limit and one byte more, checked in (the
    folder stays small enough to ship: under 3 MB)."""
    by_id = {v["id"]: v for v in MANIFEST["vectors"]}
    at, over = by_id["valid/size-1mib"], by_id["reject/ENV-01-1mib-plus-one"]
    assert at["max_bytes"] == over["max_bytes"] == MAX_BYTES == 1048576
    assert len((VECTORS / at["file"]).read_bytes()) == MAX_BYTES
    assert len((VECTORS / over["file"]).read_bytes()) == MAX_BYTES + 1
    assert sum(p.stat().st_size for p in VECTORS.rglob("*") if p.is_file()) < 3_000_000
