"""The launcher's rendering and version pinning, without starting a JVM."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from accord.broker import KAFKA_VERSION, LocalBroker, TlsSettings
from accord.broker.config import BrokerNodeSettings, NodePorts, render_properties
from accord.broker.node import new_cluster_id
from accord.errors import BrokerError

POM = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"


def test_pom_default_matches_the_python_version() -> None:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    assert match is not None
    assert match.group(1) == KAFKA_VERSION


def _scram(**kw: object) -> dict[str, str]:
    settings = BrokerNodeSettings(
        node_id=2,
        host="127.0.0.1",
        mode="scram",
        ports=NodePorts(client=1, controller=2, internal=3),
        log_dir=Path("/x"),
        voters=[(1, 20), (2, 2), (3, 30)],
        broker_password="pw",
        admin_user="root",
    )
    return render_properties(settings)


def test_scram_mode_locks_every_listener() -> None:
    props = _scram()
    protocols = dict(p.split(":") for p in props["listener.security.protocol.map"].split(","))
    assert set(protocols.values()) == {"SASL_PLAINTEXT"}
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert props["super.users"] == "User:root;User:broker"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")


def test_cluster_replication_and_voters() -> None:
    props = _scram()
    assert props["controller.quorum.voters"] == "1@127.0.0.1:20,2@127.0.0.1:2,3@127.0.0.1:30"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"


def test_cluster_id_is_a_kafka_uuid() -> None:
    cid = new_cluster_id()
    assert len(cid) == 22
    assert not cid.startswith("-")


def test_unknown_mode_is_refused_and_tls_is_recorded(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="unknown broker mode"):
        LocalBroker(tmp_path, mode="tls")  # type: ignore[arg-type]
    broker = LocalBroker(tmp_path, tls=TlsSettings(client_auth=True))
    assert broker.tls is not None
    assert broker.tls.client_auth
    assert broker.tls_cafile == tmp_path.resolve() / "tls" / "ca.crt"
    with pytest.raises(BrokerError, match="no TLS listener"):
        LocalBroker(tmp_path / "other").tls_connection()


def test_unparseable_scram_user_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="cannot parse"):
        LocalBroker(tmp_path, mode="scram", scram_users={"a,b": "x"})


def test_listener_ports_avoid_the_ephemeral_range_and_never_repeat() -> None:
    from accord.broker.state import _ephemeral_range, free_ports

    low, _high = _ephemeral_range()
    first = free_ports("127.0.0.1", 12)
    second = free_ports("127.0.0.1", 12)
    assert len(set(first + second)) == 24  # handed out once per process, even unbound
    assert all(1024 <= p < low for p in first + second)
