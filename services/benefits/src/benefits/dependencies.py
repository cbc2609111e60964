"""Benefits' request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from servicekit.auth import Principal, require_roles

from benefits.clock import Clock


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
ClaimId = Annotated[str, Path(min_length=1, max_length=36, description="a claim id")]
PolicyCodePath = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Z][A-Z0-9_]{1,39}$")]

AdminPrincipal = Annotated[Principal, Depends(require_roles("admin"))]
ReviewerPrincipal = Annotated[Principal, Depends(require_roles("county_reviewer", "city_approver"))]
OfficerPrincipal = Annotated[
    Principal, Depends(require_roles("county_reviewer", "city_approver", "finance_officer", "auditor", "admin"))
]
QueuePrincipal = Annotated[Principal, Depends(require_roles("county_reviewer", "city_approver", "finance_officer"))]
FinancePrincipal = Annotated[Principal, Depends(require_roles("finance_officer"))]
CityApproverPrincipal = Annotated[Principal, Depends(require_roles("city_approver"))]
