"""Broker crash, leader failover and a wedged consumer, on brokers these tests own."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.soak import broker_crash, failover, render, stuck
from accord.trust.pki import Pki

# Each scenario bounds its own waits; the longer per-test limit lets those fail
# with the scenario's notes on a slow machine instead of a bare pytest timeout.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]


async def test_broker_sigkill_loses_and_duplicates_nothing(workdir: Path, soak_pki: Pki) -> None:
    result = await broker_crash.run(workdir, messages=2_000, pki=soak_pki)
    print(render([result]))
    assert result.faults == 1
    assert result.acknowledged + result.failed == result.sent == 2_000
    assert result.acknowledged > 0
    assert len(result.delivered) >= 2  # every entitled inbox checked, at least two
    assert all(n >= result.acknowledged for n in result.delivered.values())
    assert result.lost == 0
    assert result.inbox_duplicates == 0
    assert result.unexpected == 0
    assert result.quarantined == {}
    assert result.ok


async def test_leader_failover_then_refusal_below_min_isr(workdir: Path, soak_pki: Pki) -> None:
    # settle_s well under the per-test limit: a stall fails with the notes, not a hang.
    result = await failover.run(workdir, messages=1_500, pki=soak_pki, settle_s=120)
    print(render([result]))
    assert result.faults == 2
    assert result.acknowledged == result.sent == 1_500  # the survivors took over
    assert len(result.delivered) >= 2
    assert result.lost == 0
    assert result.inbox_duplicates == 0
    assert result.unexpected == 0
    assert result.refusal is not None, "a publish with 1 of 3 nodes was accepted"
    assert "min.insync.replicas" in result.refusal
    # A publisher started with 1 of 3 nodes starts or fails within its deadline
    # (5 s here) plus its bounded close; it never hangs waiting for a producer id.
    assert result.figures["start_with_1_of_3_s"] < 20
    assert result.ok


async def test_receiver_rebuilds_a_stalled_consumer_by_itself(workdir: Path, soak_pki: Pki) -> None:
    result = await stuck.run(workdir, messages=600, pki=soak_pki, stall_timeout_s=5.0)
    print(render([result]))
    assert result.recoveries >= 1
    assert all(v >= 1 for k, v in result.figures.items() if k.startswith("metric_recoveries"))
    assert result.lost == 0
    assert result.inbox_duplicates == 0
    assert all(n == result.acknowledged for n in result.delivered.values())
    assert result.ok
