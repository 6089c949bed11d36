"""What a node is: its mode, ports, cluster id, passwords and TLS listener.

Decided once, on first start, and kept in the data dir's record
(accord.broker.state) so a restart comes back at the same address with the same
data. No process and no network here: accord.broker.jvm runs the JVM,
accord.broker.connections turns a record into client settings.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from accord.broker import tls as tls_files
from accord.broker.config import Mode, NodePorts
from accord.broker.state import STATE_FILE, NodeState, free_ports, read_state
from accord.errors import BrokerError


@dataclass(frozen=True)
class TlsSettings:
    """Add a TLS listener (SSL in plain mode, SASL_SSL in scram mode) next to CLIENT.

    Certificates come from a throw-away CA the launcher makes in ``<data_dir>/tls``
    (accord.broker.tls); ``LocalBroker.tls_cafile`` is what clients must trust.
    ``client_auth=True`` makes the listener demand a client certificate signed by
    that CA (``ssl.client.auth=required``); issue one with ``issue_client_cert``.
    """

    client_auth: bool = False
    port: int = 0
    """The TLS listener's port; 0 picks a free one (kept across restarts)."""


@dataclass(frozen=True)
class Membership:
    """How a node fits in a LocalCluster: decided by the cluster, shared by all nodes."""

    cluster_id: str
    ports: NodePorts
    voters: Sequence[tuple[int, int]]
    broker_password: str | None


def new_cluster_id() -> str:
    """A Kafka ``Uuid`` string: 16 random bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka's own generator avoids these too
            return text


def initial_state(
    data_dir: Path,
    *,
    node_id: int,
    kafka_version: str,
    mode: Mode,
    host: str,
    port: int,
    admin_user: str,
    admin_password: str | None,
    membership: Membership | None,
) -> NodeState:
    """The data dir's record if it has one (checked against what is asked), else a new one."""
    old = read_state(data_dir / STATE_FILE, NodeState)
    if old is not None:
        if old.mode != mode:
            raise BrokerError(
                f"{data_dir} holds a {old.mode!r} broker, not {mode!r}",
                hint="use another --data-dir, or delete this one",
            )
        if admin_password is not None and old.admin_password not in (None, admin_password):
            raise BrokerError(
                f"{data_dir} was formatted with another admin password",
                hint="SCRAM users are created at format time; use a fresh data dir",
            )
        if port and port != old.client_port:
            raise BrokerError(
                f"{data_dir} serves on port {old.client_port}, not {port}",
                hint="omit --port, or use a fresh data dir",
            )
        if membership is not None:  # the cluster's record wins
            old = old.model_copy(update={"cluster_id": membership.cluster_id})
        return old
    scram = mode == "scram"
    if membership is not None:
        ports = membership.ports
        cluster_id = membership.cluster_id
        broker_password = membership.broker_password
    else:
        picked = free_ports(host, 3)  # together, so distinct
        ports = NodePorts(
            client=port or picked[0],
            controller=picked[1],
            internal=picked[2] if scram else None,
        )
        cluster_id = new_cluster_id()
        broker_password = secrets.token_urlsafe(18) if scram else None
    return NodeState(
        node_id=node_id,
        mode=mode,
        host=host,
        client_port=ports.client,
        controller_port=ports.controller,
        internal_port=ports.internal,
        cluster_id=cluster_id,
        kafka_version=kafka_version,
        admin_user=admin_user,
        admin_password=(admin_password or secrets.token_urlsafe(18)) if scram else None,
        broker_password=broker_password,
    )


def with_tls(state: NodeState, tls: TlsSettings, *, tls_dir: Path, running: bool) -> NodeState:
    """Record the TLS listener. A data dir that has one keeps its port unless told."""
    s = state
    taken = {s.client_port, s.controller_port, s.internal_port}
    port = (
        tls.port
        or s.tls_port
        or next(
            p
            for p in free_ports(s.host, 4)
            if p not in taken  # not one of ours, unbound yet
        )
    )
    if tls.port and s.tls_port and tls.port != s.tls_port and running:
        raise BrokerError(
            f"the running broker serves TLS on port {s.tls_port}",
            hint="stop it first, or omit the TLS port",
        )
    return s.model_copy(
        update={
            "tls_port": port,
            "tls_client_auth": tls.client_auth,
            "tls_cafile": str(tls_dir / tls_files.CA_CERT),
        }
    )


def repicked_ports(state: NodeState) -> NodeState:
    """The same record on fresh free ports (someone took one between pick and bind)."""
    client, controller, internal, tls = free_ports(state.host, 4)
    return state.model_copy(
        update={
            "client_port": client,
            "controller_port": controller,
            "internal_port": internal if state.internal_port else None,
            "tls_port": tls if state.tls_port else None,
        }
    )


def check_scram_text(name: str, password: str) -> None:
    # kafka-storage --add-scram parses name=..,password="..": keep both parseable.
    bad = set('"\\,[]=') if name else set()
    if not name or bad & set(name) or any(c in password for c in '"\\'):
        raise BrokerError(
            f"SCRAM user {name!r} or its password has characters kafka-storage cannot parse",
            hint='avoid quotes, backslashes, and ",[]=" in user names',
        )
