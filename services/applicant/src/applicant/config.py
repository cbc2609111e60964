"""Applicant settings (env prefix APPLICANT_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class ApplicantSettings(ServiceSettings):
    """Applicant's settings; the dev defaults of the secrets say "insecure" and are refused outside dev."""

    model_config = SettingsConfigDict(env_prefix="APPLICANT_", extra="ignore", populate_by_name=True)

    service_name: str = "applicant"
    database_url: str = "sqlite+aiosqlite:///./var/applicant.db"
    # "kid:material[,kid:material...]": the first key encrypts identity numbers, all keys decrypt them.
    id_encryption_keys: SecretStr = SecretStr("v1:dev-insecure-identity-number-key")
    # Keys the duplicate check of identity numbers; changing it needs a re-hash of every profile.
    id_hash_key: SecretStr = SecretStr("dev-insecure-identity-hash-key")
    # Derives each talent's pseudonym (what partners and public results see) from the talent id.
    pseudonym_key: SecretStr = SecretStr("dev-insecure-pseudonym-key")
    issuing_city: str = "330400"


@lru_cache
def get_settings() -> ApplicantSettings:
    return ApplicantSettings()
