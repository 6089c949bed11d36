"""A real Apache Kafka broker for development and tests, without Docker.

    from accord.broker import LocalBroker
    broker = LocalBroker(tmp_path / "kafka", mode="scram", scram_users={"alice": "pw"})
    broker.start()
    conn = broker.connection("alice")   # -> accord.config.KafkaConnection
    broker.stop()

Jars come from Maven Central once (``ensure_jars``, deploy/kafka/pom.xml) into
``.cache/kafka/<KAFKA_VERSION>/libs``. See docs/broker.md.
"""

from accord.broker.cluster import LocalCluster
from accord.broker.config import Mode
from accord.broker.jars import KAFKA_VERSION, ensure_jars
from accord.broker.node import LocalBroker, TlsSettings

__all__ = ["KAFKA_VERSION", "LocalBroker", "LocalCluster", "Mode", "TlsSettings", "ensure_jars"]
