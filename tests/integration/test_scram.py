"""The authenticated broker: SCRAM-SHA-512 logins and a default-deny authorizer."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import NewTopic
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from accord.broker import LocalBroker
from accord.kafka import new_admin, new_consumer, new_producer

pytestmark = pytest.mark.kafka


async def _topic(broker: LocalBroker) -> str:
    topic = f"secure-{uuid.uuid4().hex[:8]}"
    admin = new_admin(broker.connection())  # the admin: a super user
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    return topic


async def test_admin_with_right_password_produces_and_consumes(secure_kafka: LocalBroker) -> None:
    conn = secure_kafka.connection()
    assert conn.security_protocol == "SASL_PLAINTEXT"
    assert conn.username == "admin"
    topic = await _topic(secure_kafka)
    producer = new_producer(conn)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello")
    finally:
        await producer.stop()
    consumer = new_consumer(conn, topic, group_id=f"g-{uuid.uuid4().hex[:6]}")
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert record.value == b"hello"


async def test_wrong_password_is_refused_with_a_clear_error(
    secure_kafka: LocalBroker, caplog: pytest.LogCaptureFixture
) -> None:
    producer = new_producer(secure_kafka.connection("admin", "not-the-password"))
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await producer.start()
    await producer.stop()
    # aiokafka wraps the refusal; the broker's reason is in its log record.
    assert "SaslAuthenticationFailed" in caplog.text
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in caplog.text


async def test_unknown_user_is_refused(secure_kafka: LocalBroker) -> None:
    producer = new_producer(secure_kafka.connection("mallory", "guess"))
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()


async def test_user_without_acl_is_refused_not_served_empty(secure_kafka: LocalBroker) -> None:
    topic = await _topic(secure_kafka)
    alice = secure_kafka.connection("alice")

    # Describe: the topic is reported as not authorized (error 29), not as absent.
    admin = new_admin(alice)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert described["error_code"] == TopicAuthorizationFailedError.errno
    assert described["partitions"] == []

    # Produce, plain: the topic write is refused.
    plain = new_producer(alice, enable_idempotence=False, acks=1)
    await plain.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(plain.send_and_wait(topic, b"x"), 30)
    finally:
        await plain.stop()

    # Produce, idempotent (accord's default): refused at InitProducerId already,
    # since alice may write nowhere (KIP-679: idempotence needs WRITE on some topic).
    idem = new_producer(alice)
    try:
        with pytest.raises(ClusterAuthorizationFailedError):
            await asyncio.wait_for(idem.start(), 30)
    finally:
        await idem.stop()

    # Consume: refused, not an empty stream.
    consumer = new_consumer(alice, topic, group_id=f"g-{uuid.uuid4().hex[:6]}")
    try:
        # aiokafka checks topic metadata in start(): the refusal surfaces there.
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(consumer.start(), 30)
    finally:
        await consumer.stop()


async def test_acl_grants_exactly_what_it_says(secure_kafka: LocalBroker) -> None:
    """bob gets WRITE+DESCRIBE on one topic: he can produce there and only there."""
    topic = await _topic(secure_kafka)
    other = await _topic(secure_kafka)
    admin_conn = secure_kafka.connection()
    assert admin_conn.password is not None
    acl_admin = AdminClient(
        {
            "bootstrap.servers": admin_conn.bootstrap_servers,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": admin_conn.username,
            "sasl.password": admin_conn.password.get_secret_value(),
        }
    )
    bindings = [
        AclBinding(
            ResourceType.TOPIC,
            topic,
            ResourcePatternType.LITERAL,
            "User:bob",
            "*",
            op,
            AclPermissionType.ALLOW,
        )
        for op in (AclOperation.WRITE, AclOperation.DESCRIBE)
    ]
    for future in acl_admin.create_acls(bindings).values():
        await asyncio.to_thread(future.result, 30)

    bob = new_producer(secure_kafka.connection("bob"))
    await bob.start()
    try:
        # ACLs propagate through the metadata log; allow a moment.
        for attempt in range(20):
            try:
                await asyncio.wait_for(bob.send_and_wait(topic, b"from-bob"), 10)
                break
            except TopicAuthorizationFailedError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.5)
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(bob.send_and_wait(other, b"nope"), 30)
    finally:
        await bob.stop()
