"""Broker-enforced access: each agency is its own SCRAM principal, limited by plan ACLs.

Denials must be authorization errors from the broker, not empty reads. The
session broker is shared, so the deploy plan is applied with the example secrets
(the same values every test uses) and mutations use a uniquely named extra agency.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from accord.access import access_matrix, render_acls
from accord.areas import Area
from accord.broker import LocalBroker
from accord.config import KafkaConnection
from accord.errors import BrokerError
from accord.kafka.clients import new_consumer, new_producer
from accord.parties import Scope
from accord.plan import Plan, load_plan, parse_plan
from accord.plan.reconcile import apply_plan, load_secrets, plan_diff
from accord.topics import exchange_topic, quarantine_topic

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
PLAN_FILE = ROOT / "deploy" / "plan.yaml"
SECRETS_FILE = ROOT / "deploy" / "secrets.example.yaml"
DENIED = (TopicAuthorizationFailedError, GroupAuthorizationFailedError)


@pytest.fixture(scope="module")
def plan(secure_kafka: LocalBroker) -> Plan:
    plan = load_plan(PLAN_FILE)
    apply_plan(plan, secure_kafka.connection(), _secrets(plan))
    return plan


def _secrets(plan: Plan) -> dict[str, SecretStr]:
    return dict(load_secrets(SECRETS_FILE, [*plan.agencies, plan.monitor.principal], {}))


def _as(broker: LocalBroker, agency: str, password: str | None = None) -> KafkaConnection:
    pw = password or _secrets(load_plan(PLAN_FILE))[agency].get_secret_value()
    return broker.connection(agency, pw)


async def _seed(broker: LocalBroker, topic: str) -> None:
    """Put a record on ``topic`` as admin, so an allowed read sees something."""
    producer = new_producer(broker.connection())
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"seed")
    finally:
        await producer.stop()


async def try_read(conn: KafkaConnection, topic: str, group: str) -> BaseException | int:
    """Records read from ``topic`` as ``conn``'s user, or the broker's error."""
    consumer = new_consumer(conn, topic, group_id=f"{group}.t{uuid.uuid4().hex[:8]}")
    try:
        await consumer.start()
        seen = 0
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=500)
            seen += sum(len(v) for v in batch.values())
            if seen:
                break
        return seen
    except KafkaError as exc:
        return exc
    finally:
        await consumer.stop()


def _read_some(result: BaseException | int) -> bool:
    return isinstance(result, int) and result > 0


async def try_write(
    conn: KafkaConnection, topic: str, key: bytes | None = None
) -> BaseException | None:
    """None when one record was written to ``topic`` as ``conn``'s user, else the error."""
    producer = new_producer(conn, request_timeout_ms=10_000)
    try:
        await producer.start()
        await asyncio.wait_for(producer.send_and_wait(topic, b"probe", key=key), 30)
        return None
    except KafkaError as exc:
        return exc
    finally:
        await producer.stop()


async def test_usa_reading_bilateral_is_an_authorization_error(
    plan: Plan, secure_kafka: LocalBroker
) -> None:
    topic = exchange_topic(Scope.BILATERAL, Area.STRATEGIC_ASSESSMENTS)
    await _seed(secure_kafka, topic)
    result = await try_read(_as(secure_kafka, "USA.STATE"), topic, plan.group_id("USA.STATE"))
    assert isinstance(result, TopicAuthorizationFailedError), result


async def test_afp_cannot_read_unentitled_area(plan: Plan, secure_kafka: LocalBroker) -> None:
    topic = exchange_topic(Scope.BILATERAL, Area.COUNTER_PROLIFERATION)
    assert topic not in plan.receive_topics("AUS.AFP")
    await _seed(secure_kafka, topic)
    result = await try_read(_as(secure_kafka, "AUS.AFP"), topic, plan.group_id("AUS.AFP"))
    assert isinstance(result, TopicAuthorizationFailedError), result


async def test_no_writes_to_others_quarantine_or_outside_scopes(
    plan: Plan, secure_kafka: LocalBroker
) -> None:
    npa = _as(secure_kafka, "JPN.NPA")
    assert await try_write(npa, quarantine_topic("JPN.NPA")) is None
    assert isinstance(
        await try_write(npa, quarantine_topic("AUS.AFP")), TopicAuthorizationFailedError
    )
    usa = _as(secure_kafka, "USA.DOD")
    assert isinstance(
        await try_write(usa, exchange_topic(Scope.BILATERAL, Area.DIALOGUE)),
        TopicAuthorizationFailedError,
    )


async def test_key_topics_written_by_their_agency_only_read_by_all(
    plan: Plan, secure_kafka: LocalBroker
) -> None:
    npa = _as(secure_kafka, "JPN.NPA")
    key = b"enc:JPN.NPA:probe"  # a compacted topic takes keyed records only
    assert await try_write(npa, plan.keys_topic("JPN.NPA"), key=key) is None
    # No agency can write under another's compaction key: its topic is closed to it.
    assert isinstance(
        await try_write(npa, plan.keys_topic("AUS.AFP"), key=key), TopicAuthorizationFailedError
    )
    usa = _as(secure_kafka, "USA.DOD")
    assert _read_some(await try_read(usa, plan.keys_topic("JPN.NPA"), plan.group_id("USA.DOD")))


async def test_group_outside_own_prefix_is_refused(plan: Plan, secure_kafka: LocalBroker) -> None:
    topic = exchange_topic(Scope.BILATERAL, Area.LAW_ENFORCEMENT)
    await _seed(secure_kafka, topic)
    afp = _as(secure_kafka, "AUS.AFP")
    assert _read_some(await try_read(afp, topic, plan.group_id("AUS.AFP")))
    assert isinstance(await try_read(afp, topic, plan.group_id("JPN.NPA")), DENIED)


async def test_wrong_password_fails(plan: Plan, secure_kafka: LocalBroker) -> None:
    conn = _as(secure_kafka, "JPN.MOFA", password="not-the-password")
    result = await try_write(conn, quarantine_topic("JPN.MOFA"))
    assert result is not None
    with pytest.raises(BrokerError, match="refused the login"):
        plan_diff(plan, secure_kafka.connection("admin", "wrong"))


async def test_removed_agency_loses_access_on_reapply(
    plan: Plan, secure_kafka: LocalBroker
) -> None:
    extra = f"AUS.T{uuid.uuid4().hex[:8].upper()}"
    text = PLAN_FILE.read_text().replace(
        "  USA.STATE:\n",
        f"  {extra}:\n    publish: [law-enforcement]\n    receive: [law-enforcement]\n"
        "  USA.STATE:\n",
    )
    bigger = parse_plan(text, "tmp-plan.yaml")
    secrets = {
        **_secrets(plan),
        extra: load_secrets(
            None, [extra], {f"ACCORD_SECRET_{extra.replace('.', '_')}": "tmp-only-pw"}
        )[extra],
    }
    admin = secure_kafka.connection()
    apply_plan(bigger, admin, secrets)
    conn = secure_kafka.connection(extra, "tmp-only-pw")
    topic = exchange_topic(Scope.BILATERAL, Area.LAW_ENFORCEMENT)
    await _seed(secure_kafka, topic)
    assert _read_some(await try_read(conn, topic, bigger.group_id(extra)))

    diff = plan_diff(plan, admin)
    assert diff.principals_to_delete == (extra,)
    report = apply_plan(plan, admin, _secrets(plan))
    assert report.principals_deleted == [extra]
    # its credentials are gone: the login itself now fails
    assert isinstance(await try_read(conn, topic, bigger.group_id(extra)), KafkaError)
    assert plan_diff(plan, admin).changes_nothing


def _sample_cells(plan: Plan) -> list[tuple[str, str, str, bool]]:
    """(agency, topic, op, allowed): one allowed and one denied read and write per country."""
    matrix = access_matrix(plan)
    exchange = set(plan.exchange_topics())
    cells = []
    for agency in ("JPN.NPA", "AUS.DFAT", "USA.STATE"):
        row = {t: c for t, c in matrix[agency].items() if t in exchange}
        for op, letter in (("READ", "R"), ("WRITE", "W")):
            cells.append((agency, next(t for t, c in row.items() if letter in c), op, True))
            cells.append((agency, next(t for t, c in row.items() if letter not in c), op, False))
    return cells


async def test_access_matrix_matches_broker(plan: Plan, secure_kafka: LocalBroker) -> None:
    assert access_matrix(plan, render_acls(plan)) == access_matrix(plan)
    for agency, topic, op, allowed in _sample_cells(plan):
        conn = _as(secure_kafka, agency)
        if op == "READ":
            await _seed(secure_kafka, topic)
            got = await try_read(conn, topic, plan.group_id(agency))
            ok = _read_some(got)
            if not allowed:
                assert isinstance(got, TopicAuthorizationFailedError), (agency, topic, got)
        else:
            err = await try_write(conn, topic)
            ok = err is None
            if not allowed:
                assert isinstance(err, TopicAuthorizationFailedError), (agency, topic, err)
        assert ok == allowed, (agency, topic, op)
