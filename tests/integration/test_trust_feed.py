"""Revocations and rotations reach running nodes over the trust topic."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _exchange import fresh_plan, label_for, report

from accord.areas import Area
from accord.broker import LocalBroker
from accord.exchange import LocalExchange
from accord.parties import Scope
from accord.trust.feed import publish_trust
from accord.trust.pki import PkiDirectory

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM


async def test_a_revocation_published_on_the_trust_topic_stops_a_running_node_trusting(
    kafka: LocalBroker, tmp_path: Path
) -> None:
    ex = LocalExchange(plan=fresh_plan(), connection=kafka.connection(), directory=tmp_path)
    ex.apply()
    try:
        feed = await ex.start_trust_feed()
        await ex.start_receivers(["JPN.NPA"])
        pub = await ex.publisher("AUS.AFP")
        await pub.publish(report(1), scope=BI, area=CT, label=label_for("AUS.AFP", BI))
        assert await ex.settle({"JPN.NPA": 1}, within_s=30)

        pki = PkiDirectory(tmp_path / "pki")
        pki.revoke("AUS.AFP", everything=True)
        await publish_trust(ex.connection, ex.plan.trust_topic, pki.trust_store().to_bundle())
        for _ in range(200):
            if feed.applied.get("crl", 0) >= 1:
                break
            await asyncio.sleep(0.05)
        assert feed.applied.get("crl", 0) >= 1
        assert feed.applied.get("rejected", 0) == 0

        # The publisher still holds the key; only the receivers' trust has changed.
        await pub.publish(report(2), scope=BI, area=CT, label=label_for("AUS.AFP", BI))
        receiver = ex.receivers["JPN.NPA"]
        for _ in range(200):
            if receiver.stats.rejected:
                break
            await asyncio.sleep(0.05)
        assert receiver.stats.rejected == {"revoked": 1}
        assert receiver.stats.delivered == 1
    finally:
        await ex.stop()


async def test_a_crl_from_an_untrusted_root_is_ignored(kafka: LocalBroker, tmp_path: Path) -> None:
    ex = LocalExchange(plan=fresh_plan(), connection=kafka.connection(), directory=tmp_path / "a")
    ex.apply()
    stranger = PkiDirectory(tmp_path / "stranger")
    from accord.parties import Country

    stranger.init_root(Country.AUS)
    stranger.issue("AUS.AFP")
    stranger.revoke("AUS.AFP", everything=True)
    try:
        feed = await ex.start_trust_feed()
        await publish_trust(ex.connection, ex.plan.trust_topic,
                            stranger.trust_store().to_bundle())
        for _ in range(200):
            if sum(feed.applied.values()) >= 2:
                break
            await asyncio.sleep(0.05)
        assert feed.applied.get("rejected", 0) == 1  # the stranger's CRL
        assert "crl" not in feed.applied
        assert not ex.trust.is_revoked(ex.pki.signer("AUS.AFP").kid)
    finally:
        await ex.stop()
