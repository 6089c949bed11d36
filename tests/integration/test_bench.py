"""``accord bench`` smoke run: every figure is produced and consistent (no timing asserts)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from accord.bench import deployed as bench_deployed
from accord.bench import equal_bytes, latency, produce_batch, send_api
from accord.bench import peer as bench_peer
from accord.bench import pipeline as bench_pipeline
from accord.bench import stages as stages_of
from accord.bench.run import TARGETS, BenchOptions, medians, run_once, targets
from accord.broker import LocalBroker
from accord.cli.bench import _table, bench_command
from accord.kafka import clients
from accord.node.heap import YOUNG_THRESHOLD
from accord.observability.logs import configure_logging
from accord.trust.pki import Pki

pytestmark = pytest.mark.kafka

SMALL = BenchOptions(messages=300, rate=200.0, seconds=1.0, ed25519_loops=300, warmup=50)


async def test_bench_figures_are_complete_and_consistent(
    kafka: LocalBroker, session_pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each timed arm runs this process's collector as the publishing node does.
    tuned: list[str] = []
    for module in (bench_pipeline, bench_deployed, bench_peer):
        real = module.tune_node_heap
        monkeypatch.setattr(
            module, "tune_node_heap", lambda m=module, r=real: tuned.append(m.__name__) or r()
        )
    f = await run_once(kafka.connection(), tmp_path, SMALL, session_pki, broker_pid=kafka.pid)
    assert {m.__name__ for m in (bench_pipeline, bench_deployed, bench_peer)} <= set(tuned)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    # Everything published was delivered, once, and nothing was refused.
    assert f["pipeline_deliveries"] == f["pipeline_deliveries_expected"] == 300
    assert f["paced_deliveries"] == f["paced_deliveries_expected"] == 200
    assert f["pipeline_rejected"] == f["paced_rejected"] == 0
    for key in (
        "raw_msgs_per_s",
        "pipeline_msgs_per_s",
        "paced_msgs_per_s",
        "sign_per_s",
        "verify_per_s",
        "ratio_b_a",
        "peak_rss_mib",
        "peer1_msgs_per_s",
        "peer2_msgs_per_s",
    ):
        assert f[key] > 0, key
    # The latency run as deployed: every paced message landed at the other process.
    assert f["paced_deployed_landed"] == f["paced_deployed_messages"] == 200
    # ... split by the disk's part in its tail: each share and count within bounds.
    assert 0 <= f["paced_deployed_share_waited"] <= 1
    assert (f["paced_deployed_slow_commits"] == 0) == (f["paced_deployed_share_waited"] == 0)
    assert f["paced_deployed_p99_others_ms"] > 0 or f["paced_deployed_share_waited"] == 1
    # ... and the peer's, paced at the same rate in its two processes.
    assert f["paced_peer2_landed"] == f["paced_peer2_messages"] == 200
    runs = ("raw", "pipeline", "paced", "deployed", "paced_deployed", "peer1", "peer2")
    for run in (*runs, "paced_peer2"):
        assert 0 < f[f"{run}_p50_ms"] <= f[f"{run}_p99_ms"], run
    assert f["ratio_b_a"] == pytest.approx(f["pipeline_msgs_per_s"] / f["raw_msgs_per_s"])
    assert f["envelope_bytes"] > SMALL.body_size
    assert 0 <= f["paced_histogram_le_50ms"] <= 1
    assert medians([f, f]) == f
    # The peer, one process and two: every timed message landed in its SQLite store.
    assert f["peer1_landed"] == f["peer2_landed"] == f["peer2_messages"] == 300
    for part in (
        "peer1_cpu_us_per_msg_process",
        "peer2_cpu_us_per_msg_publisher",
        "peer2_cpu_us_per_msg_subscriber",
    ):
        assert f[part] > 0, part
    # The broker's CPU comes in clock ticks (10 ms), and 300 of the peer's records can
    # cost it less than one: measured, but possibly zero, and then no ratio of it.
    assert f["peer2_cpu_us_per_msg_broker"] >= 0
    if f["peer2_cpu_us_per_msg_broker"] > 0:
        assert f["ratio_cpu_broker_peer2"] == pytest.approx(
            f["cpu_us_per_msg_broker"] / f["peer2_cpu_us_per_msg_broker"]
        )
    else:
        assert "ratio_cpu_broker_peer2" not in f
    # accord over the peer, and the per-node rates, from the figures they divide.
    assert f["ratio_deployed_peer2"] == pytest.approx(
        f["deployed_msgs_per_s"] / f["peer2_msgs_per_s"]
    )
    assert f["ratio_cpu_receiver_peer2"] == pytest.approx(
        f["cpu_us_per_msg_receiver"] / f["peer2_cpu_us_per_msg_subscriber"]
    )
    assert f["receiver_msgs_per_core"] == pytest.approx(1e6 / f["cpu_us_per_msg_receiver"])
    # Every target is judged, with a margin whose sign says met or missed.
    assert set(targets(f)) == {t.key for t in TARGETS}
    for t in TARGETS:
        assert t.met(f) == (t.margin(f) >= 0), t.name
    # The printed table has a row per run and a verdict per target.
    table = _table(f, SMALL, [f])
    for row in (
        "accord deployed, signed",
        "peer (FastStream), two processes",
        "paced peer (2 processes) at 200 msgs/s",
        "accord / peer (x)",
        "per node, msgs/s per busy core",
        "of messages waited on an inbox commit over 10 ms",
        "receiving node's loop, accord deployed signed: on a core",
        "subscriber's loop, peer (two processes): on a core",
    ):
        assert row in table, row
    for t in TARGETS:
        verdict = "met" if t.met(f) else "MISSED"
        assert any(t.name in line and verdict in line for line in table.splitlines()), t.name
    # With rounds, each round's accord / peer ratios, in order; none with one round.
    rounds = _table(f, SMALL, [f, {**f, "ratio_cpu_receiver_peer2": 9.87}])
    receiver = f["ratio_cpu_receiver_peer2"]
    assert f"receiver CPU {receiver:.2f} 9.87" in rounds
    assert "in each round" not in table
    # (b) as deployed: every timed message landed in the separate node's inbox.
    assert f["deployed_landed"] == f["deployed_messages"] == 300
    assert 0 < f["deployed_p50_ms"] <= f["deployed_p99_ms"]
    parts = [f[f"cpu_us_per_msg_{p}"] for p in ("publisher", "receiver", "broker")]
    assert all(p > 0 for p in parts)
    assert f["cpu_us_per_msg_total"] == pytest.approx(sum(parts))
    assert f["cpu_ceiling_msgs_per_s"] == pytest.approx(f["cores"] * 1e6 / sum(parts))
    # Where each receiving loop spent the run: four shares of its wall time.
    for loop in ("deployed_node_", "peer2_node_"):
        shares = [f[loop + s] for s in ("on_core", "waiting_for_core", "syncing", "other")]
        assert all(0 <= s <= 1 for s in shares), loop
        assert sum(shares) == pytest.approx(1.0), loop
        assert f[loop + "on_core"] > 0, loop
    assert f["pipeline_cpu_us_per_msg_process"] > 0
    # signed + encrypted (envelope v2), side by side: all delivered, decrypted, none refused
    assert f["encrypted_deliveries"] == f["encrypted_deliveries_expected"] == 300
    assert f["encrypted_rejected"] == 0
    assert f["ratio_encrypted_signed"] == pytest.approx(
        f["encrypted_msgs_per_s"] / f["pipeline_msgs_per_s"]
    )
    assert f["encrypted_cpu_us_per_msg_process"] > 0
    assert f["encrypted_record_bytes"] > SMALL.body_size
    assert f["raw_cpu_us_per_msg_process"] > 0
    assert f["pipeline_cpu_us_per_msg_broker"] > 0


def test_bench_command_prints_json(kafka: LocalBroker) -> None:
    try:
        result = CliRunner().invoke(
            bench_command,
            [
                "--bootstrap",
                kafka.bootstrap_servers,
                "--messages",
                "200",
                "--rate",
                "200",
                "--seconds",
                "0.5",
                "--ed25519-loops",
                "200",
                "--warmup",
                "0",
                "--fetch-wait-ms",
                "0",
                "--peer-heap",
                "node",
                "--json",
            ],
        )
    finally:
        # The command configures logging onto the runner's (now closed) stderr.
        configure_logging("INFO", stream=sys.stderr)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["median"]["pipeline_deliveries"] == 200
    assert out["median"]["paced_deliveries"] == 100
    assert len(out["runs"]) == 1
    assert out["options"]["fetch_wait_ms"] == 0  # the run used the option given
    assert out["median"]["deployed_landed"] == 200
    assert "cpu_us_per_msg_broker" not in out["median"]  # not our process to measure
    assert set(out["targets"]) == set(out["target_margins"]) == {t.key for t in TARGETS}
    assert out["median"]["peer2_landed"] == 200  # its subscriber took --node-heap
    assert out["options"]["peer_heap"] == "node"
    assert "peer2_cpu_us_per_msg_broker" not in out["median"]


def test_bench_command_measures_a_bootstrap_brokers_cpu_given_its_pid(
    kafka: LocalBroker,
) -> None:
    args = ["--bootstrap", kafka.bootstrap_servers, "--broker-pid", str(kafka.pid)]
    sizes = ["--messages", "200", "--rate", "200", "--seconds", "0.5"]
    quick = ["--ed25519-loops", "200", "--warmup", "0", "--variant", "signed", "--json"]
    try:
        result = CliRunner().invoke(bench_command, [*args, *sizes, *quick])
    finally:
        configure_logging("INFO", stream=sys.stderr)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["options"]["broker_pid"] == kafka.pid
    # Read from the named process, as for a broker the bench starts itself.
    for key in ("cpu_us_per_msg_broker", "peer2_cpu_us_per_msg_broker"):
        assert out["median"][key] >= 0, key
    assert out["median"]["pipeline_cpu_us_per_msg_broker"] > 0


async def test_latency_rows_cover_every_rate(
    kafka: LocalBroker, session_pki: Pki, tmp_path: Path
) -> None:
    rows = await latency.measure(
        kafka.connection(),
        tmp_path,
        session_pki,
        [20.0, 40.0],
        seconds=1.0,
        warmup=10,
        broker_pid=kafka.pid,
        peer=True,
    )
    # accord's row, then the peer's at the same rate, for each rate in order
    assert [(r["who"], r["rate"], r["messages"]) for r in rows] == [
        ("accord", 20.0, 20),
        ("peer", 20.0, 20),
        ("accord", 40.0, 40),
        ("peer", 40.0, 40),
    ]
    for r in rows:
        assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"]
        receiving = "receiver" if r["who"] == "accord" else "subscriber"
        assert set(r["cpu_us_per_message"]) == {"publisher", receiving, "broker"}
    table = latency.render(rows, 1.0, 100).splitlines()
    assert table[3].split()[:2] == ["20", str(rows[0]["p50_ms"])]
    assert table[4].split()[:2] == ["20", str(rows[1]["p50_ms"])]
    assert "peer: " in table[4]


async def test_latency_stages_split_each_landed_message_in_order(
    kafka: LocalBroker, session_pki: Pki, tmp_path: Path
) -> None:
    run = await bench_deployed.deployed_run(
        kafka.connection(), tmp_path, session_pki, 30, warmup=10, rate=30.0, stages=True
    )
    assert len(run.stages) == len(run.latencies) == 30
    for issued, record, poll, land_started, landed in run.stages:
        assert issued - 0.001 <= record <= poll <= land_started < landed  # ms timestamps
    stages = stages_of.split(run.stages)
    assert list(stages) == list(stages_of.STAGES)
    assert all(0 <= p50 <= p99 for p50, p99 in stages.values())
    assert stages["commit"][0] > 0  # the inbox transaction, with its sync
    stalls = stages_of.commit_stalls(run.stages)
    assert 0 <= stalls["messages_waited"] <= 30
    assert (stalls["slow_commits"] == 0) == (stalls["messages_waited"] == 0)
    assert stalls["p99_others_ms"] <= max(run.latencies) * 1000 + 0.1


async def test_produce_batch_rows_alternate_the_two_sizes(
    kafka: LocalBroker, session_pki: Pki, tmp_path: Path
) -> None:
    accord_size = clients.PRODUCE_BATCH_BYTES
    rows = await produce_batch.measure(
        kafka.connection(),
        tmp_path,
        session_pki,
        rounds=1,
        messages=200,
        warmup=10,
        broker_pid=kafka.pid,
    )
    assert [r["batch_bytes"] for r in rows] == [accord_size, produce_batch.AIOKAFKA_DEFAULT]
    assert accord_size == clients.PRODUCE_BATCH_BYTES  # restored after the runs
    for r in rows:
        assert r["msgs_per_s"] > 0
        assert {"publisher", "receiver", "broker"} <= r.keys()
    table = produce_batch.render(rows, 200).splitlines()
    assert table[3].split()[:2] == [str(accord_size), str(rows[0]["msgs_per_s"])]


async def test_send_api_rows_alternate_the_two_ways(kafka: LocalBroker) -> None:
    rows = await send_api.measure(kafka.connection(), rounds=2, messages=300)
    assert [(r["way"], r["round"]) for r in rows] == [
        ("send", 0),
        ("send_batch", 0),
        ("send", 1),
        ("send_batch", 1),
    ]
    assert all(r["cpu_us_per_record"] > 0 and r["records_per_s"] > 0 for r in rows)
    table = send_api.render(rows, 300).splitlines()
    assert [line.split()[0] for line in table[3:5]] == ["send", "send_batch"]


async def test_equal_bytes_runs_the_peer_at_accords_record_length(kafka: LocalBroker) -> None:
    result = await equal_bytes.measure(200, 1, kafka.connection().bootstrap_servers)
    sizes = result["record_bytes"]
    assert isinstance(sizes, dict)
    accord_bytes, same_body, same_bytes = (sizes[name] for name in equal_bytes.RUNS)
    assert same_body < accord_bytes <= same_bytes < accord_bytes + 3
    assert bench_peer.peer_record_size(equal_bytes.BODY_BYTES) == same_body
    median = result["median"]
    assert isinstance(median, dict)
    for name in equal_bytes.RUNS:
        # --bootstrap: the broker is not a process of this run, so no broker figure
        assert median[name].keys() == {"msgs_per_s", "publisher", "receiver"}
        assert all(value > 0 for value in median[name].values())
    table = equal_bytes.render(result).splitlines()
    assert [line.split()[-4] for line in table[4:7]] == [
        f"{median[name]['msgs_per_s']:.0f}" for name in equal_bytes.RUNS
    ]
    assert table[8].startswith("accord / peer, same body: throughput ")


def test_equal_bytes_without_a_broker_says_so_in_one_line() -> None:
    # A process of its own, as a user runs it: the command sets up logging for itself.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "accord.bench.equal_bytes",
            "--bootstrap",
            "127.0.0.1:1",
            "--messages",
            "10",
            "--rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    err = done.stderr.splitlines()
    assert err[-2].startswith("error [broker-error]: ")
    assert err[-1] == (
        "hint: check that --bootstrap names a reachable PLAINTEXT broker, or leave it out"
    )
    assert "Traceback" not in done.stderr
