"""The receive path over a real broker: hostile records, duplicates, order, gaps, receipts."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from _exchange import label_for, read_topic, report
from aiokafka import AIOKafkaConsumer
from aiokafka.conn import AIOKafkaConnection
from aiokafka.structs import TopicPartition

from accord.areas import Area
from accord.config import KafkaConnection
from accord.envelope import Verified
from accord.errors import ReasonCode, Refused
from accord.exchange import LocalExchange
from accord.kafka import new_consumer, new_producer
from accord.monitor import Monitor
from accord.parties import Scope
from accord.publisher import routing_headers
from accord.receiver import Receiver, ReceiverSettings
from accord.receiver import service as receiver_service

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM


async def _publish(ex: LocalExchange, n: int, *, sender: str = "AUS.AFP") -> list[str]:
    pub = await ex.publisher(sender)
    ids = []
    for i in range(n):
        r = await pub.publish(report(i), scope=BI, area=CT, label=label_for(sender, BI))
        ids.append(r.message_id)
    return ids


async def test_hostile_records_are_quarantined_with_reason_and_valid_ones_delivered(
    exchange: LocalExchange,
) -> None:
    plan = exchange.plan
    await exchange.start_receivers(["JPN.NPA"])
    pub = await exchange.publisher("AUS.AFP")
    header, good = pub.seal(report(1), scope=BI, area=CT, label=label_for("AUS.AFP", BI))
    tampered = bytearray(good)
    middle = good.index(b'"payload":"') + 40
    tampered[middle] = ord("A") if tampered[middle] != ord("A") else ord("B")
    producer = new_producer(exchange.connection)
    await producer.start()
    try:
        topic = plan.exchange_topic(BI, CT)
        # The valid one, then: tampered, replayed onto another topic, lying record
        # headers, garbage, and an empty record.
        await producer.send_and_wait(topic, good, key=b"AUS.AFP", headers=routing_headers(header))
        await producer.send_and_wait(topic, bytes(tampered), key=b"AUS.AFP")
        await producer.send_and_wait(plan.exchange_topic(BI, Area.LAW_ENFORCEMENT), good)
        lying = [
            (k, b"USA.STATE" if k == "accord-sender" else v) for k, v in routing_headers(header)
        ]
        await producer.send_and_wait(topic, good, key=b"AUS.AFP", headers=lying)
        await producer.send_and_wait(topic, b"\xff\xfe{not json")
        await producer.send_and_wait(topic, b"")
    finally:
        await producer.stop()
    assert await exchange.settle({"JPN.NPA": 1}, within_s=30)
    await exchange.quiesce(idle_s=1.5)
    stats = exchange.receivers["JPN.NPA"].stats
    assert exchange.receivers["JPN.NPA"].inbox.message_ids() == [str(header.message_id)]
    assert stats.rejected == {
        "bad-signature": 1,
        "topic-mismatch": 1,
        "header-mismatch": 1,
        "malformed": 2,
    }
    quarantined = await read_topic(exchange.connection, plan.quarantine_topic("JPN.NPA"), expect=5)
    reasons = sorted(dict(r.headers)["accord-reason"].decode() for r in quarantined)
    assert reasons == [
        "bad-signature",
        "header-mismatch",
        "malformed",
        "malformed",
        "topic-mismatch",
    ]
    raw = {r.value for r in quarantined}
    assert bytes(tampered) in raw  # kept raw, byte for byte


async def test_duplicates_are_delivered_once(exchange: LocalExchange) -> None:
    await exchange.start_receivers(["JPN.NPA"])
    pub = await exchange.publisher("AUS.AFP")
    header, envelope = pub.seal(report(1), scope=BI, area=CT, label=label_for("AUS.AFP", BI))
    for _ in range(3):  # a publisher retry, twice over
        await pub.send(header, envelope)
    await _publish(exchange, 2)
    assert await exchange.settle({"JPN.NPA": 3}, within_s=30)
    await exchange.quiesce(idle_s=1.5)
    receiver = exchange.receivers["JPN.NPA"]
    assert receiver.inbox.count() == 3
    assert receiver.stats.duplicates == 2
    assert receiver.stats.rejected == {}


@pytest.mark.parametrize("fetch_wait_ms", [10, 0], ids=["batched-fetch", "no-fetch-wait"])
async def test_order_within_a_partition_holds(exchange: LocalExchange, fetch_wait_ms: int) -> None:
    seen: list[int] = []

    async def handler(v: Verified) -> None:
        seen.append(v.header.sequence)

    await exchange.start_receiver("JPN.NPA", handler=handler, fetch_wait_ms=fetch_wait_ms)
    await _publish(exchange, 150)
    assert await exchange.settle({"JPN.NPA": 150}, within_s=60)
    # The handler runs after the landing that ``settle`` counts: wait for it too.
    for _ in range(100):
        if len(seen) >= 150:
            break
        await asyncio.sleep(0.05)
    assert seen == list(range(1, 151))
    stored = sorted(exchange.receivers["JPN.NPA"].inbox.messages(), key=lambda m: m.offset)
    assert [m.sequence for m in stored] == list(range(1, 151))
    assert len({m.partition for m in stored}) == 1  # keyed by sender


@pytest.mark.parametrize("fetch_wait_ms", [10, 0], ids=["batched-fetch", "no-fetch-wait"])
async def test_the_next_fetch_is_sent_before_a_poll_is_verified_and_landed(
    exchange: LocalExchange, monkeypatch: pytest.MonkeyPatch, fetch_wait_ms: int
) -> None:
    # The batch step and the landing are synchronous: unless the node lets the
    # consumer's fetcher send its next fetch first, the broker only starts gathering
    # the next poll after both, and every message waits for them and then a fetch.
    # Seen on the wire's side of aiokafka: each FetchRequest its connections send.
    events: list[str] = []
    real_getmany = AIOKafkaConsumer.getmany
    real_send = AIOKafkaConnection.send
    real_step = receiver_service.step

    async def getmany(self: AIOKafkaConsumer, *args: Any, **kwargs: Any) -> Any:
        records = await real_getmany(self, *args, **kwargs)
        if records:
            events.append("poll")
        return records

    def send(self: AIOKafkaConnection, request: Any, *args: Any, **kwargs: Any) -> Any:
        if type(request).__name__.startswith("FetchRequest"):
            events.append("fetch")
        return real_send(self, request, *args, **kwargs)

    def step(*args: Any, **kwargs: Any) -> Any:
        events.append("step")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(AIOKafkaConsumer, "getmany", getmany)
    monkeypatch.setattr(AIOKafkaConnection, "send", send)
    monkeypatch.setattr(receiver_service, "step", step)
    await exchange.start_receiver("JPN.NPA", fetch_wait_ms=fetch_wait_ms)
    await _publish(exchange, 20)  # one at a time: many polls
    assert await exchange.settle({"JPN.NPA": 20}, within_s=60)
    polls = [i for i, e in enumerate(events) if e == "poll"]
    assert polls, "no poll brought records"
    late = [i for i in polls if events.index("step", i) < events.index("fetch", i)]
    assert not late, f"{len(late)} of {len(polls)} polls were verified before the next fetch"


async def test_a_withheld_message_is_reported_as_a_sequence_gap(exchange: LocalExchange) -> None:
    await exchange.start_receivers(["JPN.NPA"])
    pub = await exchange.publisher("AUS.AFP")
    await _publish(exchange, 2)
    pub.seal(report(9), scope=BI, area=CT, label=label_for("AUS.AFP", BI))  # never sent
    await _publish(exchange, 2)
    assert await exchange.settle({"JPN.NPA": 4}, within_s=30)
    receiver = exchange.receivers["JPN.NPA"]
    assert receiver.stats.gaps == 1
    gauge = receiver.metrics.registry.get_sample_value(
        "accord_sequence_gaps_total",
        {"agency": "JPN.NPA", "sender": "AUS.AFP", "topic": exchange.plan.exchange_topic(BI, CT)},
    )
    assert gauge == 1.0


async def test_receipts_reach_the_monitor_which_names_the_silent_agencies(
    exchange: LocalExchange,
) -> None:
    await exchange.start_receivers(["JPN.NPA", "JPN.MOFA"])
    ids = await _publish(exchange, 3)
    assert await exchange.settle({"JPN.NPA": 3, "JPN.MOFA": 3}, within_s=30)
    await exchange.quiesce(idle_s=1.0)
    monitor = Monitor(
        connection=exchange.connection,
        plan=exchange.plan,
        trust=exchange.trust,
        deadline=timedelta(0),
    )
    await monitor.consume(idle_s=1.5, until=30)
    assert monitor.rejected == 0
    assert len(monitor.ledger) == 3
    overdue = {o.message_id: set(o.missing) for o in monitor.outstanding()}
    entitled = set(exchange.plan.entitled_receivers(BI, CT)) - {"AUS.AFP"}
    for mid in ids:
        assert monitor.ledger.acknowledged_by(mid) == {"JPN.NPA", "JPN.MOFA"}
        assert overdue[mid] == entitled - {"JPN.NPA", "JPN.MOFA"}


async def test_trilateral_release_is_the_only_way_to_the_usa(exchange: LocalExchange) -> None:
    await exchange.start_receivers(["USA.STATE", "AUS.DFAT"])
    pub = await exchange.publisher("JPN.MOFA")
    original = await pub.publish(
        report(1, Area.STRATEGIC_ASSESSMENTS),
        scope=BI,
        area=Area.STRATEGIC_ASSESSMENTS,
        label=label_for("JPN.MOFA", BI),
    )
    released = await pub.release_trilateral(original.message_id, exchange.trust)
    assert await exchange.settle({"USA.STATE": 1, "AUS.DFAT": 2}, within_s=30)
    usa = exchange.receivers["USA.STATE"].inbox
    assert usa.message_ids() == [released.message_id]
    stored = usa.get(released.message_id)
    assert stored is not None
    assert stored.scope == "trilateral"
    assert original.message_id in json.dumps(stored.body)  # references the original
    other = await exchange.publisher("AUS.DFAT")
    with pytest.raises(Refused) as exc:  # only the originator may release
        await other.release_trilateral(original.message_id, exchange.trust)
    assert exc.value.reason is ReasonCode.NOT_ORIGINATOR


async def test_offsets_reach_the_group_at_most_once_a_second_and_all_once_quiet(
    exchange: LocalExchange,
) -> None:
    # The inbox holds the offsets (what the node resumes from); the group's copy is
    # for `accord status` and the lag metrics, so it is paced, not sent per poll.
    commits: list[float] = []

    def counting(conn: KafkaConnection, *topics: str, **options: Any) -> AIOKafkaConsumer:
        consumer = new_consumer(conn, *topics, **options)
        commit = consumer.commit

        async def counted(offsets: Any = None) -> None:
            commits.append(time.monotonic())
            await commit(offsets)

        consumer.commit = counted  # type: ignore[method-assign]
        return consumer

    agency = "JPN.NPA"
    receiver = Receiver(
        agency=agency,
        connection=exchange.connection_for(agency),
        plan=exchange.plan,
        trust=exchange.trust,
        signer=exchange.pki.signer(agency),
        inbox_path=exchange.inbox_path(agency),
        settings=ReceiverSettings(follow_trust=False),
        consumer_factory=counting,
    )
    await receiver.start()
    running = asyncio.create_task(receiver.run())
    try:
        started = time.monotonic()
        for _ in range(20):  # one publish at a time: about one poll each
            await _publish(exchange, 1)
            await asyncio.sleep(0.1)
        for _ in range(300):
            if receiver.inbox.count() == 20:
                break
            await asyncio.sleep(0.1)
        assert receiver.inbox.count() == 20
        landed = {TopicPartition(t, p): o for (t, p), o in receiver.inbox.next_offsets().items()}
        group = new_consumer(exchange.connection, group_id=exchange.plan.group_id(agency))
        await group.start()
        try:
            for _ in range(100):  # quiet now: the last offsets follow within a second or so
                committed = {tp: await group.committed(tp) for tp in landed}
                if committed == landed:
                    break
                await asyncio.sleep(0.1)
        finally:
            await group.stop()
        assert committed == landed
        spent = time.monotonic() - started
        assert 1 <= len(commits) <= spent + 1, f"{len(commits)} commits in {spent:.1f}s"
    finally:
        receiver.request_stop()
        await asyncio.wait({running}, timeout=15)
        await receiver.stop()
