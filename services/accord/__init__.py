"""accord: a signed, labelled information-exchange bus over Apache Kafka."""

__version__ = "0.1.0"
