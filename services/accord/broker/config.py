"""Render a node's ``server.properties``: KRaft, combined broker+controller.

The same settings drive docker-compose.yml (checked by tests/unit/test_compose.py),
so a developer's Docker broker and the test broker behave alike.

Security model of ``mode="scram"``:

* ``CLIENT`` listener: SASL_PLAINTEXT with SCRAM-SHA-512 only. Users (the admin and
  any ``scram_users``) are written into the metadata log at format time
  (``kafka-storage format --add-scram``), so they exist before the first client.
* ``INTERNAL`` (inter-broker) and ``CONTROLLER`` listeners: SASL/PLAIN with one
  broker principal (``User:broker``) whose password lives only in the node's
  server.properties (mode 0600). KRaft controllers cannot use SCRAM (the
  credentials are in the very metadata log the controller serves), and a PLAINTEXT
  controller listener would authenticate as ``User:ANONYMOUS``, which the
  StandardAuthorizer would then have to make a super user: anyone who could
  reach the port would be root. PLAIN with a broker secret avoids that.
* ``StandardAuthorizer`` with ``allow.everyone.if.no.acl.found=false``: a user
  with no ACL is refused, not silently served. Super users: the admin and the broker.

Optional ``TLS`` listener (``BrokerNodeSettings.tls``), added next to ``CLIENT`` rather than
replacing it: SSL in plain mode, SASL_SSL (SCRAM-SHA-512) in scram mode. ``CLIENT``
stays so the launcher's own readiness probe and the admin need no certificates;
inter-broker and controller traffic stay on loopback-only listeners. Certificates
come from the launcher's throw-away CA (accord.broker.tls) as PEM files, which
Kafka reads natively (``ssl.keystore.type=PEM``), so no JKS/PKCS12 tooling is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Mode = Literal["plain", "scram"]
MODES: tuple[Mode, ...] = ("plain", "scram")

BROKER_PRINCIPAL = "broker"
"""The broker's own SASL/PLAIN identity on the INTERNAL and CONTROLLER listeners."""

JVM_OPTIONS: tuple[str, ...] = (
    # Small heap so that three nodes and colleagues' brokers fit on a 2-core box.
    "-Xms256m",
    "-Xmx512m",
    # Kafka's own GC flags (bin/kafka-run-class.sh), minus the big-heap ones.
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    # C1 only: a broker for development and tests is start-time bound, not
    # throughput bound; skipping C2 saves CPU on 2 cores while nodes boot.
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)

# Settings that make a small local broker start fast and work with one node.
# Shared with docker-compose.yml; replication settings are derived per cluster size.
FAST_START: Mapping[str, str] = {
    "num.partitions": "1",
    "group.initial.rebalance.delay.ms": "0",
    # 50 partitions each (the default) cost seconds on first use on 2 cores.
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.num.partitions": "4",
    "num.network.threads": "2",
    "num.io.threads": "4",
    "num.recovery.threads.per.data.dir": "1",
    "auto.create.topics.enable": "true",
    # Share groups (KIP-932) are not used by accord. They are left at the release's
    # default feature level rather than switched off: the switch is a format-time
    # feature flag (--feature share.version=0) that the apache/kafka image cannot
    # take, the old group.coordinator.rebalance.protocols knob is deprecated in 4.x,
    # and an unused share coordinator costs no measurable start time. Its state
    # topic's replication is sized below so a single node could still create it.
}


@dataclass(frozen=True)
class NodePorts:
    """Loopback ports of one node. ``internal`` exists in scram mode only."""

    client: int
    controller: int
    internal: int | None = None


@dataclass(frozen=True)
class TlsListener:
    """The TLS listener of one node: where it listens and which PEM files it uses."""

    port: int
    keystore: Path
    """Private key + certificate chain, PEM (accord.broker.tls.LocalCa.issue_broker)."""
    truststore: Path
    """CA certificate(s), PEM: which client certificates the listener accepts."""
    client_auth: bool = False


TLS_LISTENER = "TLS"


def tls_protocol(mode: Mode) -> str:
    """The TLS listener's security protocol: SCRAM on top of TLS in scram mode."""
    return "SASL_SSL" if mode == "scram" else "SSL"


@dataclass(frozen=True)
class BrokerNodeSettings:
    """Everything that decides one node's server.properties."""

    node_id: int
    host: str
    mode: Mode
    ports: NodePorts
    log_dir: Path
    voters: Sequence[tuple[int, int]]
    """(node_id, controller port) of every voter, this node included."""
    broker_password: str | None = None
    admin_user: str = "admin"
    tls: TlsListener | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def replication_settings(cluster_size: int) -> dict[str, str]:
    """Internal topics replicate as much as the cluster allows (3 at most, min ISR 2)."""
    rf = str(min(3, cluster_size))
    isr = str(min(2, cluster_size))
    return {
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "default.replication.factor": rf,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": isr,
    }


def _jaas_plain(password: str) -> str:
    return (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{BROKER_PRINCIPAL}" password="{password}" '
        f'user_{BROKER_PRINCIPAL}="{password}";'
    )


def render_properties(s: BrokerNodeSettings) -> dict[str, str]:
    """server.properties as an ordered dict (later keys override earlier ones)."""
    h, p = s.host, s.ports
    voters = ",".join(f"{node}@{h}:{port}" for node, port in s.voters)
    props: dict[str, str] = {
        "process.roles": "broker,controller",
        "node.id": str(s.node_id),
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(s.log_dir),
    }
    if s.mode == "plain":
        props |= {
            "listeners": f"CLIENT://{h}:{p.client},CONTROLLER://{h}:{p.controller}",
            "advertised.listeners": f"CLIENT://{h}:{p.client}",
            "listener.security.protocol.map": "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "CLIENT",
        }
    else:
        if p.internal is None or not s.broker_password:
            raise ValueError("scram mode needs an internal port and a broker password")
        jaas = _jaas_plain(s.broker_password)
        props |= {
            "listeners": (
                f"CLIENT://{h}:{p.client},INTERNAL://{h}:{p.internal},"
                f"CONTROLLER://{h}:{p.controller}"
            ),
            "advertised.listeners": f"CLIENT://{h}:{p.client},INTERNAL://{h}:{p.internal}",
            "listener.security.protocol.map": (
                "CLIENT:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
            ),
            "inter.broker.listener.name": "INTERNAL",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.client.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "listener.name.internal.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.internal.plain.sasl.jaas.config": jaas,
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": jaas,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{s.admin_user};User:{BROKER_PRINCIPAL}",
        }
    if s.tls is not None:
        props |= _tls_properties(s, props)
    props |= FAST_START
    props |= replication_settings(len(s.voters))
    props |= dict(s.extra)
    return props


def _tls_properties(s: BrokerNodeSettings, base: Mapping[str, str]) -> dict[str, str]:
    """Append the TLS listener to ``base``'s listener lists and configure it (listener-scoped)."""
    assert s.tls is not None
    t, name = s.tls, TLS_LISTENER
    prefix = f"listener.name.{name.lower()}."
    props = {
        "listeners": f"{base['listeners']},{name}://{s.host}:{t.port}",
        "advertised.listeners": f"{base['advertised.listeners']},{name}://{s.host}:{t.port}",
        "listener.security.protocol.map": (
            f"{base['listener.security.protocol.map']},{name}:{tls_protocol(s.mode)}"
        ),
        prefix + "ssl.keystore.type": "PEM",
        prefix + "ssl.keystore.location": str(t.keystore),
        prefix + "ssl.truststore.type": "PEM",
        prefix + "ssl.truststore.location": str(t.truststore),
        # "none", not "requested": a listener either demands a certificate or ignores
        # one, so a test of "no certificate is refused" means what it says.
        prefix + "ssl.client.auth": "required" if t.client_auth else "none",
        prefix + "ssl.enabled.protocols": "TLSv1.3,TLSv1.2",
    }
    if s.mode == "scram":
        props |= {
            prefix + "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            prefix + "scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
        }
    return props


def properties_text(props: Mapping[str, str]) -> str:
    """Java properties text. Values never need escaping here except backslashes."""
    lines = ["# Written by accord.broker on every start; edits are overwritten."]
    lines += [f"{k}={v.replace(chr(92), chr(92) * 2)}" for k, v in props.items()]
    return "\n".join(lines) + "\n"


LOG4J2_PROPERTIES = """\
# Written by accord.broker. Everything goes to stdout, which the launcher
# redirects to logs/server.log, so one file holds the node's whole story.
status = warn
name = accord-broker
# Log4j must not stop before Kafka does: its own shutdown hook would otherwise
# race the broker's and drop the last (most useful) shutdown lines.
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = INFO
"""
