"""The Kafka producer shared by the outbox relay and the dead-letter path, and the one place Kafka clients are built.

Every producer, consumer and admin client of the kit and the services is made by `new_producer`,
`new_consumer` or `new_admin`, which apply the service's `KafkaSecurity` (SASL/SCRAM and TLS), so no client
can reach the broker without the credentials the service was given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from aiokafka.structs import RecordMetadata
from pydantic import SecretStr

logger = logging.getLogger("servicekit.kafka")

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"]
SaslMechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class KafkaSecurity:
    """How a service's Kafka clients authenticate (SASL/SCRAM) and encrypt (TLS); built from its settings."""

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    # CA bundle that signed the brokers' certificates (None: the system's trust store).
    ssl_cafile: str | None = None
    # A client certificate and key, for brokers that also want mutual TLS (required with protocol SSL).
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        if self.uses_sasl and not (self.username and self.password and self.password.get_secret_value()):
            raise ValueError(f"Kafka security protocol {self.protocol} needs a SASL username and password")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ValueError("a Kafka client certificate needs its key (ssl_certfile and ssl_keyfile together)")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def authenticates(self) -> bool:
        """The broker learns who the client is: SCRAM, or a client certificate over TLS."""
        return self.uses_sasl or (self.protocol == "SSL" and self.ssl_certfile is not None)

    def client_options(self) -> dict[str, Any]:
        """The aiokafka keyword arguments for this security (the same for producers, consumers and admins)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_sasl:
            assert self.password is not None  # checked in __post_init__
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password.get_secret_value(),
            )
        if self.uses_tls:
            options["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
            )
        return options


PLAINTEXT = KafkaSecurity()


def new_producer(bootstrap_servers: str, security: KafkaSecurity, **options: Any) -> AIOKafkaProducer:
    """An (unstarted) producer that authenticates as `security` says."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **security.client_options(), **options)


def new_consumer(bootstrap_servers: str, security: KafkaSecurity, **options: Any) -> AIOKafkaConsumer:
    """An (unstarted) consumer that authenticates as `security` says."""
    return AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **security.client_options(), **options)


def new_admin(bootstrap_servers: str, security: KafkaSecurity, **options: Any) -> AIOKafkaAdminClient:
    """An (unstarted) admin client that authenticates as `security` says."""
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **security.client_options(), **options)


@dataclass(frozen=True)
class Record:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class KafkaPublisher:
    """Publishes records with acks=all; idempotence is a setting (Tansu lacks it, Apache Kafka has it)."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        security: KafkaSecurity = PLAINTEXT,
        enable_idempotence: bool = False,
        client_id: str | None = None,
        request_timeout_ms: int = 15_000,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.security = security
        self._kwargs = {
            "enable_idempotence": enable_idempotence,
            "acks": "all",
            "client_id": client_id,
            "request_timeout_ms": request_timeout_ms,
            "linger_ms": 1,
        }
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        # Counts the times the broker was found to have lost its memory (servicekit.outbox): the consumers that
        # share this publisher start over with a new client when it changes (see `broker_forgot`).
        self.broker_epoch = 0

    async def _ensure_started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = new_producer(self.bootstrap_servers, self.security, **self._kwargs)
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def publish(self, records: Sequence[Record]) -> list[RecordMetadata]:
        """Send every record and wait for all acknowledgements; order is kept per partition.

        Returns each record's acknowledgement (partition, offset), in the order of `records`."""
        producer = await self._ensure_started()
        futures = [await producer.send(r.topic, r.value, key=r.key, headers=r.headers or None) for r in records]
        return list(await asyncio.gather(*futures))

    async def broker_forgot(self) -> None:
        """The broker lost its memory: it is a new broker. The producer is rebuilt (fresh metadata; the topics
        may have come back with other partitions) and the consumers sharing this publisher rejoin as new."""
        self.broker_epoch += 1
        await self.stop()

    async def high_watermarks(
        self, partitions: Collection[TopicPartition], *, timeout: float = 10.0
    ) -> dict[TopicPartition, int]:
        """The exact end offset (high watermark) of each partition; one that did not answer in time is left out.

        Read from fetch responses, not ListOffsets: Tansu answers ListOffsets(latest) with the base offset of
        the partition's last batch (0 for a one-batch partition)."""
        marks, _ = await self._probe(partitions, (), timeout)
        return marks

    async def topic_ends(self, topics: Collection[str], *, timeout: float = 10.0) -> dict[str, int]:
        """Per topic, how many records it has ever held (the sum of its partitions' end offsets); 0 for a topic
        the broker does not have. A topic of which a partition did not answer in time is left out."""
        marks, partitions_of = await self._probe((), topics, timeout)
        ends: dict[str, int] = {}
        for topic in topics:
            wanted = partitions_of.get(topic, set())
            if all(tp in marks for tp in wanted):
                ends[topic] = sum(marks[tp] for tp in wanted)
        return ends

    async def _probe(
        self, partitions: Collection[TopicPartition], topics: Collection[str], timeout: float
    ) -> tuple[dict[TopicPartition, int], dict[str, set[TopicPartition]]]:
        consumer = new_consumer(
            self.bootstrap_servers,
            self.security,
            client_id=self._kwargs["client_id"],
            request_timeout_ms=self._kwargs["request_timeout_ms"],
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=50,
        )
        try:
            await asyncio.wait_for(consumer.start(), timeout)
            partitions_of: dict[str, set[TopicPartition]] = {}
            if topics:
                existing = await asyncio.wait_for(consumer.topics(), timeout)  # all of the broker's topics
                for topic in topics:
                    numbers = consumer.partitions_for_topic(topic) if topic in existing else None
                    partitions_of[topic] = {TopicPartition(topic, n) for n in numbers or ()}
            wanted = set(partitions).union(*partitions_of.values())
            if not wanted:
                return {}, partitions_of
            consumer.assign(list(wanted))
            # Near the end (Tansu: the last batch's start), so a fetch returns little besides the watermark.
            await asyncio.wait_for(consumer.seek_to_end(*wanted), timeout)
            marks: dict[TopicPartition, int] = {}
            deadline = asyncio.get_running_loop().time() + timeout
            while len(marks) < len(wanted) and asyncio.get_running_loop().time() < deadline:
                await consumer.getmany(timeout_ms=200)
                for tp in wanted:
                    mark = consumer.highwater(tp)
                    if mark is not None:
                        marks[tp] = mark
            return marks, partitions_of
        finally:
            await _stop_consumer(consumer)

    async def check(self, timeout: float = 2.0) -> None:
        """Raise if the broker cannot be reached (used by /readyz)."""
        producer = await asyncio.wait_for(self._ensure_started(), timeout)
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


async def _stop_consumer(consumer: AIOKafkaConsumer) -> None:
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        # aiokafka 0.14 (no group) awaits a task it has just cancelled: one that never ran, when the consumer
        # stops right after its start, raises CancelledError here. Only a cancellation of ours goes on.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def ensure_topics(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create topics that do not exist yet, so consumers can subscribe before the first event.

    With per-service ACLs a service may create only its own topics; the others' are made by their owners or
    up front by the operator, and a refusal here is only logged.
    """
    admin = new_admin(bootstrap_servers, security)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t, num_partitions=partitions, replication_factor=replication_factor)
            for t in topics
            if t not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:  # another replica may have raced us; log and go on
                logger.warning("creating topics failed: %s", exc)
    finally:
        await admin.close()
