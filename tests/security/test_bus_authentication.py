"""The event bus lets in only clients that authenticate (issue 15, finding 1).

The red team produced a hand-made `talent.applicant.talent.certified.v1` with an ordinary Kafka client and
benefits believed it. Here the same forgery is tried, with aiokafka and with confluent-kafka (librdkafka, the
client most partners and tools use), against a broker that requires SASL/SCRAM: both are refused, and so is
the kit's own publisher when its credentials are not the broker's.

Each test runs a private Tansu (`TansuBroker(authentication=True)`), never the session's shared broker.
Tansu 0.6.0 can require authentication but cannot be given users (docs/operations.md, "The event bus"), so
the working SCRAM path is covered by the settings tests (libs/servicekit/tests/test_kit_bus_security.py) and
runs against Apache Kafka in docker-compose and deploy/k8s; what these tests show is the broker's refusal.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import confluent_kafka
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from contracts import TOPIC_APPLICANT, TalentCertified
from pydantic import SecretStr
from servicekit.kafka import KafkaPublisher, KafkaSecurity, Record
from servicekit.testing import TansuBroker

# Generous on a loaded machine; a refused client fails long before.
REFUSAL_TIMEOUT_S = 60.0


def forged_certification() -> bytes:
    """The red team's forgery: a tier-A certification, as applicant would stamp it, for an uncertified talent."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "applicant",
            "type": TalentCertified.type,
            "time": datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
            "subject": "talent-forged",
            "data": {
                "talent_id": "talent-forged",
                "pseudonym": "forged",
                "tier": "A",
                "points": 999,
                "certified_until": "2099-12-31",
                "region_code": "330411",
            },
        }
    ).encode()


@pytest.fixture
def authenticated_broker() -> Iterator[TansuBroker]:
    broker = TansuBroker(authentication=True).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def open_broker() -> Iterator[TansuBroker]:
    """The control: the same client code against a broker without authentication."""
    broker = TansuBroker().start()
    try:
        yield broker
    finally:
        broker.stop()


async def produce_with_aiokafka(bootstrap_servers: str, **security: Any) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000, **security)
    try:
        await asyncio.wait_for(producer.start(), REFUSAL_TIMEOUT_S)
        await asyncio.wait_for(producer.send_and_wait(TOPIC_APPLICANT, forged_certification()), REFUSAL_TIMEOUT_S)
    finally:
        await producer.stop()


def produce_with_confluent_kafka(bootstrap_servers: str) -> confluent_kafka.KafkaError | None:
    """Produce once and wait for the delivery report; returns its error (None: the broker took the event)."""
    reports: list[confluent_kafka.KafkaError | None] = []
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "message.timeout.ms": 15_000,
            "socket.timeout.ms": 10_000,
            "api.version.request": True,
            "log_level": 0,
        }
    )
    producer.produce(TOPIC_APPLICANT, forged_certification(), on_delivery=lambda error, _: reports.append(error))
    producer.flush(REFUSAL_TIMEOUT_S)
    assert reports, "no delivery report came back"
    return reports[0]


class TestAnAnonymousProducerIsRefused:
    async def test_the_red_teams_forgery_with_aiokafka_is_refused(
        self, authenticated_broker: TansuBroker, open_broker: TansuBroker
    ) -> None:
        await produce_with_aiokafka(open_broker.bootstrap_servers)  # the same client gets in where nobody asks
        with pytest.raises(KafkaError):
            await produce_with_aiokafka(authenticated_broker.bootstrap_servers)

    async def test_the_red_teams_forgery_with_confluent_kafka_is_refused(
        self, authenticated_broker: TansuBroker, open_broker: TansuBroker
    ) -> None:
        assert await asyncio.to_thread(produce_with_confluent_kafka, open_broker.bootstrap_servers) is None
        error = await asyncio.to_thread(produce_with_confluent_kafka, authenticated_broker.bootstrap_servers)
        assert error is not None, "the broker took an anonymous producer's event"


class TestWrongCredentialsAreRefused:
    @pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
    async def test_a_client_with_a_password_the_broker_does_not_hold_is_refused(
        self, authenticated_broker: TansuBroker, mechanism: str
    ) -> None:
        with pytest.raises(Exception) as refused:  # aiokafka reports SCRAM's "e=unknown-user" as a parse error
            await produce_with_aiokafka(
                authenticated_broker.bootstrap_servers,
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism=mechanism,
                sasl_plain_username="applicant",
                sasl_plain_password="a-guessed-password",
            )
        assert not isinstance(refused.value, asyncio.TimeoutError), "refused, not left hanging"

    async def test_the_kits_publisher_with_wrong_credentials_publishes_nothing(
        self, authenticated_broker: TansuBroker
    ) -> None:
        publisher = KafkaPublisher(
            authenticated_broker.bootstrap_servers,
            security=KafkaSecurity(
                protocol="SASL_PLAINTEXT",
                sasl_mechanism="SCRAM-SHA-512",
                username="benefits",
                password=SecretStr("not-the-brokers-password"),
            ),
            request_timeout_ms=10_000,
        )
        try:
            with pytest.raises(Exception) as refused:
                await asyncio.wait_for(
                    publisher.publish([Record(TOPIC_APPLICANT, forged_certification())]), REFUSAL_TIMEOUT_S
                )
            assert not isinstance(refused.value, asyncio.TimeoutError), "refused, not left hanging"
        finally:
            await publisher.stop()
