"""``accord plan apply`` against a real SCRAM broker: topics, idempotence, configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import ConfigResource, ResourceType

from accord.access import render_acls
from accord.broker import LocalBroker
from accord.kafka.clients import new_control_admin
from accord.plan import Plan, load_plan
from accord.plan.reconcile import apply_plan, load_secrets, plan_diff
from accord.topics import TRUST_TOPIC

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
PLAN_FILE = ROOT / "deploy" / "plan.yaml"
SECRETS_FILE = ROOT / "deploy" / "secrets.example.yaml"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(PLAN_FILE)


def _apply(plan: Plan, broker: LocalBroker) -> Any:
    secrets = load_secrets(SECRETS_FILE, [*plan.agencies, plan.monitor.principal], {})
    return apply_plan(plan, broker.connection(), secrets)


def test_apply_creates_topics_with_configs_and_is_idempotent(
    plan: Plan, secure_kafka: LocalBroker
) -> None:
    _apply(plan, secure_kafka)
    admin = new_control_admin(secure_kafka.connection())
    meta = admin.list_topics(timeout=30)
    for spec in plan.topics():
        assert spec.name in meta.topics
        assert len(meta.topics[spec.name].partitions) == spec.partitions
    sample = [
        plan.topics()[0],
        next(t for t in plan.topics() if t.name == TRUST_TOPIC),
        next(t for t in plan.topics() if t.kind == "quarantine"),
    ]
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, t.name) for t in sample])
    described = {res.name: fut.result(timeout=30) for res, fut in futures.items()}
    for spec in sample:
        entries = described[spec.name]
        for key, value in spec.configs.items():
            assert entries[key].value == value, (spec.name, key)
    assert described[TRUST_TOPIC]["cleanup.policy"].value == "compact"

    again = _apply(plan, secure_kafka)
    assert again.created_topics == []
    assert sorted(again.existing_topics) == sorted(t.name for t in plan.topics())
    assert again.acls_added == 0
    assert again.acls_removed == 0
    assert plan_diff(plan, secure_kafka.connection()).changes_nothing


def test_broker_holds_exactly_the_rendered_acls(plan: Plan, secure_kafka: LocalBroker) -> None:
    _apply(plan, secure_kafka)
    from accord.plan.reconcile import read_state

    state = read_state(new_control_admin(secure_kafka.connection()), plan, access=True)
    assert state.acls == frozenset(render_acls(plan))
    assert state.users is not None
    assert set(plan.agencies) <= state.users


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from accord.cli.main import main; main()",
            "--log-level",
            "WARNING",
            "plan",
            *args,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_diff_and_apply(plan: Plan, secure_kafka: LocalBroker) -> None:
    conn = ["--bootstrap", secure_kafka.bootstrap_servers, "--username", "admin"]
    env = {"ACCORD_KAFKA_PASSWORD": "admin-secret"}
    applied = _cli(
        "apply", "--plan", str(PLAN_FILE), *conn, "--secrets", str(SECRETS_FILE), env=env
    )
    assert applied.returncode == 0, applied.stderr
    assert "ACLs:" in applied.stdout
    # no password ever reaches the output
    for secret in SECRETS_FILE.read_text().split():
        if secret.startswith("test-only-"):
            assert secret not in applied.stdout + applied.stderr
    diffed = _cli("diff", "--plan", str(PLAN_FILE), *conn, env=env)
    assert diffed.returncode == 0, diffed.stderr
    assert "no changes" in diffed.stdout
    bad = _cli("diff", "--plan", str(PLAN_FILE), *conn, env={"ACCORD_KAFKA_PASSWORD": "wrong"})
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert "error [broker-error]" in bad.stderr


def test_plain_broker_gets_topics_only(plan: Plan, kafka: LocalBroker) -> None:
    report = apply_plan(plan, kafka.connection())
    assert not report.access
    assert set(report.created_topics) | set(report.existing_topics) == {
        t.name for t in plan.topics()
    }
    assert apply_plan(plan, kafka.connection()).created_topics == []
