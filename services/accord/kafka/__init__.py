"""The one Kafka client factory; every producer, consumer and admin comes from here."""

from accord.kafka.clients import (
    close_consumer,
    close_producer,
    new_admin,
    new_consumer,
    new_producer,
    start_producer,
)

__all__ = ["close_consumer", "close_producer", "new_admin", "new_consumer", "new_producer",
           "start_producer"]
