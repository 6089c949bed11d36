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
from accord.trust import kid_of
from accord.trust.feed import TrustFeed, publish_trust
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
        await publish_trust(ex.connection, ex.plan.trust_topic, stranger.trust_store().to_bundle())
        for _ in range(200):
            if sum(feed.applied.values()) >= 2:
                break
            await asyncio.sleep(0.05)
        assert feed.applied.get("rejected", 0) == 1  # the stranger's CRL
        assert "crl" not in feed.applied
        assert not ex.trust.is_revoked(ex.pki.signer("AUS.AFP").kid)
    finally:
        await ex.stop()


async def test_a_poisoned_record_is_skipped_and_the_rotation_after_it_applies(
    kafka: LocalBroker, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from _poison import unknown_key_certificate
    from accord.kafka import close_producer, new_producer

    ex = LocalExchange(plan=fresh_plan(), connection=kafka.connection(), directory=tmp_path)
    ex.apply()
    pki = PkiDirectory(tmp_path / "pki")
    poison = unknown_key_certificate(ex.pki.signer("AUS.AFP").certificate)
    producer = new_producer(ex.connection)
    await producer.start()
    try:
        # Straight onto the topic, as a writer that skips `pki publish`'s checks would.
        await producer.send_and_wait(ex.plan.trust_topic, value=poison, key=b"cert:poison")
        await producer.send_and_wait(ex.plan.trust_topic, value=b"\x00garbage", key=b"x")
    finally:
        await close_producer(producer, timeout_s=10)
    rotated = pki.issue("AUS.AFP", rotate=True)
    await publish_trust(ex.connection, ex.plan.trust_topic, pki.trust_store().to_bundle())
    new_kid = ex.pki.signer("AUS.AFP").kid
    assert ex.trust.resolve(new_kid) is None
    try:
        feed = await ex.start_trust_feed()
        for _ in range(600):
            if ex.trust.resolve(new_kid) is not None:
                break
            await asyncio.sleep(0.05)
        assert new_kid == kid_of(rotated)
        assert ex.trust.validate(new_kid, datetime.now(UTC)).agency == "AUS.AFP"
        assert feed.applied["rejected"] == 2
        assert feed.running
        rejected = feed.metrics.trust_rejected.labels("", "UnsupportedAlgorithm")
        assert rejected._value.get() == 1

        # The topic is compacted and read from the start: a restarted feed meets the
        # poison first again, and lives on.
        await feed.stop()
        again = TrustFeed(ex.connection, ex.plan.trust_topic, ex.trust)
        await again.start()
        try:
            for _ in range(600):
                if again.applied.get("rejected", 0) >= 2 and "known" in again.applied:
                    break
                await asyncio.sleep(0.05)
            assert again.applied["rejected"] == 2
            assert again.applied["known"] >= 1
            assert again.running
        finally:
            await again.stop()
    finally:
        await ex.stop()


async def test_sync_applies_everything_acknowledged_before_it(
    kafka: LocalBroker, tmp_path: Path
) -> None:
    ex = LocalExchange(plan=fresh_plan(), connection=kafka.connection(), directory=tmp_path)
    ex.apply()
    try:
        feed = await ex.start_trust_feed()
        pki = PkiDirectory(tmp_path / "pki")
        await publish_trust(ex.connection, ex.plan.trust_topic, pki.trust_store().to_bundle())
        for _ in range(600):
            if feed.applied.get("known", 0) + feed.applied.get("crl", 0) >= 1:
                break
            await asyncio.sleep(0.05)
        for agency in ("JPN.MOFA", "JPN.MOD", "AUS.DFAT"):
            new = pki.issue(agency, rotate=True, activate=False)
            await publish_trust(ex.connection, ex.plan.trust_topic, pki.trust_store().to_bundle())
            await feed.sync(min_interval_s=0)
            # Whatever the broker acknowledged before sync() is in the store after it.
            assert ex.trust.resolve(kid_of(new)) is not None
    finally:
        await ex.stop()
