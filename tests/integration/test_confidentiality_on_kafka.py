"""Confidentiality over a real broker (issue 14, item 7): envelope v2 end to end.

Publishers encrypt (plan: ``encryption: required``), CWK announcements and key
statements travel on the agencies' key topics, receivers decrypt. The broker admin reading
every topic's raw bytes finds no body plaintext; an agency outside the recipients
(the USA on a bilateral topic, which this plain broker does not fence with ACLs)
cannot read; an agency left off the label's need-to-know list cannot either; a
receiver rotating its key mid-stream loses nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _exchange import drop_namespace, fresh_plan, label_for, read_topic
from aiokafka.structs import ConsumerRecord

from accord.areas import Area
from accord.broker import LocalBroker
from accord.confidentiality import (
    ContentEncryptor,
    EncryptionKeyPair,
    KeyDirectory,
    Keyring,
    NotARecipient,
    SenderEncryption,
    recipient_agencies,
    resolve_recipients,
    sign_key_statement,
)
from accord.confidentiality.feed import (
    NodeKeys,
    announcement_key,
    apply_key_record,
    statement_key,
)
from accord.envelope import Header
from accord.envelope.jws import Sealed
from accord.envelope.v2 import seal_encrypted, verify_sealed
from accord.exchange import LocalExchange
from accord.kafka import new_consumer, new_producer
from accord.kafka.clients import new_control_admin
from accord.models import InformationReport, Priority, Subject
from accord.monitor import Monitor
from accord.parties import Scope, country_of
from accord.plan import Plan
from accord.publisher import routing_headers
from accord.quarantine import current_keys, iter_quarantine, replay
from accord.receiver.inbox import Inbox
from accord.receiver.step import Context, step
from accord.trust.pki import Pki

pytestmark = pytest.mark.kafka

BI = Scope.BILATERAL
CT = Area.COUNTER_TERRORISM
SENDER = "AUS.AFP"
READER = "JPN.NPA"
SECRET = "Plaintext-canary-7f3a: the broker must never hold this sentence."


def _required(plan: Plan) -> Plan:
    scopes = {s: sp.model_copy(update={"encryption": "required"}) for s, sp in plan.scopes.items()}
    return plan.model_copy(update={"scopes": scopes})


def report(n: int) -> InformationReport:
    return InformationReport(
        title=f"Report {n}",
        priority=Priority.PRIORITY,
        details=f"{SECRET} ({n})",
        subjects=(Subject.TERRORISM,),
        region="South-East Asia",
        observed_at=datetime.now(UTC),
    )


async def _key_records(ex: LocalExchange, *, expect: int) -> list[ConsumerRecord]:
    """At least ``expect`` records of every agency's key topic, from the start."""
    consumer = new_consumer(ex.connection, *ex.plan.keys_topics(), group_id=None)
    await consumer.start()
    records: list[ConsumerRecord] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    try:
        while len(records) < expect and loop.time() < deadline:
            for recs in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


@dataclasses.dataclass
class World:
    exchange: LocalExchange
    keys: dict[str, EncryptionKeyPair]

    def node_keys(self, agency: str, *extra: EncryptionKeyPair) -> NodeKeys:
        return NodeKeys(
            KeyDirectory(self.exchange.trust), Keyring(agency, [*extra, self.keys[agency]])
        )

    async def publish_statement(self, agency: str, key: EncryptionKeyPair) -> bytes:
        statement = sign_key_statement(self.exchange.pki.signer(agency), key.public)
        producer = new_producer(self.exchange.connection)
        await producer.start()
        try:
            await producer.send_and_wait(
                self.exchange.plan.keys_topic(agency),
                value=statement,
                key=statement_key(agency, key.public.ekid),
            )
        finally:
            await producer.stop()
        return statement


@pytest.fixture
async def world(kafka: LocalBroker, session_pki: Pki, tmp_path: Path) -> AsyncIterator[World]:
    ex = LocalExchange(
        plan=_required(fresh_plan()),
        connection=kafka.connection(),
        directory=tmp_path,
        pki=session_pki,
    )
    ex.apply()
    w = World(ex, {a: EncryptionKeyPair.generate() for a in ex.plan.agencies})
    for agency, key in w.keys.items():  # `accord keys issue` for every agency
        await w.publish_statement(agency, key)
    try:
        yield w
    finally:
        await ex.stop()
        drop_namespace(kafka.connection(), ex.plan.namespace)


async def _publisher(w: World) -> SenderEncryption:
    directory = KeyDirectory(w.exchange.trust)
    for record in await _key_records(w.exchange, expect=len(w.keys)):
        apply_key_record(NodeKeys(directory), record.key, record.value)
    encryption = SenderEncryption(
        directory,
        ContentEncryptor(w.exchange.pki.signer(SENDER)),
        Keyring(SENDER, [w.keys[SENDER]]),
    )
    await w.exchange.publisher(SENDER, encryption=encryption)
    return encryption


async def test_the_broker_holds_no_plaintext_and_the_recipient_reads_it(world: World) -> None:
    ex = world.exchange
    await ex.start_receiver(READER, keys=world.node_keys(READER), follow_trust=True)
    await _publisher(world)
    pub = ex.publishers[SENDER]
    for n in range(3):
        await pub.publish(report(n), scope=BI, area=CT, label=label_for(SENDER, BI))
    assert await ex.settle({READER: 3}, within_s=60)
    inbox = ex.receivers[READER].inbox
    stored = [inbox.get(mid, sender=SENDER) for mid in inbox.message_ids()]
    bodies = [s.body["details"] for s in stored if s is not None]
    assert sorted(bodies) == [f"{SECRET} ({n})" for n in range(3)]
    await ex.quiesce(idle_s=1.0)
    # The admin's view: every topic of the namespace, raw, from the beginning.
    admin = new_control_admin(ex.connection)
    topics = [
        t for t in admin.list_topics(timeout=10).topics if t.startswith(f"{ex.plan.namespace}.")
    ]
    seen = 0
    for topic in topics:
        for record in await read_topic(ex.connection, topic, expect=1, within_s=3):
            seen += 1
            for part in (
                record.value or b"",
                record.key or b"",
                *(v for _, v in record.headers or ()),
            ):
                assert b"Plaintext-canary-7f3a" not in part, topic
    assert seen >= 3 + 1 + len(world.keys)  # messages, an announcement, the statements


async def test_an_agency_outside_the_recipients_cannot_read_a_bilateral_body(
    world: World,
) -> None:
    ex = world.exchange
    await _publisher(world)
    pub = ex.publishers[SENDER]
    await pub.publish(report(1), scope=BI, area=CT, label=label_for(SENDER, BI))
    # USA.STATE, ACLs "forced open" (a plain broker has none): it reads the bilateral
    # topic and the key topics, announcements included.
    usa = world.node_keys("USA.STATE")
    for record in await _key_records(ex, expect=len(world.keys) + 1):
        apply_key_record(usa, record.key, record.value)
    records = await read_topic(ex.connection, ex.plan.exchange_topic(BI, CT), expect=1)
    sealed = verify_sealed(records[0].value or b"", ex.trust)
    assert isinstance(sealed, Sealed)  # it verifies origin, and cannot decrypt
    assert usa.keyring is not None
    with pytest.raises(NotARecipient):
        usa.keyring.decrypt(
            sealed.header.message_id,
            sender=SENDER,
            header=sealed.header_bytes,
            label=sealed.label_bytes,
            body=sealed.enc,
        )
    context = Context(
        trust=ex.trust,
        plan=ex.plan,
        country=country_of("USA.STATE"),
        max_bytes=1_048_576,
        keyring=usa.keyring,
    )

    class _Empty:
        def payload_digests(self, keys: object) -> dict[tuple[str, str], str]:
            return {}

        def senders_of(self, message_id: str) -> frozenset[str]:
            return frozenset()

        def last_sequence(self, sender: str, topic: str) -> int | None:
            return None

    out = step([records], _Empty(), context, now=datetime.now(UTC))
    assert out.deliveries == []
    assert [r.reason.value for _, r in out.quarantined] in (
        ["releasability-violation"],
        ["not-a-recipient"],
    )


async def test_rotating_the_receivers_key_mid_stream_loses_nothing(world: World) -> None:
    ex = world.exchange
    new = EncryptionKeyPair.generate()
    # The node holds its new key before it is announced (accord keys rotate), and keeps
    # the old one for what is in flight.
    await ex.start_receiver(READER, keys=world.node_keys(READER, new), follow_trust=True)
    encryption = await _publisher(world)
    pub = ex.publishers[SENDER]
    for n in range(3):
        await pub.publish(report(n), scope=BI, area=CT, label=label_for(SENDER, BI))
    statement = await world.publish_statement(READER, new)
    encryption.directory.add(statement, now=datetime.now(UTC))
    for n in range(3, 6):
        await pub.publish(report(n), scope=BI, area=CT, label=label_for(SENDER, BI))
    assert await ex.settle({READER: 6}, within_s=60)
    assert ex.receivers[READER].stats.rejected == {}


async def test_an_agency_left_off_the_need_to_know_list_cannot_decrypt(world: World) -> None:
    """Both JPN.NPA and JPN.MOFA receive bilateral counter-terrorism; the label lists
    JPN.NPA only. JPN.NPA lands the message; JPN.MOFA's node quarantines it
    ``not-a-recipient`` (ENC-09), and the CWK announcement it reads on the key topic
    leaves it out, so even a node that ignored the label could not open the body."""
    ex = world.exchange
    listed, left_off = READER, "JPN.MOFA"
    assert {listed, left_off} <= set(ex.plan.entitled_receivers(BI, CT))
    for agency in (listed, left_off):
        await ex.start_receiver(agency, keys=world.node_keys(agency), follow_trust=True)
    await _publisher(world)
    label = label_for(SENDER, BI, need_to_know=(listed,))
    await ex.publishers[SENDER].publish(report(1), scope=BI, area=CT, label=label)
    assert await ex.settle({listed: 1}, within_s=60)
    quarantined = await read_topic(ex.connection, ex.plan.quarantine_topic(left_off), expect=1)
    assert [dict(r.headers)["accord-reason"] for r in quarantined] == [b"not-a-recipient"]
    assert dict(quarantined[0].headers)["accord-detail"] == b"need-to-know leaves out JPN.MOFA"
    assert ex.receivers[left_off].inbox.message_ids() == []
    stored = ex.receivers[listed].inbox.message_ids()
    assert len(stored) == 1
    # Cryptography, not only the honest node: with every announcement applied, JPN.MOFA's
    # keyring still has no key for the body.
    mofa = world.node_keys(left_off)
    for record in await _key_records(ex, expect=len(world.keys) + 1):
        apply_key_record(mofa, record.key, record.value)
    records = await read_topic(ex.connection, ex.plan.exchange_topic(BI, CT), expect=1)
    sealed = verify_sealed(records[0].value or b"", ex.trust)
    assert isinstance(sealed, Sealed)
    assert sealed.label.need_to_know == (listed,)
    assert mofa.keyring is not None
    with pytest.raises(NotARecipient):
        mofa.keyring.decrypt(
            sealed.header.message_id,
            sender=SENDER,
            header=sealed.header_bytes,
            label=sealed.label_bytes,
            body=sealed.enc,
        )
    # The monitor waits for the listed reader only (the announcement names it), so the
    # agency left off, which the plan entitles and which never acknowledges, is not
    # outstanding (SPEC 7).
    await ex.quiesce(idle_s=1.0)
    monitor = Monitor(connection=ex.connection, plan=ex.plan, trust=ex.trust, deadline=timedelta(0))
    await monitor.consume(idle_s=1.5, until=30)
    assert monitor.rejected == 0
    assert monitor.ledger.acknowledged_by(stored[0], sender=SENDER) == {listed}
    assert monitor.outstanding() == []


async def test_a_body_whose_announcement_never_arrived_is_quarantined_then_replayed(
    world: World,
) -> None:
    """SPEC ENC-05, decided: a v2 record naming a CWK whose announcement the node has
    not read is not held back. The node reads the trust and key topics to their end
    once and decides again; still unknown, it quarantines the record ``undecryptable``
    (holding it would stall its partition, or keep it where a crash loses it). A
    sender acks its announcement before the message, so this takes a sender that
    skipped it; once the announcement is on the key topic, replay lands the record."""
    ex = world.exchange
    await ex.start_receiver(READER, keys=world.node_keys(READER), follow_trust=True)
    sender = NodeKeys(KeyDirectory(ex.trust))
    for record in await _key_records(ex, expect=len(world.keys)):
        apply_key_record(sender, record.key, record.value)
    now = datetime.now(UTC)
    agencies = recipient_agencies(ex.plan, sender=SENDER, scope=BI, area=CT)
    cwk, announcement = ContentEncryptor(ex.pki.signer(SENDER)).cwk_for(
        resolve_recipients(agencies, sender.directory, now=now), now=now
    )
    assert announcement is not None
    header = Header.create(
        InformationReport.TYPE,
        sender=SENDER,
        scope=BI,
        area=CT,
        sequence=1,
        namespace=ex.plan.namespace,
    )
    raw = seal_encrypted(header, label_for(SENDER, BI), report(7), ex.pki.signer(SENDER), cwk)
    producer = new_producer(ex.connection)
    await producer.start()
    try:
        await producer.send_and_wait(header.topic, raw, headers=routing_headers(header))
        quarantined = await read_topic(ex.connection, ex.plan.quarantine_topic(READER), expect=1)
        assert [dict(r.headers)["accord-reason"] for r in quarantined] == [b"undecryptable"]
        assert ex.receivers[READER].inbox.message_ids() == []
        # The announcement arrives late (as it should have come first).
        await producer.send_and_wait(
            ex.plan.keys_topic(SENDER),
            announcement,
            key=announcement_key(SENDER, cwk.cwk_id),
        )
    finally:
        await producer.stop()
    await ex.stop_receiver(READER)
    keys = await current_keys(ex.connection, ex.plan, world.node_keys(READER))
    records = [q async for q in iter_quarantine(ex.connection, ex.plan.quarantine_topic(READER))]
    inbox = Inbox(ex.inbox_path(READER))
    try:
        results = replay(
            records, agency=READER, plan=ex.plan, trust=ex.trust, inbox=inbox, keyring=keys.keyring
        )
        assert [(r.outcome, r.message_id) for r in results] == [("landed", str(header.message_id))]
        stored = inbox.get(str(header.message_id), sender=SENDER)
        assert stored is not None
        assert stored.body["details"] == f"{SECRET} (7)"
    finally:
        inbox.close()
