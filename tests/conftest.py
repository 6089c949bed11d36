"""Shared fixtures: real Kafka brokers, started lazily once per session.

``kafka`` (PLAINTEXT) and ``secure_kafka`` (SCRAM-SHA-512 + authorizer) start only
if a test asks for them, live in the session's tmp dir, and stop at session end.
If a broker cannot start the fixture raises BrokerError: a test is never skipped
for want of a broker. Leaks are covered three ways: the fixture's finalizer, the
launcher's atexit reaper, and PR_SET_PDEATHSIG on the JVM (it dies with pytest).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accord.broker import LocalBroker

SCRAM_TEST_USERS = {"alice": "alice-secret", "bob": "bob-secret"}
"""Throw-away SCRAM users of ``secure_kafka``; they have no ACLs unless a test adds some."""


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    broker = LocalBroker(tmp_path_factory.mktemp("kafka-plain"), mode="plain")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    broker = LocalBroker(
        tmp_path_factory.mktemp("kafka-scram"),
        mode="scram",
        admin_user="admin",
        admin_password="admin-secret",
        scram_users=SCRAM_TEST_USERS,
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
