"""Housing's request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from servicekit.auth import Principal, require_roles
from servicekit.pagination import PageParams, decode_cursor

# Officer endpoints: the gateway checks the same role, and so does the service (defence in depth).
HousingOfficer = Annotated[Principal, Depends(require_roles("housing_officer"))]


async def results_page_params(
    limit: Annotated[int, Query(ge=1, le=5000, description="page size")] = 1000,
    cursor: Annotated[str | None, Query(max_length=500, description="from the previous page's next_cursor")] = None,
) -> PageParams:
    """A round's published results page through larger pages than other lists (default 1,000, at most 5,000):
    anyone may recompute a whole draw from them."""
    return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)


ResultsPageDep = Annotated[PageParams, Depends(results_page_params)]
