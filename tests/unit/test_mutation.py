"""Mutation adequacy: every rule of SPEC.md's table is pinned by a conformance vector.

For each rule id in schemas/SPEC.md section 5.2, accord's verifier with that one rule
switched off must disagree with the manifest on at least one vector. A new rule in
the spec without a vector that kills it fails here; so does a rule the code does not
actually check, and a rules table that drifts from the spec's.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from accord.conformance import rules
from accord.conformance.reference import answer
from accord.conformance.runner import load_requests
from accord.envelope import Verified, verify
from accord.trust import TrustStore

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "schemas" / "vectors"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text())
V2 = VECTORS / "v2"
MANIFEST_V2: dict[str, Any] = json.loads((V2 / "manifest.json").read_text())
# The reason is the last cell's first code span (ENC-05 and ENC-08 name more than one).
_ROW = re.compile(r"^\| ((?:ENV|ENC|BAT)-\d\d) \| ([^|]+?) \| .* \| [^|`]*`([a-z-]+)`[^|]* \|$")


def spec_rules() -> list[tuple[str, str, str]]:
    """(id, stage, reason) of every row of SPEC.md's rule table, in order."""
    text = (ROOT / "schemas" / "SPEC.md").read_text()
    return [
        (m[1], m[2].split(",")[0].strip(), m[3])
        for line in text.splitlines()
        if (m := _ROW.match(line))
    ]


def test_rules_module_is_the_spec_table() -> None:
    assert spec_rules() == [(r.id, r.stage, r.reason.value) for r in rules.TABLE]
    assert [r.id for r in rules.RULES] == [f"ENV-{i:02d}" for i in range(1, len(rules.RULES) + 1)]
    assert [r.id for r in rules.ENC_RULES] == [f"ENC-{i:02d}" for i in range(1, 10)]
    assert [r.id for r in rules.BAT_RULES] == [f"BAT-{i:02d}" for i in range(1, 5)]


# Pages that name envelope rules. Before SPEC v1.1 rules were numbered R1..R31,
# "step n" and "row n", each page differently; one numbering (ENV-nn) everywhere.
_RULE_PAGES = (
    "README.md",
    "docs/envelope.md",
    "docs/partners.md",
    "schemas/README.md",
    "schemas/SPEC.md",
    "schemas/CONFORMANCE.md",
    "examples/partners/go/README.md",
)
_OLD_NUMBERING = re.compile(r"\bR\d{1,2}\b|\b(?:step|row)s? \d{1,2}\b")


def test_every_page_names_rules_by_their_spec_id() -> None:
    old = {page: _OLD_NUMBERING.findall((ROOT / page).read_text()) for page in _RULE_PAGES}
    assert {page: hits for page, hits in old.items() if hits} == {}
    named = set(
        re.findall(
            r"\b(?:ENV|ENC|BAT)-\d\d\b", " ".join((ROOT / page).read_text() for page in _RULE_PAGES)
        )
    )
    assert named <= {r.id for r in rules.TABLE}


def verdicts() -> dict[str, str]:
    # fresh: no cache
    store = TrustStore.from_bundle(VECTORS / MANIFEST["bundle"], roots=MANIFEST["roots"])
    out = {}
    for vector in MANIFEST["vectors"]:
        verdict = verify(
            (VECTORS / vector["file"]).read_bytes(),
            store,
            topic=vector["topic"],
            now=datetime.fromisoformat(vector["now"]),
            max_bytes=vector["max_bytes"],
        )
        out[vector["id"]] = "valid" if isinstance(verdict, Verified) else verdict.reason.value
    return out


def v2_verdicts() -> dict[str, str]:
    """The v2 suite through the reference verifier, a decrypting node (fresh trust)."""
    stores: dict[tuple[str, tuple[str, ...]], TrustStore] = {}
    out = {}
    for request, _ in load_requests(V2):
        response = answer(request, stores)
        out[request["id"]] = "valid" if response["verdict"] == "accept" else response["reason"]
    return out


def expected_verdicts() -> dict[str, str]:
    return {v["id"]: v["expected"] for v in [*MANIFEST["vectors"], *MANIFEST_V2["vectors"]]}


def test_the_unmutated_verifier_agrees_with_every_vector() -> None:
    assert {**verdicts(), **v2_verdicts()} == expected_verdicts()


@pytest.mark.parametrize("rule_id", [r[0] for r in spec_rules()])
def test_removing_a_rule_fails_a_vector(rule_id: str) -> None:
    expected = expected_verdicts()
    with rules.disabled(rule_id):
        got = {**verdicts(), **v2_verdicts()}
    killed = sorted(k for k in expected if got[k] != expected[k])
    assert killed, f"no vector fails when {rule_id} is switched off: add one that breaks it alone"
