"""The publisher-cost harness (accord.bench.costs) produces every figure.

A smoke test on small counts: every row is measured, and the whole publisher runs
with and without its announcements and one publish() a message; it asserts no speed.
"""

from __future__ import annotations

import json

import pytest

from accord.bench.costs import main


def test_the_harness_reports_every_row_and_the_whole_publisher_four_ways(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--messages", "512", "--rounds", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert {c["name"] for c in figures["costs"]} >= {
        "sequence + sent log (SQLite)",
        "signature (per record -> per batch)",
        "trace bound per publish()",
    }
    assert all(c["before_us"] > 0 and c["after_us"] > 0 for c in figures["costs"])
    assert set(figures["publisher_us"]) == {
        "per-message",
        "batched",
        "batched, no announcements",
        "batched, one publish() a message",
    }
    assert all(us > 0 for us in figures["publisher_us"].values())
