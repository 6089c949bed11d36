"""``accord bench``: figures for raw Kafka, the signed pipeline and bare Ed25519."""
