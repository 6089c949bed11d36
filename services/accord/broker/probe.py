"""Is a broker serving? Asked the way a client would: a metadata request."""

from __future__ import annotations

import logging
import socket
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from accord.config import KafkaConnection

# librdkafka reports every refused connection while the broker boots; those are
# expected here, so its log goes to a logger that is silent unless asked for.
_quiet = logging.getLogger("accord.broker.probe")
_quiet.setLevel(logging.CRITICAL)
_quiet.propagate = False


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _admin_config(conn: KafkaConnection) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": conn.bootstrap_servers,
        "security.protocol": conn.security_protocol.lower(),
        "client.id": "accord-broker-probe",
        "socket.connection.setup.timeout.ms": 2000,
        "reconnect.backoff.max.ms": 500,
        "logger": _quiet,
    }
    if conn.uses_sasl:
        conf["sasl.mechanism"] = conn.sasl_mechanism
        conf["sasl.username"] = conn.username or ""
        conf["sasl.password"] = conn.password.get_secret_value() if conn.password else ""
    return conf


class MetadataProbe:
    """Reuses one admin client across polls, so a boot wait is one connection, not fifty."""

    def __init__(self, conn: KafkaConnection) -> None:
        self._admin = AdminClient(_admin_config(conn))

    def brokers(self, timeout: float = 2.0) -> int:
        """Brokers in the cluster's metadata, or 0 if the cluster does not answer."""
        try:
            meta = self._admin.list_topics(timeout=timeout)
        except KafkaException:
            return 0
        return len(meta.brokers)


def serves_metadata(conn: KafkaConnection, *, brokers: int = 1, timeout: float = 3.0) -> bool:
    """True if the cluster answers a metadata request listing at least ``brokers`` brokers."""
    return MetadataProbe(conn).brokers(timeout) >= brokers
