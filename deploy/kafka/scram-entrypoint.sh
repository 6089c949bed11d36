#!/usr/bin/env bash
# Entrypoint for the apache/kafka image in "scram" mode (docker-compose.yml).
#
# Why this exists: the image's own launch script formats KRaft storage with only
# `kafka-storage.sh format --cluster-id=...`, so there is no environment variable
# that adds SCRAM users at format time. In KRaft the first SCRAM user must be
# written into the metadata log by `format --add-scram` (nobody could log in to
# create it later). So: format first, with the admin user, then hand over to the
# image's unchanged entrypoint, whose own format step then finds the storage
# already formatted and carries on (it tolerates "already formatted").
#
# The format-only config is deliberately minimal (PLAINTEXT names): formatting only
# records the node id, cluster id and SCRAM credentials; the real listeners,
# SASL and authorizer settings come from the KAFKA_* environment at launch.
set -euo pipefail

: "${CLUSTER_ID:?}" "${KAFKA_NODE_ID:?}" "${KAFKA_CONTROLLER_QUORUM_VOTERS:?}" "${KAFKA_LOG_DIRS:?}"
: "${ACCORD_KAFKA_ADMIN_USER:=admin}"
: "${ACCORD_KAFKA_ADMIN_PASSWORD:?set ACCORD_KAFKA_ADMIN_PASSWORD}"

umask 077
if [ ! -f "${KAFKA_LOG_DIRS}/meta.properties" ]; then
  cfg=$(mktemp)
  cat >"$cfg" <<PROPS
process.roles=broker,controller
node.id=${KAFKA_NODE_ID}
controller.quorum.voters=${KAFKA_CONTROLLER_QUORUM_VOTERS}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://localhost:29092,CONTROLLER://localhost:29093
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${KAFKA_LOG_DIRS}
PROPS
  /opt/kafka/bin/kafka-storage.sh format --cluster-id "${CLUSTER_ID}" --config "$cfg" \
    --ignore-formatted \
    --add-scram "SCRAM-SHA-512=[name=${ACCORD_KAFKA_ADMIN_USER},password=\"${ACCORD_KAFKA_ADMIN_PASSWORD}\"]"
  rm -f "$cfg"
fi

# Client settings for the healthcheck (kafka-broker-api-versions must log in too).
cat >/tmp/accord-admin.properties <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${ACCORD_KAFKA_ADMIN_USER}" password="${ACCORD_KAFKA_ADMIN_PASSWORD}";
PROPS

exec /etc/kafka/docker/run "$@"
