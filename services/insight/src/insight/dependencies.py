"""Insight's request dependencies: who may read the statistics, and the filters they give."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request
from servicekit.auth import Principal, require_roles

from insight.components import Components
from insight.exceptions import InvalidFilter
from insight.queries import Filters

# Region codes are GB/T 2260 six-digit codes.
_REGION = r"^[0-9]{6}$"


def get_components(request: Request) -> Components:
    components: Components = request.app.state.components
    return components


ComponentsDep = Annotated[Components, Depends(get_components)]
# The city's statistics: leaders, auditors and administrators; never a talent, partner or reviewer.
ReaderPrincipal = Annotated[Principal, Depends(require_roles("leader", "auditor", "admin"))]


def get_filters(
    region: Annotated[str | None, Query(pattern=_REGION, description="GB/T 2260 region code")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    since: Annotated[date | None, Query(alias="from", description="first day (inclusive)")] = None,
    until: Annotated[date | None, Query(alias="to", description="last day (inclusive)")] = None,
) -> Filters:
    if since and until and since > until:
        raise InvalidFilter("from", "must not be after to")
    if since and until and (until - since).days > 3660:
        raise InvalidFilter("from", "a series spans at most ten years")
    return Filters(region=region, year=year, since=since, until=until)


FiltersDep = Annotated[Filters, Depends(get_filters)]
