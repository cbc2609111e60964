"""Trust-list endpoints (thin: the rules live in cities.py, signing.py and recognition.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from servicekit.db import SessionDep

from applicant.dependencies import AdminPrincipal, SettingsDep
from applicant.trust import cities, signing
from applicant.trust.schemas import TrustCityPublic, TrustCityUpdate, TrustListPublic

router = APIRouter(prefix="/api/v1", tags=["trust"])

CityCodePath = Annotated[str, Path(pattern=r"^\d{6}$", description="a partner city's 6-digit region code")]


@router.get("/trust/cities", response_model=TrustListPublic)
async def trust_list(session: SessionDep, settings: SettingsDep, request: Request, response: Response) -> Any:
    """The cities whose talent codes this city recognises, with a JWS of the same list for offline checks."""
    items = [cities.list_item(city) for city in await cities.all_cities(session)]
    sealer = request.app.state.trust_list_sealer
    keys = await signing.live_keys(session, sealer)
    response.headers["Cache-Control"] = "public, max-age=60"
    return TrustListPublic.model_validate(
        {"items": items, "signed": signing.sign_list(keys, sealer, settings.issuing_city, items)}
    )


@router.get("/trust/keys")
async def trust_list_keys(session: SessionDep, request: Request, response: Response) -> dict[str, Any]:
    """The public keys that sign the trust list, as a JWKS (a key set of their own, apart from the code keys)."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return signing.jwks(await signing.live_keys(session, request.app.state.trust_list_sealer))


@router.get("/admin/trust/cities", response_model=list[TrustCityPublic])
async def list_partner_cities(session: SessionDep, principal: AdminPrincipal) -> list[TrustCityPublic]:
    """The partner cities on the trust list, with their key sets and tier maps."""
    return [cities.public(city) for city in await cities.all_cities(session)]


@router.put("/admin/trust/cities/{city_code}", response_model=TrustCityPublic)
async def put_partner_city(
    city_code: CityCodePath,
    body: TrustCityUpdate,
    session: SessionDep,
    principal: AdminPrincipal,
    settings: SettingsDep,
) -> TrustCityPublic:
    """Register or update a partner city (idempotent); without `jwks` its key set is fetched from `jwks_url`."""
    city = await cities.put_city(
        session,
        principal,
        city_code,
        body,
        own_city=settings.issuing_city,
        allow_private=settings.is_dev,
        fetch_timeout_s=settings.trust_fetch_timeout_s,
    )
    return cities.public(city)


@router.delete("/admin/trust/cities/{city_code}", status_code=204)
async def delete_partner_city(city_code: CityCodePath, session: SessionDep, principal: AdminPrincipal) -> Response:
    """Take a city off the trust list; its codes answer untrusted_issuer from now on."""
    await cities.delete_city(session, principal, city_code)
    return Response(status_code=204)
