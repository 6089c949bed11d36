"""Rotation mid-stream on a real broker: nothing quarantined (issue 13 item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _exchange import fresh_plan, label_for, report

from accord.areas import Area
from accord.broker import LocalBroker
from accord.exchange import LocalExchange
from accord.parties import Scope
from accord.trust import kid_of
from accord.trust.pki import PkiDirectory
from accord.trust.rotation import rotate

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM


async def test_a_key_rotated_mid_stream_quarantines_nothing(
    kafka: LocalBroker, tmp_path: Path
) -> None:
    ex = LocalExchange(plan=fresh_plan(), connection=kafka.connection(), directory=tmp_path)
    ex.apply()
    try:
        # The receiver follows the trust topic itself, as a deployed node does.
        receiver = await ex.start_receiver("JPN.NPA", follow_trust=True)
        pub = await ex.publisher("AUS.AFP")
        old_kid = ex.pki.signer("AUS.AFP").kid
        for i in range(10):
            await pub.publish(report(i), scope=BI, area=CT, label=label_for("AUS.AFP", BI))

        cert = await rotate(
            PkiDirectory(tmp_path / "pki"), "AUS.AFP", ex.connection, ex.plan.trust_topic
        )
        assert ex.pki.signer("AUS.AFP").kid == kid_of(cert) != old_kid

        # At once, without waiting for any receiver: the node signs with the new key.
        await ex.publishers.pop("AUS.AFP").stop()
        pub = await ex.publisher("AUS.AFP")
        for i in range(10, 20):
            await pub.publish(report(i), scope=BI, area=CT, label=label_for("AUS.AFP", BI))

        assert await ex.settle({"JPN.NPA": 20}, within_s=60)
        assert receiver.stats.rejected == {}
        assert receiver.stats.delivered == 20
        assert receiver.inbox.count() == 20
    finally:
        await ex.stop()
