"""Node commands fail cleanly on a real broker: one `error [code]:` line, the right
hint, exit 2, no traceback, for each way Kafka can refuse (issue 13 item 5)."""

from __future__ import annotations

import json
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import SecretStr

from accord.areas import Area
from accord.broker import LocalBroker
from accord.cli.main import _register, cli
from accord.config import load_secrets
from accord.exchange import LocalExchange
from accord.parties import Scope
from accord.plan import Plan, dump_plan, load_plan
from accord.trust.pki import Pki, provision

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "assessment.yaml"  # JPN.MOFA, bilateral strategic-assessments
SECRETS_FILE = ROOT / "deploy" / "secrets.example.yaml"

_register()


@dataclass(frozen=True)
class Node:
    broker: LocalBroker
    plan: Plan
    plan_file: Path
    pki: Pki
    secrets: dict[str, SecretStr]
    directory: Path

    def env(self, user: str | None = None, password: str | None = None) -> dict[str, str]:
        env = {
            "ACCORD_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "ACCORD_PLAN": str(self.plan_file),
            "ACCORD_PKI_DIR": str(self.pki.bundle_path.parent),
            "ACCORD_SECURITY_PROTOCOL": "",
            "ACCORD_KAFKA_USERNAME": "",
            "ACCORD_KAFKA_PASSWORD": "",
        }
        if user is not None:
            env["ACCORD_KAFKA_USERNAME"] = user
            env["ACCORD_KAFKA_PASSWORD"] = (
                password if password is not None else self.secrets[user].get_secret_value()
            )
        return env


@pytest.fixture(scope="module")
def node(secure_kafka: LocalBroker, tmp_path_factory: pytest.TempPathFactory) -> Node:
    from accord.plan.reconcile import apply_plan

    directory = tmp_path_factory.mktemp("node-errors")
    # encryption off: these are the CLI's Kafka error lines, for a PKI without
    # encryption keys (the refusal without keys is test_node_keys's)
    plan = (
        load_plan(None)
        .with_encryption("off")
        .model_copy(update={"namespace": f"e{uuid.uuid4().hex[:10]}"})
    )
    secrets = load_secrets(SECRETS_FILE, [*plan.agencies, plan.monitor.principal], {})
    apply_plan(plan, secure_kafka.connection(), secrets)
    return Node(
        secure_kafka,
        plan,
        dump_plan(plan, directory / "plan.yaml"),
        provision(directory / "pki", plan.agencies),
        dict(secrets),
        directory,
    )


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--log-level", "CRITICAL", *args], env=env)
    return result.exit_code, result.output


def assert_clean(exit_code: int, output: str, code: str) -> str:
    """Exit 2, one error line with ``code`` and a hint line, no traceback."""
    assert exit_code == 2, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error [")]
    assert len(errors) == 1, output
    assert errors[0].startswith(f"error [{code}]: "), output
    assert any(line.startswith("hint: ") for line in output.splitlines()), output
    return errors[0]


def _publish(node: Node, env: dict[str, str], data_dir: str = "pub") -> tuple[int, str]:
    return run(
        env,
        "publish",
        "--agency",
        "JPN.MOFA",
        "--data-dir",
        str(node.directory / data_dir),
        str(EXAMPLE),
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_publish_works_with_the_protocol_inferred_from_the_credentials(node: Node) -> None:
    exit_code, output = _publish(node, node.env("JPN.MOFA"))  # no ACCORD_SECURITY_PROTOCOL
    assert exit_code == 0, output
    assert '"message_id"' in output


def test_a_broker_that_is_down(node: Node) -> None:
    env = {**node.env("JPN.MOFA"), "ACCORD_BOOTSTRAP_SERVERS": f"127.0.0.1:{_closed_port()}"}
    line = assert_clean(*_publish(node, env), "broker-unreachable")
    assert "127.0.0.1:" in line
    assert_clean(
        *run(env, "receive", "--agency", "AUS.DFAT", "--data-dir", str(node.directory / "down")),
        "broker-unreachable",
    )
    assert_clean(*run(env, "monitor", "--idle", "1"), "broker-unreachable")


def test_a_wrong_password(node: Node) -> None:
    env = node.env("JPN.MOFA", "not-the-password")
    line = assert_clean(*_publish(node, env), "auth-failed")
    assert "User:JPN.MOFA" in line
    assert "not-the-password" not in _publish(node, env)[1]
    assert_clean(
        *run(
            node.env("AUS.DFAT", "wrong"),
            "receive",
            "--agency",
            "AUS.DFAT",
            "--data-dir",
            str(node.directory / "auth"),
        ),
        "auth-failed",
    )


def test_an_acl_refusal_names_the_acl_not_the_broker(node: Node) -> None:
    # Signing as JPN.MOFA but logged in as JPN.NPA, which may not write this area.
    line = assert_clean(*_publish(node, node.env("JPN.NPA")), "acl-denied")
    topic = node.plan.exchange_topic(Scope.BILATERAL, Area.STRATEGIC_ASSESSMENTS)
    assert "User:JPN.NPA" in line
    assert topic in line
    assert "brokers are up" not in _publish(node, node.env("JPN.NPA"))[1]


def test_a_principal_with_no_acl_at_all(node: Node) -> None:
    line = assert_clean(*_publish(node, node.env("alice", "alice-secret")), "acl-denied")
    assert "User:alice" in line


def test_a_message_over_the_brokers_size_limit(node: Node) -> None:
    import importlib

    from accord.kafka.clients import new_control_admin
    from accord.plan.reconcile import apply_plan

    ck = importlib.import_module("confluent_kafka.admin")  # untyped: see plan/admin.py
    small = node.plan.model_copy(update={"namespace": f"s{uuid.uuid4().hex[:10]}"})
    apply_plan(small, node.broker.connection(), node.secrets)
    topic = small.exchange_topic(Scope.BILATERAL, Area.STRATEGIC_ASSESSMENTS)
    admin = new_control_admin(node.broker.connection())
    resource = ck.ConfigResource(
        ck.ResourceType.TOPIC,
        topic,
        incremental_configs=[
            ck.ConfigEntry(
                "max.message.bytes", "1024", incremental_operation=ck.AlterConfigOpType.SET
            )
        ],
    )
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    env = {
        **node.env("JPN.MOFA"),
        "ACCORD_PLAN": str(dump_plan(small, node.directory / "small.yaml")),
    }
    line = assert_clean(*_publish(node, env, "small"), "oversized")
    assert topic in line


@pytest.fixture
async def delivered(node: Node) -> tuple[Path, str]:
    """A message landed in AUS.DFAT's inbox (nodes run in process, as the admin)."""
    from _exchange import label_for, until

    from accord.models import StrategicAssessment

    ex = LocalExchange(
        plan=node.plan,
        connection=node.broker.connection(),
        directory=node.directory / "show",
        pki=node.pki,
    )
    try:
        await ex.start_receiver("AUS.DFAT")
        pub = await ex.publisher("JPN.MOFA")
        doc = yaml.safe_load(EXAMPLE.read_text())
        body = StrategicAssessment.model_validate_json(json.dumps(doc["body"]))
        result = await pub.publish(
            body,
            scope=Scope.BILATERAL,
            area=Area.STRATEGIC_ASSESSMENTS,
            label=label_for("JPN.MOFA", Scope.BILATERAL),
        )
        # This very message: a fresh receiver may first land earlier tests' messages
        # on the same topic, so a count of one is not enough.
        inbox = ex.receivers["AUS.DFAT"].inbox
        assert await until(lambda: inbox.get(result.message_id, sender="JPN.MOFA") is not None)
    finally:
        await ex.stop()
    return ex.inbox_path("AUS.DFAT").parent, result.message_id


def test_inbox_show_prints_the_label_and_the_body(node: Node, delivered: tuple[Path, str]) -> None:
    data_dir, message_id = delivered
    exit_code, output = run(
        {}, "inbox", "--agency", "AUS.DFAT", "--data-dir", str(data_dir), "--show", message_id
    )
    assert exit_code == 0, output
    assert "classification: RESTRICTED" in output
    assert "Ballistic missile launches" in output
    assert "originator: JPN.MOFA" in output
    assert_clean(
        *run(
            {},
            "inbox",
            "--agency",
            "AUS.DFAT",
            "--data-dir",
            str(data_dir),
            "--show",
            "0190a000-0000-7000-8000-000000000000",
        ),
        "config-invalid",
    )


def test_rotating_as_an_agency_principal_is_a_clear_refusal(node: Node, tmp_path: Path) -> None:
    from accord.trust.pki import PkiDirectory

    pki = provision(tmp_path / "pki", ["JPN.MOFA"])
    old = pki.signer("JPN.MOFA").kid
    args = ("pki", "rotate", "--agency", "JPN.MOFA", "--dir", str(tmp_path / "pki"))
    line = assert_clean(*run(node.env("JPN.MOFA"), *args), "acl-denied")
    assert node.plan.trust_topic in line
    assert pki.signer("JPN.MOFA").kid == old  # the old key still signs
    staged = PkiDirectory(tmp_path / "pki").pending("JPN.MOFA")
    assert staged is not None

    admin = {
        **node.env(),
        "ACCORD_KAFKA_USERNAME": "admin",
        "ACCORD_KAFKA_PASSWORD": "admin-secret",
    }
    exit_code, output = run(admin, "pki", "publish", "--dir", str(tmp_path / "pki"))
    assert exit_code == 0, output
    assert f"in use now: kid={staged}" in output
    assert pki.signer("JPN.MOFA").kid == staged
