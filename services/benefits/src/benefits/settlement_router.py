"""Cross-city cost settlement endpoints (thin: the rules live in benefits.settlements)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from servicekit.auth import Principal, require_roles
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyKey, run_idempotent
from servicekit.problems import problem_responses

from benefits import settlements
from benefits.dependencies import ClockDep
from benefits.schemas import MONTH_PATTERN, SettlementIssue, SettlementsPublic

router = APIRouter(prefix="/api/v1", tags=["settlements"])

SettlementIssuer = Annotated[Principal, Depends(require_roles("finance_officer", "admin"))]
SettlementReader = Annotated[Principal, Depends(require_roles("finance_officer", "admin", "partner"))]
Month = Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM (city time)", examples=["2026-11"])]
CSV_BODY: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/SettlementsPublic"}},
            "text/csv": {"schema": {"type": "string"}},
        },
        "description": "the month's statements: JSON, or CSV (one row per line) for Accept: text/csv or format=csv",
    }
}


@router.post(
    "/finance/settlements", response_model=SettlementsPublic, status_code=201, responses=problem_responses(409)
)
async def issue_settlements(
    body: SettlementIssue,
    session: SessionDep,
    principal: SettlementIssuer,
    clock: ClockDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Issue a finished month's settlement statements (immutable, hashed, audited); 409 once issued."""

    async def create() -> SettlementsPublic:
        return await settlements.issue(session, principal, body.month, clock)

    return await run_idempotent(
        session, principal, idempotency_key, operation="POST /api/v1/finance/settlements", body=body, create=create
    )


@router.get("/settlements", response_model=SettlementsPublic, responses=CSV_BODY)
async def get_settlements(
    request: Request,
    month: Month,
    session: SessionDep,
    principal: SettlementReader,
    clock: ClockDep,
    format: Annotated[Literal["json", "csv"] | None, Query(description="csv: the same as Accept: text/csv")] = None,
) -> Any:
    """A month's statements per partner and issuing city (provisional before issue); partners see their own."""
    found = await settlements.view(session, principal, month, clock)
    wants_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
    if not wants_csv:
        return found
    status = "provisional" if found.provisional else "issued"
    headers = {
        "Content-Disposition": f'attachment; filename="settlements-{month}-{status}.csv"',
        "Cache-Control": "no-store",
    }
    return StreamingResponse(settlements.csv_chunks(found), media_type="text/csv; charset=utf-8", headers=headers)
