"""On the SCRAM broker with the plan's ACLs: the monitor's principal may read every
agency group's status (DESCRIBE only), and an agency may not read another's."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from accord.broker import LocalBroker
from accord.errors import BrokerError
from accord.plan import load_plan
from accord.plan.reconcile import apply_plan, load_secrets
from accord.status import read_status

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
PLAN_FILE = ROOT / "deploy" / "plan.yaml"
SECRETS_FILE = ROOT / "deploy" / "secrets.example.yaml"


def _secrets() -> dict[str, SecretStr]:
    plan = load_plan(PLAN_FILE)
    return dict(load_secrets(SECRETS_FILE, [*plan.agencies, plan.monitor.principal], {}))


async def test_the_monitor_principal_reads_every_group_status(secure_kafka: LocalBroker) -> None:
    plan = load_plan(PLAN_FILE)
    secrets = _secrets()
    apply_plan(plan, secure_kafka.connection(), secrets)  # idempotent on the shared broker
    monitor = secure_kafka.connection(
        plan.monitor.principal, secrets[plan.monitor.principal].get_secret_value()
    )
    groups = await read_status(monitor, plan, timeout_s=60)
    assert [g.agency for g in groups] == list(plan.agencies)
    for g in groups:
        assert g.partitions, g.agency  # the receive topics were described
        assert {p.topic for p in g.partitions} == set(plan.receive_topics(g.agency))


async def test_an_agency_cannot_read_another_agencys_group(secure_kafka: LocalBroker) -> None:
    plan = load_plan(PLAN_FILE)
    secrets = _secrets()
    apply_plan(plan, secure_kafka.connection(), secrets)
    npa = secure_kafka.connection("JPN.NPA", secrets["JPN.NPA"].get_secret_value())
    # The topics are shared (both read bilateral counter-terrorism); the group is not.
    with pytest.raises(BrokerError, match="GroupAuthorizationFailedError"):
        await read_status(npa, plan, ["AUS.AFP"], timeout_s=30)
    # The USA may not even describe the bilateral topics: said, not left out.
    usa = secure_kafka.connection("USA.STATE", secrets["USA.STATE"].get_secret_value())
    with pytest.raises(BrokerError, match="not allowed to describe topic"):
        await read_status(usa, plan, ["JPN.NPA"], timeout_s=30)
