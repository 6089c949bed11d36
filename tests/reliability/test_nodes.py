"""Receiver crashes, sequence gaps and hostile input, on the session broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.broker import LocalBroker
from accord.soak import gap, hostile, receiver_crash, render
from accord.trust.pki import Pki

pytestmark = pytest.mark.kafka


async def test_five_sigkills_leave_the_inbox_identical_to_what_was_sent(
    kafka: LocalBroker, workdir: Path, soak_pki: Pki
) -> None:
    result = await receiver_crash.run(
        kafka.connection(), workdir, messages=1_500, kills=5, pki=soak_pki
    )
    print(render([result]))
    assert result.faults == 5
    assert result.acknowledged == result.sent == 1_500
    assert result.delivered == {receiver_crash.AGENCY: 1_500}
    assert result.lost == result.unexpected == result.inbox_duplicates == 0


async def test_withheld_messages_show_as_gaps_in_metrics_and_logs(
    kafka: LocalBroker, workdir: Path, soak_pki: Pki
) -> None:
    result = await gap.run(kafka.connection(), workdir, messages=200, withheld=3, pki=soak_pki)
    print(render([result]))
    assert result.lost == 0
    assert len(result.delivered) == 2
    assert result.gaps == 3 * 2  # each of the two receivers notices each hole
    for agency in result.delivered:
        assert result.figures[f"metric_{agency}"] == 3.0
        assert result.figures[f"logged_{agency}"] == 3.0  # "receiver.sequence_gap" warnings


async def test_hostile_records_are_all_quarantined_with_the_right_reason(
    kafka: LocalBroker, workdir: Path
) -> None:
    result = await hostile.run(kafka.connection(), workdir, hostile=1_500)
    print(render([result]))
    assert result.figures["hostile"] == 1_500
    assert result.figures["receiver_alive"] == 1.0  # no crash
    assert result.misclassified == 0, result.notes
    assert sum(result.quarantined.values()) == 1_500
    assert result.lost == result.unexpected == 0  # every valid message, nothing else
    assert result.delivered == {hostile.AGENCY: result.figures["valid"]}
    assert result.peak_rss_mib is not None
    assert result.peak_rss_mib < 512  # generous: a bound, not a benchmark
