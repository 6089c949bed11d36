"""The bench's ratios and medians when a CPU reading is zero: a short run's broker
CPU comes in clock ticks (10 ms) and can read none."""

from __future__ import annotations

import pytest

from accord.bench.run import medians, ratios

FIGURES = {
    "pipeline_msgs_per_s": 2800.0,
    "raw_msgs_per_s": 30000.0,
    "peer1_msgs_per_s": 2900.0,
    "deployed_msgs_per_s": 4300.0,
    "peer2_msgs_per_s": 4350.0,
    "pipeline_cpu_us_per_msg_process": 340.0,
    "peer1_cpu_us_per_msg_process": 330.0,
    "cpu_us_per_msg_publisher": 124.0,
    "cpu_us_per_msg_receiver": 202.0,
    "cpu_us_per_msg_broker": 34.0,
    "peer2_cpu_us_per_msg_publisher": 136.0,
    "peer2_cpu_us_per_msg_subscriber": 211.0,
    "peer2_cpu_us_per_msg_broker": 14.0,
}


def test_the_broker_ratio_is_taken_when_the_peers_broker_read_some_cpu() -> None:
    r = ratios(FIGURES)
    assert r["ratio_cpu_broker_peer2"] == pytest.approx(34.0 / 14.0)
    assert r["receiver_msgs_per_core"] == pytest.approx(1e6 / 202.0)


def test_a_broker_that_read_no_tick_gives_no_ratio_rather_than_a_crash() -> None:
    r = ratios({**FIGURES, "peer2_cpu_us_per_msg_broker": 0.0})
    assert "ratio_cpu_broker_peer2" not in r
    assert r["ratio_cpu_receiver_peer2"] == pytest.approx(202.0 / 211.0)


def test_medians_keep_what_every_round_has_and_take_the_ratios_again() -> None:
    with_ratio = {**FIGURES, **ratios(FIGURES)}
    zero = {**FIGURES, "peer2_cpu_us_per_msg_broker": 0.0}
    without = {**zero, **ratios(zero)}
    assert "ratio_cpu_broker_peer2" not in without
    for order in ([with_ratio, without, with_ratio], [without, with_ratio, with_ratio]):
        m = medians(order)
        assert m["peer2_cpu_us_per_msg_broker"] == 14.0
        assert m["ratio_cpu_broker_peer2"] == pytest.approx(34.0 / 14.0)
    assert "ratio_cpu_broker_peer2" not in medians([without, without, with_ratio])
