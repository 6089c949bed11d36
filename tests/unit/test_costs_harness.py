"""The publisher-cost harness (accord.bench.costs) produces every figure.

A smoke test on small counts: every row is measured, and the whole publisher runs
with and without its announcements and one publish() a message; it asserts no speed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from accord.bench.costs import Fixture, main
from accord.receipts.build import acknowledgement, group_for_receipts, receipt_group


def test_the_harness_reports_every_row_and_the_whole_publisher_four_ways(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--messages", "512", "--rounds", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert {c["name"] for c in figures["costs"]} >= {
        "sequence + sent log (SQLite)",
        "signature (per record -> per batch)",
        "trace bound per publish()",
        "acknowledgements (one call a receipt)",
    }
    assert all(c["before_us"] > 0 and c["after_us"] > 0 for c in figures["costs"])
    assert set(figures["publisher_us"]) == {
        "per-message",
        "batched",
        "batched, no announcements",
        "batched, one publish() a message",
    }
    assert all(us > 0 for us in figures["publisher_us"].values())


def test_both_ways_of_building_acknowledgements_give_the_same_receipt_groups(
    tmp_path: Path,
) -> None:
    f = Fixture(tmp_path, 8)
    items = [(h, hashlib.sha256(p).hexdigest()) for h, p in zip(f.headers, f.payloads, strict=True)]
    groups = group_for_receipts(items)
    assert list(groups) == [receipt_group(f.headers[0])]
    assert groups[receipt_group(f.headers[0])] == [acknowledgement(h, d) for h, d in items]
    named = {(h.sender, str(h.message_id)): ("JPN.MOFA",) for h, _ in items[:3]}
    with_readers = group_for_receipts(items, named)[receipt_group(f.headers[0])]
    assert [a.readers for a in with_readers] == [("JPN.MOFA",)] * 3 + [None] * 5
