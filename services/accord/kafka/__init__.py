"""The one Kafka client factory; every producer, consumer and admin comes from here,
and aiokafka's errors become ``BrokerError`` at one boundary (``broker_errors``)."""

from accord.kafka.clients import (
    broker_errors,
    close_consumer,
    close_producer,
    new_admin,
    new_consumer,
    new_producer,
    start_producer,
    task_failure,
)

__all__ = ["broker_errors", "close_consumer", "close_producer", "new_admin", "new_consumer",
           "new_producer", "start_producer", "task_failure"]
