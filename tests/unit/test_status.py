"""`accord status` errors and the pieces of a status reading that need no broker
(the reading itself is tested on the real broker in tests/integration/test_status_on_kafka.py)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from accord.cli.main import _register, cli
from accord.config import load_node_settings
from accord.status import PartitionStatus, commit_metadata
from accord.status.groups import _committed_at

_register()
PLAN_FILE = Path(__file__).resolve().parents[2] / "deploy" / "plan.yaml"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


def test_no_broker_is_one_line_and_exit_2() -> None:
    port = _closed_port()
    result = CliRunner().invoke(
        cli,
        [
            "--log-json",
            "status",
            "--plan",
            str(PLAN_FILE),
            "--bootstrap",
            f"127.0.0.1:{port}",
            "--timeout",
            "5",
        ],
    )
    assert result.exit_code == 2
    assert f"error [broker-error]: cannot reach the broker at 127.0.0.1:{port}" in result.output
    assert "hint: " in result.output
    assert "Traceback" not in result.output


def test_unknown_agency_is_refused_before_any_network() -> None:
    result = CliRunner().invoke(
        cli,
        ["status", "--plan", str(PLAN_FILE), "--agency", "XXX.NOPE", "--bootstrap", "127.0.0.1:1"],
    )
    assert result.exit_code == 2
    assert result.output.startswith("error [")
    assert "Traceback" not in result.output


def test_commit_metadata_round_trip() -> None:
    at = datetime(2026, 11, 30, 8, 0, 1, tzinfo=UTC)
    assert _committed_at(commit_metadata(at)) == at
    assert _committed_at("") is None
    assert _committed_at("something else") is None
    assert _committed_at("accord:committed-at=not a time") is None
    assert _committed_at("accord:committed-at=2026-11-30T08:00:01") is None  # no zone


def test_lag_counts_everything_when_the_group_never_committed() -> None:
    assert PartitionStatus("t", 0, committed=None, end=7).lag == 7
    assert PartitionStatus("t", 0, committed=5, end=7).lag == 2
    assert PartitionStatus("t", 0, committed=9, end=7).lag == 0  # after truncation


def test_metrics_address_is_loopback_unless_configured() -> None:
    env = {"ACCORD_METRICS_PORT": "9100"}
    assert load_node_settings("JPN.MOFA", env=env).metrics_host == "127.0.0.1"
    env["ACCORD_METRICS_HOST"] = "0.0.0.0"
    assert load_node_settings("JPN.MOFA", env=env).metrics_host == "0.0.0.0"
    assert load_node_settings("JPN.MOFA", env=env, metrics_host="::1").metrics_host == "::1"


def test_text_and_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from accord.cli.status import _echo_json, _echo_text
    from accord.status import GroupStatus, Member

    at = datetime(2026, 11, 30, 8, 0, 1, tzinfo=UTC)
    g = GroupStatus(
        agency="JPN.NPA",
        group="accord.node.jpn.npa",
        state="Stable",
        members=(Member("m-1", "accord-JPN.NPA", "/127.0.0.1"),),
        partitions=(
            PartitionStatus("accord.bilateral.dialogue", 0, 3, 5, at),
            PartitionStatus("accord.bilateral.dialogue", 1, None, 2),
        ),
    )
    _echo_text(g)
    _echo_json(g)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "JPN.NPA  group accord.node.jpn.npa  Stable  lag 4  members: accord-JPN.NPA@/127.0.0.1"
    )
    assert lines[1] == (
        "  accord.bilateral.dialogue[0]  committed 3  end 5  lag 2  "
        "last commit 2026-11-30T08:00:01+00:00"
    )
    assert lines[2] == "  accord.bilateral.dialogue[1]  committed -  end 2  lag 2  last commit -"
    first = json.loads(lines[3])
    assert first == {
        "agency": "JPN.NPA",
        "group": "accord.node.jpn.npa",
        "state": "Stable",
        "topic": "accord.bilateral.dialogue",
        "partition": 0,
        "committed": 3,
        "end": 5,
        "lag": 2,
        "last_commit": "2026-11-30T08:00:01+00:00",
        "members": [{"member_id": "m-1", "client_id": "accord-JPN.NPA", "host": "/127.0.0.1"}],
    }
    assert json.loads(lines[4])["committed"] is None
