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
MANIFEST_V2: dict[str, Any] = json.loads((VECTORS / "v2" / "manifest.json").read_text())


def store() -> TrustStore:
    return TrustStore.from_bundle(VECTORS / MANIFEST["bundle"], roots=MANIFEST["roots"])


def test_vectors_are_reproducible() -> None:
    generated = build_vectors()
    # v2/ holds random HPKE encapsulations: generated once, checked by conformance runs.
    on_disk = {
        str(p.relative_to(VECTORS)): p.read_bytes()
        for p in VECTORS.rglob("*")
        if p.is_file() and p.relative_to(VECTORS).parts[0] != "v2"
    }
    assert generated == on_disk


def test_every_reason_has_a_vector() -> None:
    expected = {v["expected"] for v in [*MANIFEST["vectors"], *MANIFEST_V2["vectors"]]}
    # Exchange-level codes (the receiver's, beyond the envelope alone).
    wanted = {r.value for r in ReasonCode} - {"not-entitled", "header-mismatch", "replay"}
    assert wanted <= expected
    assert "valid" in expected


def test_every_rule_has_a_vector_that_breaks_it_first() -> None:
    tagged = {v["rule"] for v in MANIFEST["vectors"] if v["rule"] is not None}
    assert tagged == {r.id for r in (*rules.RULES, *rules.BAT_RULES)}
    for vector in MANIFEST["vectors"]:
        if vector["rule"] is not None:
            rule = rules.by_id(vector["rule"])
            reasons = {r.value for r in (rule.reason, *rule.also)}
            assert vector["expected"] in reasons, vector["id"]


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=lambda v: v["id"])
def test_vector(vector: dict[str, Any]) -> None:
    verdict = verify(
        (VECTORS / vector["file"]).read_bytes(),
        store(),
        topic=vector["topic"],
        now=datetime.fromisoformat(vector["now"]),
        max_bytes=vector["max_bytes"],
    )
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
    every_ca = [
        kid_of(c)
        for c in x509.load_pem_x509_certificates(
            b"".join(
                re.findall(
                    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", bundle, re.DOTALL
                )
            )
        )
        if is_ca(c)
    ]
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


def test_v2_has_one_reject_vector_per_enc_rule_with_its_reason() -> None:
    rejects = {v["rule"]: v["expected"] for v in MANIFEST_V2["vectors"] if v["expected"] != "valid"}
    assert {k: v for k, v in rejects.items() if k.startswith("ENC-")} == {
        r.id: r.reason.value for r in rules.ENC_RULES
    }
    # and the order across the decrypt boundary: a label rule before any key
    assert rejects["ENV-41"] == "releasability-violation"


def test_v2_has_a_batched_record_and_one_outside_its_tree() -> None:
    by_id = {v["id"]: v for v in MANIFEST_V2["vectors"]}
    assert by_id["valid/v2-batch-2-of-3"]["expected"] == "valid"
    assert by_id["reject/BAT-04-v2-payload-of-another-leaf"]["rule"] == "BAT-04"
    record = json.loads((VECTORS / "v2" / by_id["valid/v2-batch-2-of-3"]["file"]).read_bytes())
    assert record["payload"].startswith('{"header":')
    assert list(record["signatures"][0]) == ["protected", "batch"]


def test_v2_valid_vectors_give_the_plaintext_digest_for_one_and_ten_recipients() -> None:
    valid = [v for v in MANIFEST_V2["vectors"] if v["expected"] == "valid"]
    assert [v["id"] for v in valid] == [
        "valid/v2-one-recipient",
        "valid/v2-ten-recipients",
        "valid/v2-batch-2-of-3",
        "valid/v2-need-to-know",
    ]
    assert all(re.fullmatch(r"[0-9a-f]{64}", v["plaintext_sha256"]) for v in valid)


def test_v2_folder_says_its_keys_are_test_only() -> None:
    assert "TEST KEYS ONLY" in MANIFEST_V2["description"]
    assert "TEST KEYS ONLY" in (VECTORS / "v2" / "README.md").read_text()
