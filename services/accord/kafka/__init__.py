"""The one Kafka client factory; every producer, consumer and admin comes from here,
and aiokafka's errors become ``BrokerError`` at one boundary (``broker_errors``)."""

from accord.kafka.clients import (
    broker_errors,
    close_consumer,
    close_producer,
    new_admin,
    new_consumer,
    new_producer,
    set_fetch_wait,
    start_producer,
    task_failure,
)
from accord.kafka.errors import (
    AclDenied,
    AuthFailed,
    BrokerUnreachable,
    ConnectionFailed,
    kafka_failure,
    node_errors,
)

__all__ = [
    "AclDenied",
    "AuthFailed",
    "BrokerUnreachable",
    "ConnectionFailed",
    "broker_errors",
    "close_consumer",
    "close_producer",
    "kafka_failure",
    "new_admin",
    "new_consumer",
    "new_producer",
    "node_errors",
    "set_fetch_wait",
    "start_producer",
    "task_failure",
]
