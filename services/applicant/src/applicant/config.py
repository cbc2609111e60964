"""Applicant settings (env prefix APPLICANT_)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
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
    # Seals e-mail addresses and phone numbers in ContactUpdated events; notify holds the same keyring.
    contact_keys: SecretStr = SecretStr("c1:dev-insecure-contact-key")
    # Seals the private halves of the talent-code signing keys at rest ("kid:material[,...]").
    code_key_encryption_keys: SecretStr = SecretStr("k1:dev-insecure-code-key-sealing-key")
    # How long a talent code (the QR credential) stays valid.
    code_lifetime_s: int = Field(default=300, ge=30, le=86_400)
    # A talent asking for its code again within this long gets the same code, if nothing about it changed (the
    # app refreshing its QR, or a retry); at most a tenth of the lifetime is ever used. 0 signs every time.
    code_reuse_s: float = Field(default=30.0, ge=0, le=3_600)
    # After a rotation the previous code key is still published and accepted for this long.
    code_key_retire_after_s: int = Field(default=86_400, ge=0)
    # Replicas reload the code keys this often, so a rotation made elsewhere reaches them.
    code_keys_reload_s: float = Field(default=30.0, gt=0)
    # Documents (applicant.documents): sealed in 64 KiB AES-GCM chunks with this keyring ("kid:material[,...]":
    # the first key seals new uploads, every key opens), kept in a local directory or an S3-protocol bucket.
    document_keys: SecretStr = SecretStr("d1:dev-insecure-document-key")
    document_store: Literal["local", "s3"] = "local"
    document_store_path: str = "var/documents/applicant"
    document_s3_endpoint_url: str | None = None
    document_s3_bucket: str = "talent-documents"
    document_s3_region: str = "us-east-1"
    document_s3_prefix: str = "applicant"
    document_s3_access_key: str | None = None
    document_s3_secret_key: SecretStr | None = None
    # The largest document (10 MiB); the request body may be larger by its multipart framing.
    document_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # The read log of code verifications (applicant.scan_log): written in batches off the verify path, of
    # `scan_log_batch_size` entries or `scan_log_interval_s` after the first waiting one; an entry that finds
    # `scan_log_capacity` waiting is dropped and counted. Off only to measure what it costs (the bench).
    scan_log_enabled: bool = True
    scan_log_batch_size: int = Field(default=200, ge=1, le=1_000)
    scan_log_interval_s: float = Field(default=0.5, gt=0, le=60)
    scan_log_capacity: int = Field(default=20_000, ge=1_000)
    # Cross-city recognition (applicant.trust): partner cities' code key sets are refetched from their URLs every
    # `trust_refresh_s`, and on a code with an unknown kid at most once per `trust_refetch_min_s` per city.
    trust_refresh_s: float = Field(default=3_600.0, gt=0)
    trust_refetch_min_s: float = Field(default=30.0, ge=0)
    trust_fetch_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # After a rotation the previous trust-list key stays published this long (lists it signed still verify).
    trust_key_retire_after_s: int = Field(default=7 * 86_400, ge=0)
    # The revocation status list for offline verifiers (applicant.status_list). Codes name it by the URL partners
    # reach it at: `public_base_url` (the gateway's public origin) + /api/v1/codes/status-list. A served list is
    # rebuilt at the latest `status_list_cache_s` after a change made by another replica (at once after one made
    # by this process); gates refetch it every `status_list_ttl_s` and trust one for `status_list_valid_s`.
    public_base_url: str = "http://127.0.0.1:8000"
    status_list_cache_s: float = Field(default=30.0, gt=0, le=60)
    status_list_ttl_s: int = Field(default=60, ge=1, le=3_600)
    status_list_valid_s: int = Field(default=3_600, ge=60, le=7 * 86_400)
    # The smallest list, in entries (bits): 131 072 = 16 KiB before compression, so a small city's list does not
    # tell its talent count; larger lists grow by doubling, keeping at least half of the entries unassigned.
    status_list_min_bits: int = Field(default=131_072, ge=1_024)

    def body_limits(self) -> dict[str, int]:
        return {DOCUMENTS_PATH: self.document_max_bytes + MULTIPART_ALLOWANCE}


# Uploads take a body larger than max_body_bytes: the document and its multipart framing (headers, boundaries).
DOCUMENTS_PATH = "/api/v1/me/documents"
MULTIPART_ALLOWANCE = 64 * 1024


@lru_cache
def get_settings() -> ApplicantSettings:
    return ApplicantSettings()
