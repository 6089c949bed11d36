"""The receive-cost harness (accord.bench.receive_costs) produces every figure.

A smoke test on small counts: it asserts that each stage is measured and that the
node's own loop delivered every record (the harness raises otherwise), never a speed.
"""

from __future__ import annotations

import gc
import json

import pytest

from accord.bench.receive_costs import STAGES, main


def test_the_harness_reports_every_stage_for_every_round(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--messages", "40", "--batch", "10", "--repeat", "2", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures["us_per_message"]) == set(STAGES)
    assert all(len(rounds) == 2 for rounds in figures["rounds"].values())
    assert all(v > 0 for v in figures["us_per_message"].values())
    assert figures["receiver_msgs_per_core"] > 0
    assert figures["envelope_bytes"] > 2000
    assert figures["heap"] == "node"
    assert set(figures["collector"]) == {"collections", "us_per_message", "longest_ms"}


@pytest.mark.parametrize("heap", ["node", "frozen", "default"])
def test_the_collector_is_given_back_as_it_was(
    heap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (gc.get_threshold(), gc.get_freeze_count())
    assert main(["--messages", "20", "--batch", "10", "--repeat", "1", "--heap", heap]) == 0
    assert f"heap {heap}" in capsys.readouterr().out
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
