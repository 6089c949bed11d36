"""The one Kafka client factory; every producer, consumer and admin comes from here."""

from accord.kafka.clients import close_producer, new_admin, new_consumer, new_producer

__all__ = ["close_producer", "new_admin", "new_consumer", "new_producer"]
