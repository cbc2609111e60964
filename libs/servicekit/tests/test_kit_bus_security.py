"""Every Kafka client of a service is built with the service's SASL/SCRAM and TLS settings, and outside dev a
service refuses to start on an anonymous bus (issue 15, finding 1: a forged event from an anonymous producer)."""

from __future__ import annotations

import ast
import datetime
import ipaddress
import logging
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict
from servicekit.app import Runtime, ServiceDefinition
from servicekit.cli import run_cli
from servicekit.consumer import EventConsumer
from servicekit.kafka import KafkaPublisher, KafkaSecurity, new_admin, new_consumer, new_producer
from servicekit.settings import ServiceSettings, UnauthenticatedBusError

ROOT = Path(__file__).resolve().parents[3]
SOURCE_TREES = [ROOT / "libs" / "servicekit" / "src", ROOT / "libs" / "contracts" / "src", ROOT / "gateway" / "src"]
SOURCE_TREES += sorted((ROOT / "services").glob("*/src"))
CLIENT_FACTORIES = ROOT / "libs" / "servicekit" / "src" / "servicekit" / "kafka.py"
AIOKAFKA_CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}
BUS_VARIABLES = (
    "TALENT_ENV",
    "BUSTEST_KAFKA_SECURITY_PROTOCOL",
    "BUSTEST_KAFKA_SASL_MECHANISM",
    "BUSTEST_KAFKA_SASL_USERNAME",
    "BUSTEST_KAFKA_SASL_PASSWORD",
    "BUSTEST_KAFKA_SSL_CAFILE",
    "BUSTEST_KAFKA_SSL_CERTFILE",
    "BUSTEST_KAFKA_SSL_KEYFILE",
)


class BusSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BUSTEST_", extra="ignore", populate_by_name=True)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in BUS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def broker_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed CA certificate, as an operator's cluster CA bundle would be given to the services."""
    folder = tmp_path_factory.mktemp("bus-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "talent bus test CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = folder / "ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def scram_environment(monkeypatch: pytest.MonkeyPatch, ca: Path, protocol: str = "SASL_SSL") -> None:
    monkeypatch.setenv("BUSTEST_KAFKA_SECURITY_PROTOCOL", protocol)
    monkeypatch.setenv("BUSTEST_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("BUSTEST_KAFKA_SASL_USERNAME", "applicant")
    monkeypatch.setenv("BUSTEST_KAFKA_SASL_PASSWORD", "a-real-bus-password-for-applicant")
    monkeypatch.setenv("BUSTEST_KAFKA_SSL_CAFILE", str(ca))


class TestOneSecurityObject:
    def test_the_settings_read_sasl_and_tls_from_the_service_prefix(
        self, monkeypatch: pytest.MonkeyPatch, broker_ca: Path
    ) -> None:
        scram_environment(monkeypatch, broker_ca)
        security = BusSettings(TALENT_ENV="production").kafka_security
        assert (security.protocol, security.sasl_mechanism, security.username) == (
            "SASL_SSL",
            "SCRAM-SHA-256",
            "applicant",
        )
        options = security.client_options()
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == "SCRAM-SHA-256"
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
            "applicant",
            "a-real-bus-password-for-applicant",
        )
        context = options["ssl_context"]
        assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
        assert any(c["subject"] == ((("commonName", "talent bus test CA"),),) for c in context.get_ca_certs())

    def test_the_password_is_never_shown(self, monkeypatch: pytest.MonkeyPatch, broker_ca: Path) -> None:
        scram_environment(monkeypatch, broker_ca)
        settings = BusSettings(TALENT_ENV="production")
        assert "a-real-bus-password" not in repr(settings)
        assert "a-real-bus-password" not in repr(settings.kafka_security)

    def test_the_default_is_the_plaintext_dev_bus(self) -> None:
        assert BusSettings(TALENT_ENV="dev").kafka_security.client_options() == {"security_protocol": "PLAINTEXT"}

    @pytest.mark.parametrize("environment", ["dev", "production"])
    def test_sasl_without_a_password_is_a_configuration_error_everywhere(
        self, monkeypatch: pytest.MonkeyPatch, environment: str
    ) -> None:
        monkeypatch.setenv("BUSTEST_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
        monkeypatch.setenv("BUSTEST_KAFKA_SASL_USERNAME", "applicant")
        with pytest.raises(ValidationError, match="needs a SASL username and password"):
            BusSettings(TALENT_ENV=environment)

    def test_a_placeholder_bus_password_is_refused_outside_dev(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("BUSTEST_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
        monkeypatch.setenv("BUSTEST_KAFKA_SASL_USERNAME", "applicant")
        monkeypatch.setenv("BUSTEST_KAFKA_SASL_PASSWORD", "insecure-replace-me")
        with pytest.raises(ValidationError, match="kafka_sasl_password holds a placeholder secret"):
            BusSettings(TALENT_ENV="production")

    def test_a_client_certificate_needs_its_key(self, monkeypatch: pytest.MonkeyPatch, broker_ca: Path) -> None:
        monkeypatch.setenv("BUSTEST_KAFKA_SECURITY_PROTOCOL", "SSL")
        monkeypatch.setenv("BUSTEST_KAFKA_SSL_CERTFILE", str(broker_ca))
        with pytest.raises(ValidationError, match="needs its key"):
            BusSettings(TALENT_ENV="dev")


class TestEveryClientCarriesIt:
    async def test_producers_consumers_and_admin_clients_are_built_with_the_credentials(self, broker_ca: Path) -> None:
        security = KafkaSecurity(
            protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            username="benefits",
            password=SecretStr("a-real-bus-password-for-benefits"),
            ssl_cafile=str(broker_ca),
        )
        producer = new_producer("127.0.0.1:9", security)
        consumer = new_consumer("127.0.0.1:9", security, group_id="benefits.talents")
        admin = new_admin("127.0.0.1:9", security)
        for client in (producer.client, consumer._client, admin._client):
            assert client._security_protocol == "SASL_SSL"
            assert client._sasl_mechanism == "SCRAM-SHA-512"
            assert client._sasl_plain_username == "benefits"
            assert client._sasl_plain_password == "a-real-bus-password-for-benefits"
            assert isinstance(client._ssl_context, ssl.SSLContext)

    async def test_the_service_runtime_hands_its_security_to_the_publisher_and_every_consumer(
        self, monkeypatch: pytest.MonkeyPatch, broker_ca: Path, tmp_path: Path
    ) -> None:
        from contracts import TalentCertified

        async def ignore(*_: object) -> None:
            return None

        scram_environment(monkeypatch, broker_ca)
        settings = BusSettings(TALENT_ENV="dev", database_url=f"sqlite+aiosqlite:///{tmp_path}/bustest.db")
        definition = ServiceDefinition(
            name="bustest", title="bus test", routers=[], consumers={"talents": {TalentCertified: ignore}}
        )
        runtime = Runtime(definition, settings)
        assert runtime.publisher.security == settings.kafka_security
        assert [c.security for c in runtime.consumers] == [settings.kafka_security]
        assert all(isinstance(c, EventConsumer) for c in runtime.consumers)
        assert isinstance(runtime.publisher, KafkaPublisher)
        await runtime.database.dispose()

    def test_no_source_file_builds_an_aiokafka_client_but_the_kits_factories(self) -> None:
        """A client built anywhere else could reach the broker without the service's credentials."""
        offenders = []
        for tree in SOURCE_TREES:
            for path in sorted(tree.rglob("*.py")):
                if path == CLIENT_FACTORIES:
                    continue
                for node in ast.walk(ast.parse(path.read_text(), str(path))):
                    if isinstance(node, ast.Call):
                        called = (
                            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                        )
                        if called in AIOKAFKA_CLIENTS:
                            offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {called}(...)")
        assert not offenders, f"build Kafka clients with servicekit.kafka's new_producer/consumer/admin: {offenders}"


class TestOutsideDevTheBusMustAuthenticate:
    @pytest.mark.parametrize("environment", ["test", "staging", "production"])
    def test_an_anonymous_bus_is_refused_at_start(self, environment: str) -> None:
        settings = BusSettings(TALENT_ENV=environment)
        with pytest.raises(UnauthenticatedBusError, match="BUSTEST_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"):
            settings.refuse_unauthenticated_bus()

    def test_tls_without_a_client_certificate_is_anonymous_too(self, broker_ca: Path) -> None:
        settings = BusSettings(TALENT_ENV="production", kafka_security_protocol="SSL", kafka_ssl_cafile=str(broker_ca))
        with pytest.raises(UnauthenticatedBusError):
            settings.refuse_unauthenticated_bus()

    def test_the_dev_bus_may_be_anonymous(self) -> None:
        BusSettings(TALENT_ENV="dev").refuse_unauthenticated_bus()

    def test_sasl_ssl_is_accepted(self, monkeypatch: pytest.MonkeyPatch, broker_ca: Path) -> None:
        scram_environment(monkeypatch, broker_ca)
        BusSettings(TALENT_ENV="production").refuse_unauthenticated_bus()

    def test_sasl_without_tls_is_accepted_with_a_loud_warning(
        self, monkeypatch: pytest.MonkeyPatch, broker_ca: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        scram_environment(monkeypatch, broker_ca, protocol="SASL_PLAINTEXT")
        with caplog.at_level(logging.WARNING, logger="servicekit.settings"):
            BusSettings(TALENT_ENV="production").refuse_unauthenticated_bus()
        assert "unencrypted" in caplog.text and "a-real-bus-password" not in caplog.text

    @pytest.mark.parametrize("command", ["worker", "replay"])
    def test_the_commands_that_talk_to_kafka_refuse_to_start(self, command: str, tmp_path: Path) -> None:
        def no_definition() -> ServiceDefinition:  # never reached: the check comes first
            raise AssertionError("the service was built on an anonymous bus")

        argv = [command] + (["--since", "2026-01-01T00:00:00Z"] if command == "replay" else [])
        with pytest.raises(UnauthenticatedBusError):
            run_cli(
                no_definition,
                lambda: BusSettings(TALENT_ENV="production"),
                tmp_path / "alembic.ini",
                default_port=8099,
                argv=argv,
            )
