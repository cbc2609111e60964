"""Finance endpoints: payment batches (bank file out, the bank's results in) and budget reconciliation
(thin: the rules live in benefits.payments)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from servicekit.auth import Principal, require_roles
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyKey, run_idempotent
from servicekit.pagination import Page, PageDep
from servicekit.problems import problem_responses

from benefits import payments
from benefits.dependencies import ClockDep, FinancePrincipal
from benefits.exceptions import NotCsv, ResultFileTooLarge
from benefits.schemas import BudgetsPublic, PaymentBatchCreate, PaymentBatchPublic, PaymentResultsPublic

router = APIRouter(prefix="/api/v1/finance", tags=["finance"])

BatchId = Annotated[str, Path(min_length=1, max_length=36, description="a payment batch id")]
FinanceOrAuditor = Annotated[Principal, Depends(require_roles("finance_officer", "auditor"))]
# 100,000 lines of a result file take about 5 MB; a file far beyond that is not a bank's.
RESULT_FILE_MAX_BYTES = 64 * 1024 * 1024
CSV_BODY: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "the bank file (UTF-8 CSV ending with its control line)"}
}


async def _result_file(request: Request) -> bytes:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "text/csv":
        raise NotCsv()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > RESULT_FILE_MAX_BYTES:
            raise ResultFileTooLarge(RESULT_FILE_MAX_BYTES)
    return bytes(body)


@router.post("/payment-batches", response_model=PaymentBatchPublic, status_code=201, responses=problem_responses(409))
async def create_payment_batch(
    session: SessionDep,
    principal: FinancePrincipal,
    body: PaymentBatchCreate | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Gather every claim due for payment (公示 ended, or a failed payment) into a new batch for the bank."""
    request = body or PaymentBatchCreate()

    async def create() -> PaymentBatchPublic:
        return await payments.create_batch(session, principal, request)

    return await run_idempotent(
        session,
        principal,
        idempotency_key,
        operation="POST /api/v1/finance/payment-batches",
        body=request,
        create=create,
    )


@router.get("/payment-batches", response_model=Page[PaymentBatchPublic])
async def list_payment_batches(
    session: SessionDep, principal: FinanceOrAuditor, page: PageDep
) -> Page[PaymentBatchPublic]:
    """Payment batches, newest first."""
    return await payments.list_batches(session, page)


@router.get("/payment-batches/{batch_id}", response_model=PaymentBatchPublic)
async def get_payment_batch(batch_id: BatchId, session: SessionDep, principal: FinanceOrAuditor) -> PaymentBatchPublic:
    """One payment batch: its lines, total, file hash and the bank's results so far."""
    return await payments.get_batch(session, batch_id)


@router.get("/payment-batches/{batch_id}/file", response_class=StreamingResponse, responses=CSV_BODY)
async def payment_batch_file(batch_id: BatchId, session: SessionDep, principal: FinanceOrAuditor) -> StreamingResponse:
    """The bank file of a batch (text/csv; its SHA-256 is the batch's file_sha256)."""
    batch, chunks = await payments.bank_file(session, batch_id)
    headers = {
        "Content-Disposition": f'attachment; filename="payment-batch-{batch.id}.csv"',
        "X-Content-SHA256": batch.file_sha256,
        "Cache-Control": "no-store",
    }
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers=headers)


@router.post(
    "/payment-batches/{batch_id}/results",
    response_model=PaymentResultsPublic,
    responses=problem_responses(413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "description": "line_ref,status,bank_reference"}}},
        }
    },
)
async def import_payment_results(
    batch_id: BatchId, request: Request, session: SessionDep, principal: FinancePrincipal, clock: ClockDep
) -> PaymentResultsPublic:
    """Apply the bank's result file (text/csv: line_ref,status,bank_reference); the same file twice is a no-op."""
    return await payments.import_results(session, principal, batch_id, await _result_file(request), clock)


@router.get("/budgets", response_model=BudgetsPublic)
async def budgets(
    session: SessionDep,
    principal: FinanceOrAuditor,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="only this year")] = None,
) -> BudgetsPublic:
    """Budget reconciliation: committed at approval vs paid, per policy and year."""
    return await payments.reconcile_budgets(session, year)
