"""Defence in depth: the receiver's label checks hold even when the broker's ACLs do not.

Broker ACLs are the first fence: USA principals cannot read bilateral topics and
an agency can write only where the plan lets it publish. This test knocks that
fence down on purpose (wide ALLOW ACLs added with the admin client, as a careless
operator might) and shows that the USA node still refuses, from the signed label
alone, what the USA may not see: the records go to its quarantine topic with the
reason, and its inbox stays empty.

Each agency connects as its own SCRAM principal, with the example secrets that
``deploy/secrets.example.yaml`` holds (throw-away values, as in test_access).
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _exchange import fresh_plan, label_for, report
from pydantic import SecretStr

from accord.areas import Area
from accord.broker import LocalBroker
from accord.config import KafkaConnection
from accord.envelope import Header, payload_bytes, seal
from accord.envelope.jws import sign_payload
from accord.exchange import LocalExchange
from accord.kafka.clients import new_consumer, new_control_admin, new_producer
from accord.parties import Scope
from accord.plan import Plan, load_plan
from accord.plan.reconcile import load_secrets
from accord.publisher.service import routing_headers
from accord.trust.pki import Pki

pytestmark = pytest.mark.kafka

# confluent-kafka ships no type information (as in accord.plan.reconcile).
ck: Any = importlib.import_module("confluent_kafka.admin")

ROOT = Path(__file__).resolve().parents[2]
SECRETS_FILE = ROOT / "deploy" / "secrets.example.yaml"
AREA = Area.STRATEGIC_ASSESSMENTS  # in both scopes; JPN.MOFA publishes it, USA.STATE receives it
USA = "USA.STATE"
INJECTOR = "JPN.NPA"  # the plan does not let JPN.NPA write strategic assessments anywhere


def _secrets(plan: Plan) -> dict[str, SecretStr]:
    return dict(load_secrets(SECRETS_FILE, [*plan.agencies, plan.monitor.principal], {}))


def _wide_open(plan: Plan, kind: Any = None) -> list[Any]:
    """ACLs that defeat the plan: USA.STATE reads, and JPN.NPA writes, every topic.

    ``kind=AclBindingFilter`` gives the filters that match exactly these bindings.
    """
    prefix = f"{plan.namespace}."
    kind = kind or ck.AclBinding
    return [
        kind(ck.ResourceType.TOPIC, prefix, ck.ResourcePatternType.PREFIXED, f"User:{who}",
             "*", op, ck.AclPermissionType.ALLOW)
        for who, op in ((USA, ck.AclOperation.READ), (INJECTOR, ck.AclOperation.WRITE))
    ]  # fmt: skip


@pytest.fixture
def plan(secure_kafka: LocalBroker) -> Iterator[Plan]:
    # A fresh namespace (ACLs are rendered per namespace); applying it replaces the
    # principals' ACLs of earlier tests, which is fine as tests run one at a time.
    plan = fresh_plan(load_plan(ROOT / "deploy" / "plan.yaml"))
    yield plan
    # The next apply would remove these too; deleting them now keeps the broker tidy.
    admin = new_control_admin(secure_kafka.connection())
    for fut in admin.delete_acls(_wide_open(plan, ck.AclBindingFilter)).values():
        fut.result()


@pytest.fixture
async def exchange(
    plan: Plan, secure_kafka: LocalBroker, session_pki: Pki, tmp_path: Path
) -> AsyncIterator[LocalExchange]:
    secrets = _secrets(plan)
    conns = {
        agency: secure_kafka.connection(agency, secrets[agency].get_secret_value())
        for agency in plan.agencies
    }
    ex = LocalExchange(
        plan=plan,
        connection=secure_kafka.connection(),
        directory=tmp_path,
        connections=conns,
        pki=session_pki,
    )
    ex.apply(secrets)
    admin = new_control_admin(secure_kafka.connection())
    for fut in admin.create_acls(_wide_open(plan)).values():
        fut.result()
    try:
        yield ex
    finally:
        await ex.stop()


async def _produce(conn: KafkaConnection, topic: str, raw: bytes, header: Header) -> None:
    producer = new_producer(conn, request_timeout_ms=10_000)
    await producer.start()
    try:
        await asyncio.wait_for(
            producer.send_and_wait(topic, raw, headers=routing_headers(header)), 30
        )
    finally:
        await producer.stop()


async def _read_all(conn: KafkaConnection, topic: str, group: str, want: int) -> list[Any]:
    consumer = new_consumer(conn, topic, group_id=f"{group}.t{uuid.uuid4().hex[:8]}")
    await consumer.start()
    try:
        records: list[Any] = []
        for _ in range(60):
            batch = await consumer.getmany(timeout_ms=500)
            records += [r for recs in batch.values() for r in recs]
            if len(records) >= want:
                break
        return records
    finally:
        await consumer.stop()


async def _rejected(ex: LocalExchange, agency: str, n: int, within_s: float = 60.0) -> None:
    stats = ex.receivers[agency].stats
    for _ in range(int(within_s * 10)):
        if sum(stats.rejected.values()) >= n:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{agency} rejected {stats.rejected}, expected {n} rejections")


async def test_receiver_refuses_by_label_when_acls_are_wide_open(
    exchange: LocalExchange, plan: Plan, secure_kafka: LocalBroker
) -> None:
    ex, mofa = exchange, exchange.pki.signer("JPN.MOFA")
    bilateral = plan.exchange_topic(Scope.BILATERAL, AREA)
    trilateral = plan.exchange_topic(Scope.TRILATERAL, AREA)
    assert trilateral in plan.receive_topics(USA)
    assert bilateral not in plan.receive_topics(USA)

    # 1. The fence is down: the broker now serves a bilateral topic to USA.STATE.
    seal_bi = Header.create(
        report(0).TYPE,
        sender="JPN.MOFA",
        scope=Scope.BILATERAL,
        area=AREA,
        sequence=1,
        namespace=plan.namespace,
    )
    bilateral_raw = seal(seal_bi, label_for("JPN.MOFA", Scope.BILATERAL), report(0), mofa)
    await _produce(ex.connection_for("JPN.MOFA"), bilateral, bilateral_raw, seal_bi)
    leaked = await _read_all(ex.connection_for(USA), bilateral, plan.group_id(USA), 1)
    assert [r.value for r in leaked] == [bilateral_raw]

    await ex.start_receiver(USA)

    # 2a. Mislabelled: signed for the trilateral topic, but the label releases it to
    #     JPN and AUS only. seal() would refuse it, so it is signed raw, and written
    #     by JPN.NPA, which only the wide ACL lets write there.
    tri = Header.create(
        report(1).TYPE,
        sender="JPN.MOFA",
        scope=Scope.TRILATERAL,
        area=AREA,
        sequence=2,
        namespace=plan.namespace,
    )
    narrow = label_for("JPN.MOFA", Scope.BILATERAL)
    assert set(narrow.releasable_to) == {"AUS", "JPN"}
    mislabelled = sign_payload(payload_bytes(tri, narrow, report(1)), tri.type, [mofa])
    await _produce(ex.connection_for(INJECTOR), trilateral, mislabelled, tri)
    # 2b. A genuine bilateral message copied onto the trilateral topic USA reads.
    await _produce(ex.connection_for(INJECTOR), trilateral, bilateral_raw, seal_bi)

    await _rejected(ex, USA, 2)
    receiver = ex.receivers[USA]
    assert receiver.stats.rejected == {"releasability-violation": 1, "topic-mismatch": 1}
    assert receiver.stats.delivered == 0
    assert receiver.inbox.count() == 0

    # The raw records are kept as evidence in USA.STATE's quarantine topic.
    admin = secure_kafka.connection()
    quarantined = await _read_all(admin, plan.quarantine_topic(USA), "audit", 2)
    by_value = {r.value: dict(r.headers) for r in quarantined}
    assert by_value[mislabelled]["accord-reason"] == b"releasability-violation"
    assert by_value[bilateral_raw]["accord-reason"] == b"topic-mismatch"
    assert {h["accord-agency"] for h in by_value.values()} == {USA.encode()}
    assert {h["accord-source-topic"] for h in by_value.values()} == {trilateral.encode()}

    # 3. Control: a correctly labelled trilateral message is delivered to the same node.
    pub = await ex.publisher("JPN.MOFA")
    good = await pub.publish(
        report(3), scope=Scope.TRILATERAL, area=AREA, label=label_for("JPN.MOFA", Scope.TRILATERAL)
    )
    assert await ex.settle({USA: 1})
    assert receiver.inbox.message_ids() == [good.message_id]
