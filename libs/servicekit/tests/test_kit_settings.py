"""Settings refuse placeholder secrets outside dev; logs carry the request id and never personal numbers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict
from servicekit.context import request_id_var
from servicekit.logging import JsonFormatter, PlainFormatter, redact
from servicekit.settings import ServiceSettings


class KitSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KITTEST_", extra="ignore", populate_by_name=True)

    id_number_key: SecretStr = SecretStr("changeme")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TALENT_ENV", "KITTEST_ID_NUMBER_KEY", "KITTEST_DATABASE_URL", "SERVICE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


class TestPlaceholderSecrets:
    def test_a_placeholder_secret_is_refused_by_default(self) -> None:
        with pytest.raises(ValidationError, match="id_number_key holds a placeholder secret"):
            KitSettings()

    @pytest.mark.parametrize("environment", ["test", "staging", "production"])
    def test_a_placeholder_secret_is_refused_outside_dev(
        self, monkeypatch: pytest.MonkeyPatch, environment: str
    ) -> None:
        monkeypatch.setenv("TALENT_ENV", environment)

        with pytest.raises(ValidationError, match="TALENT_ENV=dev"):
            KitSettings()

    @pytest.mark.parametrize(
        "placeholder", ["", "   ", "changeme", " ChangeMe ", "secret", "dev-secret", "an-insecure-key"]
    )
    def test_every_placeholder_spelling_is_refused(self, monkeypatch: pytest.MonkeyPatch, placeholder: str) -> None:
        monkeypatch.setenv("KITTEST_ID_NUMBER_KEY", placeholder)

        with pytest.raises(ValidationError, match="placeholder"):
            KitSettings()

    def test_placeholders_are_allowed_when_talent_env_is_dev(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TALENT_ENV", "dev")

        settings = KitSettings()

        assert settings.is_dev
        assert settings.id_number_key.get_secret_value() == "changeme"

    def test_a_real_secret_is_accepted_in_production_and_never_shown(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("KITTEST_ID_NUMBER_KEY", "k7Qz1c9V-real-and-long")

        settings = KitSettings()

        assert settings.environment == "production" and not settings.is_dev
        assert settings.id_number_key.get_secret_value() == "k7Qz1c9V-real-and-long"
        assert "k7Qz1c9V" not in repr(settings) and "k7Qz1c9V" not in str(settings.model_dump())

    def test_an_unknown_environment_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TALENT_ENV", "prod")

        with pytest.raises(ValidationError, match=r"environment|TALENT_ENV"):
            KitSettings(id_number_key=SecretStr("k7Qz1c9V-real-and-long"))


class TestSettingsSources:
    def test_each_service_reads_its_own_prefix_and_talent_env_without_one(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TALENT_ENV", "dev")
        monkeypatch.setenv("KITTEST_DATABASE_URL", "sqlite+aiosqlite:///./kit.db")
        monkeypatch.setenv("SERVICE_DATABASE_URL", "postgresql+asyncpg://other/service")

        settings = KitSettings()

        assert settings.database_url == "sqlite+aiosqlite:///./kit.db"
        assert settings.is_sqlite and settings.is_dev


ID_NUMBER = "330402199001011234"
ID_NUMBER_X = "33040219900101123X"
PHONE = "13812345678"


class TestRedaction:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (f"id={ID_NUMBER}", "id=330402********1234"),
            (f"身份证{ID_NUMBER_X}已登记", "身份证330402********123X已登记"),
            (f"phone {PHONE}", "phone 138****5678"),
            ("call +8613812345678 now", "call +86138****5678 now"),
            (f"{{'phone': '{PHONE}', 'id': '{ID_NUMBER}'}}", "{'phone': '138****5678', 'id': '330402********1234'}"),
        ],
    )
    def test_identity_numbers_and_phones_are_masked(self, text: str, expected: str) -> None:
        assert redact(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "order 12345678901234567890 shipped",  # 20 digits: not an id number
            "amount 1381234567 fen",  # 10 digits: not a phone
            "request 3f2a9c0b1d4e5f60718293a4b5c6d7e8",
            "claim c-20250101-0001 for region 330402",
        ],
    )
    def test_other_numbers_are_left_alone(self, text: str) -> None:
        assert redact(text) == text


@pytest.fixture
def log_output() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("kittest.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, stream, handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


class TestLogFormat:
    def test_json_lines_are_redacted_and_carry_the_request_id(
        self, log_output: tuple[logging.Logger, io.StringIO, logging.Handler]
    ) -> None:
        logger, stream, handler = log_output
        handler.setFormatter(JsonFormatter("kittest"))
        token = request_id_var.set("req-log-1")
        try:
            logger.info("registered %s with phone %s", ID_NUMBER, PHONE)
            try:
                raise ValueError(f"duplicate id {ID_NUMBER}")
            except ValueError:
                logger.exception("lookup failed for %s", PHONE)
        finally:
            request_id_var.reset(token)

        first, second = (json.loads(line) for line in stream.getvalue().splitlines())
        assert first["message"] == "registered 330402********1234 with phone 138****5678"
        assert (first["service"], first["level"], first["request_id"]) == ("kittest", "INFO", "req-log-1")
        assert "330402********1234" in second["exception"] and "ValueError" in second["exception"]
        assert ID_NUMBER not in stream.getvalue() and PHONE not in stream.getvalue()

    def test_plain_lines_are_redacted_too(
        self, log_output: tuple[logging.Logger, io.StringIO, logging.Handler]
    ) -> None:
        logger, stream, handler = log_output
        handler.setFormatter(PlainFormatter("%(message)s"))

        logger.warning("talent %s called from %s", ID_NUMBER, PHONE)

        assert (
            stream.getvalue().strip() == "WARNING kittest.redaction: talent 330402********1234 called from 138****5678"
        )
