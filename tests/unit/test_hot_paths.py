"""The hot-path comparison harness (accord.bench.hot_paths) prints its three figures.

A smoke test on a small count: each figure is measured (the node's loop raises if it
did not deliver every record), never a speed.
"""

from __future__ import annotations

import json

import pytest

from accord.bench.hot_paths import main


def test_one_json_line_with_the_three_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--messages", "60", "--label", "this tree"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["label"] == "this tree"
    assert all(line[figure] > 0 for figure in ("verify", "receiver", "publisher"))
