"""Trust-list tables: the partner cities whose talent codes this city recognises, and the trust-list signing keys."""

from __future__ import annotations

from datetime import datetime

from servicekit.db import UTCDateTime, utcnow
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class PartnerCity(SQLModel, table=True):
    """A city on the trust list: its code key set (URL and the content last fetched) and its tier map (data)."""

    __tablename__ = "trust_partner_city"

    city_code: str = Field(primary_key=True, max_length=6)
    name: str = Field(max_length=100)
    jwks_url: str = Field(max_length=500)
    # The partner's public code keys as a JWKS (JSON text), validated: EC P-256 signing keys only.
    jwks: str = Field(sa_column=Column(Text, nullable=False))
    # Their tier -> ours, e.g. {"A": "A", "B": "B", "C": "C"} (JSON text); an unmapped tier is not recognised.
    tier_map: str = Field(sa_column=Column(Text, nullable=False))
    fetched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TrustListKey(SQLModel, table=True):
    """An ES256 key used only to sign the published trust list; the private half sealed, published until it retires."""

    __tablename__ = "trust_list_key"

    kid: str = Field(primary_key=True, max_length=40)
    private_key_sealed: str = Field(sa_column=Column(Text, nullable=False))
    public_jwk: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
