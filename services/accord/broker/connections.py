"""Client settings for a node, from its record: the one place that knows which
listener, protocol and credentials a client of a LocalBroker uses."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from accord.broker.config import tls_protocol
from accord.broker.state import NodeState
from accord.broker.tls import CertFiles
from accord.config import KafkaConnection
from accord.errors import BrokerError


def client_connection(
    state: NodeState,
    scram_users: Mapping[str, str],
    username: str | None = None,
    password: str | None = None,
) -> KafkaConnection:
    """The CLIENT listener; in scram mode as the admin unless told otherwise."""
    bootstrap = f"{state.host}:{state.client_port}"
    if state.mode == "plain":
        return KafkaConnection(bootstrap_servers=bootstrap)
    user = username or state.admin_user
    if password is None:
        password = state.admin_password if user == state.admin_user else scram_users.get(user)
    if password is None:
        raise BrokerError(f"no password known for SCRAM user {user!r}")
    return KafkaConnection.model_validate(
        {
            "bootstrap_servers": bootstrap,
            "security_protocol": "SASL_PLAINTEXT",
            "username": user,
            "password": password,
        }
    )


def tls_bootstrap(state: NodeState) -> str:
    if state.tls_port is None:
        raise BrokerError("this broker has no TLS listener", hint="start it with tls=...")
    return f"{state.host}:{state.tls_port}"


def tls_cafile(state: NodeState) -> Path:
    if state.tls_cafile is None:
        raise BrokerError("this broker has no TLS listener", hint="start it with tls=...")
    return Path(state.tls_cafile)


def tls_connection(
    state: NodeState,
    scram_users: Mapping[str, str],
    username: str | None = None,
    password: str | None = None,
    *,
    client_cert: CertFiles | None = None,
) -> KafkaConnection:
    """The TLS listener: SSL (plain) or SASL_SSL (scram), trusting the broker's CA;
    ``client_cert`` when the listener requires one."""
    base = client_connection(state, scram_users, username, password)
    values = base.model_dump() | {
        "bootstrap_servers": tls_bootstrap(state),
        "security_protocol": tls_protocol(state.mode),
        "ssl_cafile": tls_cafile(state),
    }
    if client_cert is not None:
        values |= {"ssl_certfile": client_cert.certfile, "ssl_keyfile": client_cert.keyfile}
    return KafkaConnection.model_validate(values)
