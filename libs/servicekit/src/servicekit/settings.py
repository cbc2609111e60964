"""Settings shared by every deployable: one env prefix per service, placeholder secrets refused outside dev."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.kafka import KafkaSecurity, SaslMechanism, SecurityProtocol

logger = logging.getLogger("servicekit.settings")

# Values that show a secret was never set for real; refused unless TALENT_ENV=dev.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "changethis", "secret", "dev-secret", "dev-password"})


def is_placeholder(secret: str) -> bool:
    """True for an unset secret or one of the dev defaults, which all say "insecure"."""
    value = secret.strip().lower()
    return value in PLACEHOLDER_SECRETS or "insecure" in value


Environment = Literal["dev", "test", "staging", "production"]


class PlaceholderSecretError(ValueError):
    """A secret still holds a placeholder value outside the dev environment."""


class UnauthenticatedBusError(RuntimeError):
    """A service would talk to Kafka without authenticating, outside the dev environment."""


class ServiceSettings(BaseSettings):
    """Settings every service reads; subclasses set `env_prefix` (e.g. ``APPLICANT_``)."""

    model_config = SettingsConfigDict(env_prefix="SERVICE_", extra="ignore", populate_by_name=True)

    service_name: str = "service"
    # TALENT_ENV is shared by the whole platform, so it is read without the service prefix.
    environment: Environment = Field(
        default="production", validation_alias=AliasChoices("TALENT_ENV", "talent_env", "environment")
    )
    database_url: str = "sqlite+aiosqlite:///./var/service.db"
    database_pool_size: int = 10
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Tansu (the embedded broker) does not support the idempotent producer; Apache Kafka does.
    kafka_enable_idempotence: bool = False
    kafka_client_id: str | None = None
    # How every Kafka client of the service authenticates and encrypts (servicekit.kafka.KafkaSecurity).
    # Outside TALENT_ENV=dev `serve`, `worker` and `replay` refuse to start unless the broker learns who the
    # service is (SASL_SSL with SCRAM; see docs/operations.md, "The event bus").
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    # Topics the services create when missing; on a real cluster use 3 replicas (or create them up front).
    # Tansu answers a group join only after half the session timeout; a shorter one speeds up dev and tests.
    kafka_consumer_session_timeout_ms: int = 10_000
    kafka_consumer_heartbeat_interval_ms: int = 3_000
    kafka_topic_partitions: int = 3
    kafka_topic_replication_factor: int = 1
    jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    jwt_issuer: str = "talent-gateway"
    jwt_audience: str = "talent-platform"
    # Run the outbox relay, consumers and timers inside the API process (embedded stack) or not
    # (production runs them in a separate `worker` process).
    workers_in_process: bool = True
    outbox_retention_days: int = 14
    outbox_poll_interval_s: float = 0.05
    consumer_max_attempts: int = 5
    # Events of one partition applied in one transaction (falls back to one by one on any failure).
    consumer_batch_size: int = 200
    consumer_retry_backoff_s: float = 0.2
    # Idle waits (issue 17): what an idle platform costs. A consumer's fetch wait grows from the short one to
    # this after `kafka_consumer_quiet_after_s` without records (on Tansu the first event after such a quiet spell
    # waits up to it; on Apache Kafka nothing); the outbox relay's and the timer runner's fallback polls (for
    # what no commit wake-up announces: another process's commit on SQLite) reach at most these.
    kafka_consumer_idle_fetch_wait_ms: int = 1000
    kafka_consumer_quiet_after_s: float = 30.0
    outbox_idle_poll_s: float = 5.0
    # The relay's broker-memory check runs every 15 s after it published, every this many seconds while idle.
    outbox_idle_check_every_s: float = 60.0
    timer_max_sleep_s: float = 5.0
    max_body_bytes: int = 1_048_576
    # Longer URLs (path and query) are refused with a 414 problem (servicekit.hardening).
    max_url_bytes: int = 8192
    log_level: str = "INFO"
    log_json: bool = True

    def body_limits(self) -> dict[str, int]:
        """Paths whose request bodies may exceed `max_body_bytes` (file uploads), with their own limit."""
        return {}

    @property
    def is_dev(self) -> bool:
        return self.environment == "dev"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def kafka_security(self) -> KafkaSecurity:
        """The one security object every Kafka client of this service is built with."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password,
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
        )

    def refuse_unauthenticated_bus(self) -> None:
        """Start-up check of the commands that talk to Kafka: outside dev, anonymous clients are refused.

        An anonymous client is what the red team used to forge a certification; a broker that lets the
        services in without credentials lets anyone in. SASL without TLS is allowed but logged loudly: SCRAM
        never sends the password, but the events (personal data) cross the network in clear.
        """
        if self.is_dev:
            return
        security = self.kafka_security
        prefix = str(type(self).model_config.get("env_prefix") or "").upper()
        if not security.authenticates:
            raise UnauthenticatedBusError(
                f"{prefix}KAFKA_SECURITY_PROTOCOL={security.protocol} lets the service reach Kafka without "
                f"credentials, refused with TALENT_ENV={self.environment}: set {prefix}KAFKA_SECURITY_PROTOCOL="
                f"SASL_SSL with {prefix}KAFKA_SASL_USERNAME and {prefix}KAFKA_SASL_PASSWORD "
                "(or run with TALENT_ENV=dev)"
            )
        if not security.uses_tls:
            logger.warning(
                "%sKAFKA_SECURITY_PROTOCOL=%s: the service authenticates, but events cross the network "
                "unencrypted; use SASL_SSL",
                prefix,
                security.protocol,
            )

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.environment == "dev":
            return self
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and is_placeholder(value.get_secret_value()):
                raise PlaceholderSecretError(
                    f"{name} holds a placeholder secret; set a real value or run with TALENT_ENV=dev"
                )
        return self

    @model_validator(mode="after")
    def _check_kafka_security(self) -> ServiceSettings:
        # Raises on SASL without credentials or a certificate without its key, whatever the environment.
        _ = self.kafka_security
        return self
