#!/usr/bin/env bash
# The event bus's users, topics and ACLs (issue 15): each service authenticates as its own SCRAM user, may
# write only the topic it owns (libs/contracts TOPIC_OWNERS) and its consumer groups' dead-letter topics,
# and may read only the topics its consumer groups consume. tests/test_deploy_manifests.py holds every
# `allow` line below against the contracts and the services' consumer groups.
#
# Runs with the apache/kafka image's tools inside the broker's network namespace (compose: network_mode
# service:kafka; k8s: a container of the kafka pod), over the broker's loopback-only LOCAL listener, the one
# door without SASL. It is idempotent: run it again after changing a password or an ACL.
#
# Passwords come from the environment (never from this file): KAFKA_PASSWORD_<SERVICE>, KAFKA_PASSWORD_OPERATOR.
set -euo pipefail

LOCAL="${KAFKA_SETUP_BOOTSTRAP:-127.0.0.1:9094}"
BIN=/opt/kafka/bin
PARTITIONS="${KAFKA_SETUP_PARTITIONS:-3}"
REPLICATION="${KAFKA_SETUP_REPLICATION_FACTOR:-1}"

until "$BIN/kafka-broker-api-versions.sh" --bootstrap-server "$LOCAL" > /dev/null 2>&1; do
  echo "waiting for the broker on $LOCAL"
  sleep 2
done

user() {  # name password: a SCRAM-SHA-512 and SCRAM-SHA-256 credential
  "$BIN/kafka-configs.sh" --bootstrap-server "$LOCAL" --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$2],SCRAM-SHA-256=[iterations=8192,password=$2]"
}

topic() {  # name
  "$BIN/kafka-topics.sh" --bootstrap-server "$LOCAL" --create --if-not-exists --topic "$1" \
    --partitions "$PARTITIONS" --replication-factor "$REPLICATION"
}

allow() {  # principal operation resource-type name [literal|prefixed]
  "$BIN/kafka-acls.sh" --bootstrap-server "$LOCAL" --add --allow-principal "User:$1" --operation "$2" \
    "--$3" "$4" --resource-pattern-type "${5:-literal}"
}

# --- users (the operator is a super user: KAFKA_SUPER_USERS) -----------------------------------------
user applicant "${KAFKA_PASSWORD_APPLICANT:?set KAFKA_PASSWORD_APPLICANT}"
user benefits "${KAFKA_PASSWORD_BENEFITS:?set KAFKA_PASSWORD_BENEFITS}"
user housing "${KAFKA_PASSWORD_HOUSING:?set KAFKA_PASSWORD_HOUSING}"
user notify "${KAFKA_PASSWORD_NOTIFY:?set KAFKA_PASSWORD_NOTIFY}"
user insight "${KAFKA_PASSWORD_INSIGHT:?set KAFKA_PASSWORD_INSIGHT}"
user operator "${KAFKA_PASSWORD_OPERATOR:?set KAFKA_PASSWORD_OPERATOR}"

# --- topics (the services may not create them: no Create ACL) -----------------------------------------
topic talent.applicant
topic talent.benefits
topic talent.housing
topic talent.notify
topic benefits.talents.dlq
topic benefits.settlement.dlq
topic housing.talents.dlq
topic notify.inbox.dlq
topic notify.partners.dlq
topic notify.officials.dlq
topic insight.facts.dlq

# --- applicant: publishes talent.applicant, consumes nothing ---------------------------------------------
allow applicant Write topic talent.applicant

# --- benefits --------------------------------------------------------------------------------------------
allow benefits Write topic talent.benefits
allow benefits Write topic benefits.talents.dlq
allow benefits Write topic benefits.settlement.dlq
allow benefits Read topic talent.applicant
allow benefits Read topic talent.benefits
allow benefits Read topic talent.housing
allow benefits Read group benefits. prefixed

# --- housing ---------------------------------------------------------------------------------------------
allow housing Write topic talent.housing
allow housing Write topic housing.talents.dlq
allow housing Read topic talent.applicant
allow housing Read topic talent.benefits
allow housing Read group housing. prefixed

# --- notify ----------------------------------------------------------------------------------------------
allow notify Write topic talent.notify
allow notify Write topic notify.inbox.dlq
allow notify Write topic notify.partners.dlq
allow notify Write topic notify.officials.dlq
allow notify Read topic talent.applicant
allow notify Read topic talent.benefits
allow notify Read topic talent.housing
allow notify Read group notify. prefixed

# --- insight: publishes only its dead letters; `insight replay` reads without a group -------------------
allow insight Write topic insight.facts.dlq
allow insight Read topic talent.applicant
allow insight Read topic talent.benefits
allow insight Read topic talent.housing
allow insight Read group insight. prefixed

echo "bus users, topics and ACLs are in place"
