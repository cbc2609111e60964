"""Payment batches (兑现 by bank file) and budget reconciliation, for finance.

A batch gathers every claim due for payment — its 公示 ended without objection, or an earlier payment
failed — that no open batch holds, one line per claim with a reference of its own (`line_ref`). The bank
file lists the lines (docs/api.md names the columns) and ends with a control line of the count and total;
its SHA-256 is recorded on the batch, and the file is rebuilt from the lines byte for byte on every
download. The bank answers with a result file (`line_ref,status,bank_reference`): a paid line moves its
claim to `disbursed` (DISBURSE), a failed one to `payment_failed` (FAIL_PAYMENT), through `flow.transition`
as every move does, and a failed claim goes into a later batch. A line that already has its result is
ignored, so the same file twice changes nothing; what cannot be applied is reported, never guessed.

The bank matches a line to an account on `payee_reference` (the talent id): benefits holds no account
numbers, names, phones or identity numbers, and the file carries none.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from servicekit import audit, timers
from servicekit.auth import Principal
from servicekit.bulk import queue_insert
from servicekit.db import utcnow
from servicekit.messages import Message
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_page
from sqlalchemy import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.catalogue import Policy
from benefits.clock import Clock
from benefits.effects import apply_payment_effects
from benefits.exceptions import NothingToPay, PaymentBatchNotFound, UnreadableResultFile
from benefits.flow import transition
from benefits.models import Claim, PaymentBatch, PaymentLine
from benefits.policies import get_policy
from benefits.repository import BenefitsRepository
from benefits.schemas import (
    BudgetReconciliation,
    BudgetsPublic,
    PaymentBatchCreate,
    PaymentBatchPublic,
    PaymentProblem,
    PaymentResultsPublic,
)
from benefits.states import CLAIM_FLOW, ClaimAction, PaymentBatchStatus, PaymentResult

BANK_FILE_COLUMNS = ("line_ref", "claim_id", "payee_reference", "policy_code", "year", "amount_fen")
RESULT_COLUMNS = ("line_ref", "status", "bank_reference")  # and, if the bank echoes it, amount_fen
CONTROL = "#control"
# Lines encoded per chunk of the streamed bank file.
_FILE_CHUNK = 2000
# A bank reference is stored as the claim's payment_reference: the same shape the manual disbursement takes.
_BANK_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-./:]{2,63}$")
_LINE_TABLE: Table = PaymentLine.__table__  # type: ignore[attr-defined]
# Claims moved per flush of a result file's import (their objects then leave the session).
_APPLY_CHUNK = 500


def public(batch: PaymentBatch) -> PaymentBatchPublic:
    return PaymentBatchPublic.model_validate(batch, from_attributes=True)


# --- the bank file -------------------------------------------------------------------------------


def _csv_line(values: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def bank_file_chunks(rows: Sequence[Sequence[Any]], total_fen: int) -> Iterator[bytes]:
    """The bank file in UTF-8 chunks: the header, one line per payment in line order, the control line.

    Built from the lines alone (nothing of the moment it is built), so every download hashes the same.
    """
    yield _csv_line(BANK_FILE_COLUMNS).encode()
    for start in range(0, len(rows), _FILE_CHUNK):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(rows[start : start + _FILE_CHUNK])
        yield out.getvalue().encode()
    yield _csv_line((CONTROL, len(rows), total_fen)).encode()


def _sha256(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


async def bank_file(session: AsyncSession, batch_id: str) -> tuple[PaymentBatch, Iterator[bytes]]:
    """A batch's bank file, to stream (its SHA-256 is the batch's `file_sha256`)."""
    repo = BenefitsRepository.of(session)
    batch = await repo.get_payment_batch(batch_id)
    if batch is None:
        raise PaymentBatchNotFound()
    rows = await repo.bank_file_rows(batch.id)
    return batch, bank_file_chunks(rows, batch.total_fen)


# --- batches -------------------------------------------------------------------------------------


async def create_batch(session: AsyncSession, principal: Principal, body: PaymentBatchCreate) -> PaymentBatchPublic:
    """Gather every claim due for payment (of one policy, or all) into a new open batch; 409 when none is."""
    repo = BenefitsRepository.of(session)
    # One officer per stage: a finance officer who also decided a claim at review never pays it.
    due = await repo.payable_claims(body.policy_code, excluding_decided_by=principal.sub)
    if not due:
        raise NothingToPay()
    batch_id = str(uuid.uuid4())
    # The reference the bank echoes: short (bank systems cap references), unique, readable as batch + line.
    prefix = "PB" + batch_id.replace("-", "")[:12].upper()
    rows = []
    total = 0
    batch = PaymentBatch(id=batch_id, policy_code=body.policy_code, file_sha256="", created_by=principal.sub)
    session.add(batch)
    await session.flush()  # the lines below reference it
    for seq, claim_row in enumerate(due, start=1):
        claim_id, talent_id, policy_code, year, amount_fen = claim_row
        line_ref = f"{prefix}{seq:06d}"
        total += amount_fen
        rows.append((line_ref, claim_id, talent_id, policy_code, year, amount_fen))
        queue_insert(
            session,
            _LINE_TABLE,
            {
                "batch_id": batch_id,
                "seq": seq,
                "line_ref": line_ref,
                "claim_id": claim_id,
                "pending_claim_id": claim_id,
                "talent_id": talent_id,
                "policy_code": policy_code,
                "year": year,
                "amount_fen": amount_fen,
                "result": None,
                "bank_reference": None,
                "result_at": None,
            },
        )
    batch.lines, batch.total_fen = len(rows), total
    batch.file_sha256 = _sha256(bank_file_chunks(rows, total))
    await audit.record(
        session,
        principal,
        "payment_batch.created",
        subject_type="payment_batch",
        subject_id=batch_id,
        after={"lines": batch.lines, "total_fen": total, "policy": body.policy_code, "sha256": batch.file_sha256},
    )
    await session.flush()
    return public(batch)


async def get_batch(session: AsyncSession, batch_id: str) -> PaymentBatchPublic:
    batch = await BenefitsRepository.of(session).get_payment_batch(batch_id)
    if batch is None:
        raise PaymentBatchNotFound()
    return public(batch)


async def list_batches(session: AsyncSession, page: PageParams) -> Page[PaymentBatchPublic]:
    """Newest first."""
    rows = await BenefitsRepository.of(session).payment_batches(
        limit=page.limit + 1, after=page.position(cursor_time, cursor_key)
    )
    found = keyset_page(rows, page.limit, lambda b: [b.created_at.isoformat(), b.id])
    return Page(items=[public(b) for b in found.items], next_cursor=found.next_cursor)


# --- the bank's result file ----------------------------------------------------------------------


@dataclass
class _Line:
    """A batch line as the import reads it (a plain row, not a session object)."""

    id: int
    line_ref: str
    claim_id: str
    amount_fen: int
    result: PaymentResult | None
    bank_reference: str | None


@dataclass
class _Result:
    number: int  # line number in the file
    line: _Line
    result: PaymentResult
    bank_reference: str | None


def _parse(content: bytes) -> tuple[list[tuple[int, dict[str, str]]], list[PaymentProblem]]:
    """The file's data lines by line number, after its header; blank and `#` lines (a control line) are skipped."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableResultFile("not_utf8") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise UnreadableResultFile("empty") from None
    except csv.Error as exc:
        raise UnreadableResultFile("header_not_csv") from exc
    missing = [c for c in RESULT_COLUMNS if c not in header]
    if missing:
        raise UnreadableResultFile("header_lacks")
    lines: list[tuple[int, dict[str, str]]] = []
    problems: list[PaymentProblem] = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(PaymentProblem(line=reader.line_num, line_ref=None, problem=f"not CSV: {exc}"))
            continue
        if not values or not any(v.strip() for v in values) or values[0].startswith("#"):
            continue
        if len(values) != len(header):
            problems.append(
                PaymentProblem(
                    line=reader.line_num,
                    line_ref=values[0].strip() or None,
                    problem=f"{len(values)} fields where the header has {len(header)}",
                )
            )
            continue
        lines.append((reader.line_num, {h: v.strip() for h, v in zip(header, values, strict=True)}))
    return lines, problems


def _check(
    number: int, fields: dict[str, str], by_ref: dict[str, _Line], seen: set[str]
) -> tuple[_Result | None, str | None]:
    """A line of the result file checked against the batch: a result to apply, or a problem (or neither:
    already applied)."""
    ref = fields["line_ref"]
    line = by_ref.get(ref)
    if line is None:
        return None, "no line of this batch has this line_ref"
    if ref in seen:
        return None, "this line_ref appears more than once in the file; only its first line counts"
    seen.add(ref)
    try:
        result = PaymentResult(fields["status"].lower())
    except ValueError:
        return None, f"status must be paid or failed, not {fields['status']!r}"
    reference = fields["bank_reference"] or None
    if result is PaymentResult.PAID and (reference is None or not _BANK_REFERENCE.fullmatch(reference)):
        return None, "a paid line needs a bank_reference of 3-64 letters, digits or _-./:"
    if reference is not None and len(reference) > 64:
        return None, "the bank_reference is longer than 64 characters"
    amount = fields.get("amount_fen")
    if amount is not None and amount != str(line.amount_fen):
        return None, f"amount_fen {amount} differs from the batch's {line.amount_fen}; not applied"
    if line.result is not None:
        if line.result == result and (result is PaymentResult.FAILED or line.bank_reference == reference):
            return None, None  # already applied: the same file (or line) again changes nothing
        return None, f"this line was already recorded as {line.result}; a different result is not applied"
    return _Result(number, line, result, reference), None


async def import_results(
    session: AsyncSession, principal: Principal, batch_id: str, content: bytes, clock: Clock
) -> PaymentResultsPublic:
    """Apply the bank's result file to an open or settled batch, line by line; see the module's docstring."""
    repo = BenefitsRepository.of(session)
    batch = await repo.get_payment_batch(batch_id, lock=True)
    if batch is None:
        raise PaymentBatchNotFound()
    parsed, problems = _parse(content)
    by_ref = {row[1]: _Line(*row) for row in await repo.payment_lines(batch.id)}
    seen: set[str] = set()
    results: list[_Result] = []
    ignored = 0
    for number, fields in parsed:
        result, problem = _check(number, fields, by_ref, seen)
        if problem is not None:
            problems.append(PaymentProblem(line=number, line_ref=fields["line_ref"] or None, problem=problem))
        elif result is None:
            ignored += 1
        else:
            results.append(result)

    claim_ids = [r.line.claim_id for r in results]
    decided = await repo.decided_by(principal.sub, claim_ids)
    paid_references = [r.bank_reference for r in results if r.result is PaymentResult.PAID and r.bank_reference]
    used = await repo.used_payment_references(paid_references)
    policies: dict[tuple[str, int], Policy] = {}
    now = utcnow()
    paid: list[str] = []
    failed = 0
    applied: list[dict[str, Any]] = []
    for start in range(0, len(results), _APPLY_CHUNK):
        chunk = results[start : start + _APPLY_CHUNK]
        claims = await repo.claims_by_id([r.line.claim_id for r in chunk], lock=True)
        # Each line moves its claim once: the chunk's timers are cancelled together at its end, so its history,
        # audit and event rows go out as multi-row INSERTs rather than claim by claim (servicekit.timers).
        async with timers.cancels_batched(session):
            for r in chunk:
                claim = claims[r.line.claim_id]
                problem = _refusal(r, claim, decided, used)
                if problem is not None:
                    problems.append(PaymentProblem(line=r.number, line_ref=r.line.line_ref, problem=problem))
                    continue
                where = {"batch": batch.id, "line": r.line.line_ref}
                if r.result is PaymentResult.PAID:
                    assert r.bank_reference is not None
                    used.add(r.bank_reference)
                    claim.payment_reference = r.bank_reference
                    claim.disbursed_at = now
                    await transition(
                        session,
                        claim,
                        ClaimAction.DISBURSE,
                        actor=principal,
                        clock=clock,
                        reason=Message("benefits.history.paid_in_batch", {"reference": r.bank_reference, **where}),
                    )
                    key = (claim.policy_code, claim.policy_version)
                    if key not in policies:
                        policies[key] = await get_policy(session, *key)
                    await apply_payment_effects(session, claim, policies[key], clock)
                    paid.append(claim.id)
                else:
                    await transition(
                        session,
                        claim,
                        ClaimAction.FAIL_PAYMENT,
                        actor=principal,
                        clock=clock,
                        reason=Message("benefits.history.payment_failed", where),
                    )
                    failed += 1
                applied.append(
                    {"line_id": r.line.id, "result": r.result, "bank_reference": r.bank_reference, "at": now}
                )
        # The claims of a chunk leave the session once written: every statement after (each transition's
        # timer updates) would otherwise walk all of a large file's claims again.
        await session.flush()
        for claim in claims.values():
            session.expunge(claim)
    await repo.record_line_results(applied)
    # Objections raised during an earlier 公示 end with the payment, as with a single disbursement.
    await repo.resolve_objections(paid, now)
    batch.paid += len(paid)
    batch.failed += failed
    if batch.status == PaymentBatchStatus.OPEN and batch.paid + batch.failed >= batch.lines:
        batch.status, batch.settled_at = PaymentBatchStatus.SETTLED, now
    outcome = PaymentResultsPublic(paid=len(paid), failed=failed, ignored=ignored, problems=problems)
    if paid or failed:
        await audit.record(
            session,
            principal,
            "payment_batch.results",
            subject_type="payment_batch",
            subject_id=batch.id,
            after={
                "sha256": hashlib.sha256(content).hexdigest(),
                "paid": len(paid),
                "failed": failed,
                "ignored": ignored,
                "problems": len(problems),
                "status": batch.status,
            },
        )
    await session.flush()
    return outcome


def _refusal(r: _Result, claim: Claim, decided: set[str], used: set[str]) -> str | None:
    """Why a well-formed line cannot move its claim (None: it can)."""
    action = ClaimAction.DISBURSE if r.result is PaymentResult.PAID else ClaimAction.FAIL_PAYMENT
    if not CLAIM_FLOW.can(claim.status, action):
        return f"the claim is {claim.status} and cannot be recorded as {r.result}; not applied"
    if claim.id in decided:
        return "you decided this claim at a review stage; another finance officer must import this line"
    if r.result is PaymentResult.PAID and r.bank_reference in used:
        return "this bank_reference was already recorded for another payment; not applied"
    return None


# --- budget reconciliation ------------------------------------------------------------------------


async def reconcile_budgets(session: AsyncSession, year: int | None) -> BudgetsPublic:
    """Per policy and year: what the city's approvals committed, what was paid, and whether the budget's own
    running total agrees with the claims holding budget."""
    repo = BenefitsRepository.of(session)
    catalogue = await repo.catalogue()
    budgets = {(b.policy_code, b.year): b for b in await repo.budgets(year)}
    paid = await repo.claim_sums(year, paid=True)
    held = await repo.claim_sums(year, paid=False)
    items = []
    for key in sorted(set(budgets) | set(paid) | set(held), key=lambda k: (-k[1], k[0])):
        row = budgets.get(key)
        committed_fen, committed_count = (row.committed_fen, row.committed_count) if row else (0, 0)
        paid_fen, paid_count = paid.get(key, (0, 0))
        claims_fen = held.get(key, (0, 0))[0]
        policy = catalogue.by_code.get(key[0])
        items.append(
            BudgetReconciliation(
                policy_code=key[0],
                year=key[1],
                budget_fen=policy.rules.budget.yearly_budget_fen if policy else None,
                committed_fen=committed_fen,
                committed_count=committed_count,
                paid_fen=paid_fen,
                paid_count=paid_count,
                unpaid_fen=committed_fen - paid_fen,
                claims_committed_fen=claims_fen,
                consistent=claims_fen == committed_fen,
            )
        )
    return BudgetsPublic(items=items)
