"""The checked-in golden vectors verify as the manifest says, and are up to date."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from accord.envelope import Rejected, Verified, verify
from accord.envelope.vectors import build_vectors
from accord.errors import ReasonCode
from accord.trust import TrustStore

VECTORS = Path(__file__).resolve().parents[2] / "schemas" / "vectors"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text())


def test_vectors_are_reproducible() -> None:
    generated = build_vectors()
    on_disk = {str(p.relative_to(VECTORS)): p.read_bytes() for p in VECTORS.rglob("*")
               if p.is_file()}
    assert generated == on_disk


def test_every_reason_has_a_vector() -> None:
    expected = {v["expected"] for v in MANIFEST["vectors"]}
    wanted = {r.value for r in ReasonCode} - {"not-entitled", "header-mismatch", "replay",
                                           "future-dated"}  # TODO vector
    assert wanted <= expected
    assert "valid" in expected


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=lambda v: v["file"])
def test_vector(vector: dict[str, Any]) -> None:
    store = TrustStore.from_bundle(VECTORS / MANIFEST["bundle"])
    kwargs = {"max_bytes": vector["max_bytes"]} if "max_bytes" in vector else {}
    verdict = verify((VECTORS / vector["file"]).read_bytes(), store, topic=vector["topic"],
                     now=datetime.fromisoformat(vector["now"]), **kwargs)
    if vector["expected"] == "valid":
        assert isinstance(verdict, Verified), verdict
    else:
        assert isinstance(verdict, Rejected)
        assert verdict.reason.value == vector["expected"], verdict.detail
