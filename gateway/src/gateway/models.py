"""The gateway's tables (prefixed ``gw_``: SQLModel shares one metadata across the repository)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from servicekit.db import UTCDateTime, utcnow
from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel


def new_id() -> str:
    return str(uuid.uuid4())


class AccountKind(StrEnum):
    talent = "talent"
    official = "official"
    partner = "partner"
    employer = "employer"


class Employer(SQLModel, table=True):
    """A 用人单位 registered by an administrator; its users sign in as accounts of kind `employer`."""

    __tablename__ = "gw_employer"
    __table_args__ = (Index("ix_gw_employer_created_at_id", "created_at", "id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    # 统一社会信用代码 (GB 32100), canonical form: what a talent's profile names to be on this employer's staff.
    credit_code: str = Field(max_length=18, unique=True)
    name: str = Field(max_length=200)
    region_code: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set once: the employer's users can no longer sign in and their refresh tokens are revoked.
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=500)


class Account(SQLModel, table=True):
    """Who may sign in: a talent (phone), an official or an employer user (username + password) or a partner
    (client id + secret)."""

    __tablename__ = "gw_account"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    kind: str = Field(max_length=16)
    # Officials' usernames and partners' client ids.
    username: str | None = Field(default=None, max_length=64, unique=True)
    # Talents' phone numbers: a keyed hash to find the account, AES-GCM ciphertext to read it back.
    phone_hash: str | None = Field(default=None, max_length=64, unique=True)
    phone_ciphertext: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # argon2id of an official's password or a partner's client secret.
    secret_hash: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    region: str | None = Field(default=None, max_length=12)
    partner_kind: str | None = Field(default=None, max_length=32)
    # An official's name as talents see it on their cases (首问负责制) and an office number (never a
    # personal phone): both travel in the official's access token as `name` and `office_phone`.
    display_name: str | None = Field(default=None, max_length=100)
    office_phone: str | None = Field(default=None, max_length=32)
    # An employer user's employer (kind `employer` only).
    employer_id: str | None = Field(default=None, max_length=36, foreign_key="gw_employer.id", index=True)
    # Seeded for TALENT_ENV=dev only; the gateway refuses to start elsewhere while one exists.
    is_dev: bool = Field(default=False)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OtpChallenge(SQLModel, table=True):
    """One code sent to one phone; only its keyed hash is kept."""

    __tablename__ = "gw_otp_challenge"
    __table_args__ = (Index("ix_gw_otp_challenge_phone_hash_created_at", "phone_hash", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    phone_hash: str = Field(max_length=64)
    code_hash: str = Field(max_length=64)
    attempts: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    # Set when the code signs someone in, or when a newer code supersedes it.
    consumed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RefreshToken(SQLModel, table=True):
    """An opaque refresh token (stored hashed); every use rotates it within its family."""

    __tablename__ = "gw_refresh_token"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    token_hash: str = Field(max_length=64, unique=True)
    family_id: str = Field(max_length=36, index=True)
    account_id: str = Field(max_length=36, foreign_key="gw_account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The access token issued with this refresh token, sealed (AES-GCM): answered again, with this token,
    # to a parallel refresh of the predecessor within the grace window (gateway.service.grant_refresh).
    access_token_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class SigningKey(SQLModel, table=True):
    """An ES256 key pair for access tokens; the private half sealed with the key-encryption key."""

    __tablename__ = "gw_signing_key"

    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(default="ES256", max_length=16)
    private_key_sealed: str = Field(sa_column=Column(Text, nullable=False))
    public_jwk: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # Set when a newer key takes over; the key stays published (for verification) until then.
    retires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SignInThrottle(SQLModel, table=True):
    """Failed password sign-ins of one username from one source address, or over all sources (`source` "").

    Both are keyed hashes: an unknown username is counted exactly like a known one, and no address is stored.
    """

    __tablename__ = "gw_sign_in_throttle"

    subject: str = Field(primary_key=True, max_length=64)
    source: str = Field(primary_key=True, max_length=64)
    failures: int = Field(default=0)
    # The first failure counted in the current run (per source) or window (over all sources).
    first_failure_at: datetime = Field(sa_type=UTCDateTime)
    last_failure_at: datetime = Field(sa_type=UTCDateTime)
    # Until then every sign-in of the username from that source (or, account-wide, from any) is refused.
    blocked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RevokedToken(SQLModel, table=True):
    """A refresh-token family (the access token's `sid`) or one access token (`jti`) that the gateway refuses
    until the last access token it covers has expired; every replica keeps the live rows in memory."""

    __tablename__ = "gw_revoked_token"

    ref: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=8)
    revoked_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
