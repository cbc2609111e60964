"""Trust-list request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from contracts.events import Tier
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CityCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]


class TrustCityUpdate(BaseModel):
    """A partner city as an admin registers it; without `jwks` the key set is fetched from `jwks_url` now."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "example": {
                "name": "苏州市 Suzhou",
                "jwks_url": "https://talent.suzhou.example/.well-known/talent-code/jwks.json",
                "tier_map": {"A": "A", "B": "B", "C": "C", "D": "D"},
            }
        },
    )

    name: str = Field(min_length=1, max_length=100)
    jwks_url: str = Field(min_length=8, max_length=500)
    jwks: dict[str, Any] | None = Field(default=None, description="the city's talent-code JWKS (public keys only)")
    tier_map: dict[Tier, Tier] = Field(min_length=1, description="their tier -> ours; an unmapped tier is refused")


class TrustCityPublic(BaseModel):
    """A partner city as admins see it: its key set and when it was last fetched."""

    city_code: str
    name: str
    jwks_url: str
    jwks: dict[str, Any]
    tier_map: dict[str, str]
    fetched_at: datetime | None
    updated_by: str
    updated_at: datetime


class TrustListItem(BaseModel):
    city_code: str
    name: str
    jwks_url: str
    tier_map: dict[str, str]


class TrustListPublic(BaseModel):
    """The published trust list; `signed` is a compact ES256 JWS over the same list (keys: GET /api/v1/trust/keys)."""

    items: list[TrustListItem]
    signed: str
