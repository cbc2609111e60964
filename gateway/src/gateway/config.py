"""Gateway settings (env prefix ``GATEWAY_``; ``TALENT_ENV`` is shared by the whole platform)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from servicekit.settings import ServiceSettings

DEV_CORS_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")
# Shorter secrets than this are refused outside dev: they are the keys of hashes and ciphers.
MIN_SECRET_LENGTH = 16


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: str = "gateway"
    database_url: str = "sqlite+aiosqlite:///./var/gateway.db"

    # Upstream services, by the name the route table uses.
    applicant_url: str = "http://127.0.0.1:8001"
    benefits_url: str = "http://127.0.0.1:8002"
    housing_url: str = "http://127.0.0.1:8003"
    notify_url: str = "http://127.0.0.1:8004"
    insight_url: str = "http://127.0.0.1:8005"
    upstream_connect_timeout_s: float = 2.0
    upstream_timeout_s: float = 30.0
    upstream_max_connections: int = 200
    upstream_max_keepalive: int = 50

    # Secrets (placeholders are refused outside TALENT_ENV=dev by the kit's validator).
    hash_key: SecretStr = Field(
        default=SecretStr("changeme"), description="HMAC key for phone lookup, OTP and refresh-token hashes"
    )
    data_encryption_key: SecretStr = Field(
        default=SecretStr("changeme"), description="AES-GCM key for stored phone numbers"
    )
    key_encryption_key: SecretStr = Field(
        default=SecretStr("changeme"), description="AES-GCM key for the signing keys' private halves"
    )

    # Tokens.
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    signing_key_retire_after_s: int = 3600
    signing_key_reload_interval_s: float = 30.0
    # A refresh token presented again within this many seconds of its rotation (two tabs, a retried request)
    # gets the same new pair; after it, a second use is reuse and revokes the family.
    refresh_grace_s: float = Field(default=30.0, ge=0)
    # How often each replica reloads the revocation list from the database: the longest another replica
    # keeps accepting an access token of a revoked family (docs/security.md).
    revocation_reload_interval_s: float = Field(default=5.0, gt=0)

    # One-time codes for talents.
    otp_ttl_s: int = 300
    otp_max_attempts: int = 5
    otp_min_interval_s: int = 60
    otp_max_per_hour: int = 5
    # Outside dev, codes go out as SMS through notify: POST {notify_url}{otp_delivery_path} with a token of the
    # gateway's own (dev returns the code as `dev_code` instead).
    otp_delivery_path: str = "/internal/sms/one-time-codes"

    # Officials' and employer users' password sign-ins (gateway.throttle, docs/security.md). Per (username,
    # source address): free failures, then a wait that doubles with each further failure up to a cap; the
    # source's count is forgotten after a quiet spell. Per username over all sources: a ceiling per window,
    # past which the account is held (every source refused) until an admin unlocks it or the hold runs out.
    password_free_failures: int = Field(default=5, ge=1)
    password_backoff_base_s: float = Field(default=1.0, gt=0)
    password_backoff_max_s: int = Field(default=300, ge=1)
    password_failures_forgotten_after_s: int = Field(default=3600, ge=1)
    password_account_ceiling: int = Field(default=50, ge=1)
    password_account_window_s: int = Field(default=3600, ge=1)
    password_account_hold_s: int = Field(default=3600, ge=1)
    # Partners' client secrets and the passwords above are argon2id.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    # Talent-code keys of the applicant service, republished at /.well-known/talent-code/jwks.json.
    code_keys_path: str = "/internal/code-keys"
    code_keys_cache_s: float = 60.0
    openapi_cache_s: float = 30.0

    # Rate limits per caller (token subject, or client IP when anonymous) and route group.
    redis_url: str | None = None
    rate_limit_enabled: bool = True
    rate_limit_read_per_minute: int = 600
    rate_limit_write_per_minute: int = 120
    rate_limit_auth_per_minute: int = 30

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # File uploads: these paths take bodies up to `upload_max_bytes` (a 10 MiB document and its multipart
    # framing); every other request keeps `max_body_bytes`. The service checks the file's own limit.
    upload_paths: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["/api/v1/me/documents"])
    upload_max_bytes: int = Field(default=10 * 1024 * 1024 + 64 * 1024, ge=1)

    @field_validator("cors_origins", "upload_paths", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("applicant_url", "benefits_url", "housing_url", "notify_url", "insight_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_short_secrets(self) -> GatewaySettings:
        if self.is_dev:
            return self
        for name in ("hash_key", "data_encryption_key", "key_encryption_key"):
            secret: SecretStr = getattr(self, name)
            if len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
                raise ValueError(f"{name} must be at least {MIN_SECRET_LENGTH} characters outside TALENT_ENV=dev")
        return self

    def body_limits(self) -> dict[str, int]:
        return dict.fromkeys(self.upload_paths, self.upload_max_bytes)

    @property
    def upstreams(self) -> dict[str, str]:
        return {
            "applicant": self.applicant_url,
            "benefits": self.benefits_url,
            "housing": self.housing_url,
            "notify": self.notify_url,
            "insight": self.insight_url,
        }

    @property
    def allowed_origins(self) -> list[str]:
        origins = list(self.cors_origins)
        if self.is_dev:
            origins += [o for o in DEV_CORS_ORIGINS if o not in origins]
        return origins


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()
