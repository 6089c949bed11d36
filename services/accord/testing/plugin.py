"""The ``accord`` pytest plugin: real Kafka, a real plan, real nodes with their HTTP API.

Fixtures (override any of them in your own conftest.py):

``accord_plan``      the plan to exercise (session; default: the packaged plan)
``accord_broker``    a local Kafka broker, started once per session (KRaft, loopback)
``accord_exchange``  the plan applied to the broker in a fresh namespace, with a
                     PKI and an API client token (session)
``accord_node``      a function ``accord_node("AUS.DFAT") -> NodeProcess`` that
                     starts that agency's ``accord node`` and returns once it is
                     ready; every node started is stopped after the session

A test then publishes through one node and reads another's inbox in a few
lines (docs/integration.md). The broker needs a JDK 17+ and the Kafka jars
(``accord broker fetch``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from accord.broker import LocalBroker
from accord.plan import Plan, load_plan
from accord.testing.nodes import AccordExchange, NodeProcess


@pytest.fixture(scope="session")
def accord_plan() -> Plan:
    return load_plan(None)


@pytest.fixture(scope="session")
def accord_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    broker = LocalBroker(tmp_path_factory.mktemp("accord-kafka"), mode="plain")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def accord_exchange(
    accord_broker: LocalBroker, accord_plan: Plan, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AccordExchange]:
    exchange = AccordExchange.create(
        accord_plan, accord_broker.connection(), tmp_path_factory.mktemp("accord-exchange")
    )
    try:
        yield exchange
    finally:
        exchange.close()


@pytest.fixture(scope="session")
def accord_node(accord_exchange: AccordExchange) -> Callable[..., NodeProcess]:
    return accord_exchange.start_node
