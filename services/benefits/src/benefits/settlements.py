"""Cross-city cost settlement (成本结算): usage records and monthly statements.

Usage. Applicant sends `talent.applicant.code.verified.v1` for every verification of a talent code. Each one
that was valid and granted privileges is stored once (keyed by its event id) as a use: partner, partner kind,
scene, issuing city, tier, privileges and when it happened. Nothing names the talent.

Statements. A month (city time) is issued once it has ended: one statement per partner and issuing city,
with a line per scene and privilege — how many verifications granted it, the unit price from the price table
(benefits.settlement_rules, the version in force at issue) and the amount (count × price). Issuing marks
every use not yet settled, of that month or before, as settled by it, and counts exactly the uses it marked;
a use of an earlier, already issued month (it arrived after that month's issue) becomes a correction line
(`correction_of` = its month, priced at that month's price). An issued statement never changes: its canonical
JSON (keys sorted, no spaces, UTF-8) is hashed with SHA-256, the hash goes into the hash-chained audit log.
Months are issued in order: a month with uses of its own still unsettled must be issued first.

Before issue, the same computation without marking anything is shown as provisional figures.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts import CloudEvent
from contracts.events import CodeVerified
from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.clock import Clock
from benefits.exceptions import (
    SettlementAlreadyIssued,
    SettlementEarlierMonthOpen,
    SettlementMonthInFuture,
    SettlementMonthNotEnded,
    SettlementPriceMissing,
)
from benefits.models import SettlementMonth, SettlementStatement
from benefits.rules import RULES
from benefits.schemas import SettlementLinePublic, SettlementsPublic, SettlementStatementPublic
from benefits.settlement_repository import SettlementRepository, UsageGroup
from benefits.settlement_rules import SETTLEMENT_PRICES, SettlementPrices

# Roles that see every partner's statements; a partner sees its own.
FINANCE_VIEW = frozenset({"admin", "finance_officer"})
CSV_COLUMNS = (
    "month",
    "status",
    "partner",
    "partner_kind",
    "issuing_city",
    "scene",
    "privilege",
    "correction_of",
    "count",
    "unit_price_fen",
    "amount_fen",
    "prices_version",
    "statement_sha256",
)


def city_month(at: datetime, clock: Clock) -> str:
    """The month (YYYY-MM) of an instant, in city time."""
    return (at + clock.utc_offset).strftime("%Y-%m")


# --- usage ---------------------------------------------------------------------------------------------


def usage_values(event: CloudEvent, data: CodeVerified, clock: Clock, own_city: str) -> dict[str, Any] | None:
    """The use a verification records, or None when it settles nothing (refused, or no privilege granted)."""
    if not data.valid or not data.privileges:
        return None
    return {
        "event_id": event.id,
        "partner": data.partner,
        "partner_kind": data.partner_kind,
        "scene": data.scene,
        # Events of this platform's own codes sent before the field existed carry no city.
        "issuing_city": data.issuing_city or own_city,
        "tier": data.tier,
        "privileges": ",".join(sorted(set(data.privileges))),
        "occurred_at": event.time,
        "month": city_month(event.time, clock),
        "received_at": utcnow(),
        "settled_month": None,
    }


async def record_use(session: AsyncSession, event: CloudEvent, data: CodeVerified, clock: Clock, own_city: str) -> None:
    values = usage_values(event, data, clock, own_city)
    if values is not None:
        await SettlementRepository(session).add_usage(values)


# --- statements ------------------------------------------------------------------------------------------


@dataclass
class _Statement:
    partner: str
    issuing_city: str
    partner_kind: str
    verifications: int = 0
    # (correction_of or "", scene, privilege) -> count
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)


def _gather(groups: Iterable[UsageGroup], month: str) -> list[_Statement]:
    statements: dict[tuple[str, str], _Statement] = {}
    for group in groups:
        key = (group.partner, group.issuing_city)
        statement = statements.get(key)
        if statement is None:
            statement = statements[key] = _Statement(group.partner, group.issuing_city, group.partner_kind)
        statement.partner_kind = min(statement.partner_kind, group.partner_kind)  # one kind per client in practice
        statement.verifications += group.count
        correction = "" if group.month == month else group.month
        for privilege in group.privileges:
            line = (correction, group.scene, privilege)
            statement.counts[line] = statement.counts.get(line, 0) + group.count
    return [statements[key] for key in sorted(statements)]


def _document(
    statement: _Statement, month: str, prices: SettlementPrices, prices_version: int, issued_at: str | None
) -> dict[str, Any]:
    """A statement's document: the fields its hash covers."""
    lines = []
    total: int | None = 0
    # The month's own uses first, then corrections, oldest month first.
    for correction, scene, privilege in sorted(statement.counts, key=lambda k: (k[0] != "", k)):
        count = statement.counts[(correction, scene, privilege)]
        unit = prices.price(privilege, correction or month)
        amount = None if unit is None else unit * count
        total = None if total is None or amount is None else total + amount
        lines.append(
            {
                "scene": scene,
                "privilege": privilege,
                "correction_of": correction or None,
                "count": count,
                "unit_price_fen": unit,
                "amount_fen": amount,
                "prices_version": prices_version,
            }
        )
    return {
        "month": month,
        "partner": statement.partner,
        "partner_kind": statement.partner_kind,
        "issuing_city": statement.issuing_city,
        "currency": prices.currency,
        "prices_version": prices_version,
        "verifications": statement.verifications,
        "total_fen": total,
        "lines": lines,
        "issued_at": issued_at,
    }


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes a statement's SHA-256 is taken of: JSON with sorted keys, no spaces, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _public(document: dict[str, Any], *, id: str | None = None, sha256: str | None = None) -> SettlementStatementPublic:
    return SettlementStatementPublic(
        id=id,
        provisional=id is None,
        sha256=sha256,
        **{**document, "lines": [SettlementLinePublic(**line) for line in document["lines"]]},
    )


def _check_month(month: str, now: datetime, clock: Clock) -> str:
    """The current month (city time); a month after it is refused."""
    current = city_month(now, clock)
    if month > current:
        raise SettlementMonthInFuture(month)
    return current


async def issue(session: AsyncSession, principal: Principal, month: str, clock: Clock) -> SettlementsPublic:
    """Issue a month's statements (see the module's docstring); 422 before the month ends, 409 once issued."""
    now = utcnow().replace(microsecond=0)
    if month >= _check_month(month, now, clock):
        raise SettlementMonthNotEnded(month)
    repo = SettlementRepository(session)
    if await repo.issued(month) is not None:
        raise SettlementAlreadyIssued(month)
    earlier = await repo.unsettled_months_before(month)
    still_open = sorted(earlier - await repo.issued_among(earlier))
    if still_open:
        raise SettlementEarlierMonthOpen(month, still_open[0])
    prices = await RULES.current(session, SETTLEMENT_PRICES)
    run = SettlementMonth(
        month=month,
        prices_version=prices.version,
        statements=0,
        verifications=0,
        total_fen=0,
        issued_by=principal.sub,
        issued_at=now,
    )
    session.add(run)
    try:
        # First, so that a concurrent issue of the same month waits here and then fails (one primary key).
        await session.flush()
    except IntegrityError as exc:
        raise SettlementAlreadyIssued(month) from exc
    await repo.settle(month)
    issued_at = now.isoformat().replace("+00:00", "Z")
    documents = [
        _document(s, month, prices.value, prices.version, issued_at)
        for s in _gather(await repo.usage_groups(month, settled=True), month)
    ]
    unpriced = sorted({line["privilege"] for d in documents for line in d["lines"] if line["unit_price_fen"] is None})
    if unpriced:
        raise SettlementPriceMissing(unpriced, month)  # the transaction, marks included, is rolled back
    items = []
    for document in documents:
        sha256 = hashlib.sha256(canonical(document)).hexdigest()
        row = SettlementStatement(
            id=str(uuid.uuid4()),
            month=month,
            partner=document["partner"],
            issuing_city=document["issuing_city"],
            total_fen=document["total_fen"],
            document=document,
            sha256=sha256,
        )
        session.add(row)
        await audit.record(
            session,
            principal,
            "settlement_statement.issued",
            subject_type="settlement_statement",
            subject_id=row.id,
            after={
                "month": month,
                "partner": row.partner,
                "issuing_city": row.issuing_city,
                "verifications": document["verifications"],
                "total_fen": row.total_fen,
                "prices_version": prices.version,
                "sha256": sha256,
            },
        )
        items.append(_public(document, id=row.id, sha256=sha256))
    run.statements = len(items)
    run.verifications = sum(d["verifications"] for d in documents)
    run.total_fen = sum(d["total_fen"] for d in documents)
    await audit.record(
        session,
        principal,
        "settlement_month.issued",
        subject_type="settlement_month",
        subject_id=month,
        after={
            "statements": run.statements,
            "verifications": run.verifications,
            "total_fen": run.total_fen,
            "prices_version": prices.version,
            "sha256": sorted(i.sha256 or "" for i in items),
        },
    )
    await session.flush()
    return SettlementsPublic(month=month, provisional=False, issued_at=now, issued_by=principal.sub, items=items)


async def view(session: AsyncSession, principal: Principal, month: str, clock: Clock) -> SettlementsPublic:
    """A month's issued statements, or before issue its provisional figures; a partner sees only its own."""
    _check_month(month, utcnow(), clock)
    own = None if principal.has_any(FINANCE_VIEW) else principal.sub
    repo = SettlementRepository(session)
    run = await repo.issued(month)
    if run is not None:
        items = [_public(s.document, id=s.id, sha256=s.sha256) for s in await repo.statements(month, own)]
        issued_by = run.issued_by if own is None else None
        return SettlementsPublic(
            month=month, provisional=False, issued_at=run.issued_at, issued_by=issued_by, items=items
        )
    prices = RULES.get(SETTLEMENT_PRICES)
    groups = [g for g in await repo.usage_groups(month, settled=False) if own is None or g.partner == own]
    items = [_public(_document(s, month, prices.value, prices.version, None)) for s in _gather(groups, month)]
    return SettlementsPublic(month=month, provisional=True, issued_at=None, items=items)


def csv_chunks(settlements: SettlementsPublic) -> Iterator[bytes]:
    """The statements as CSV: one row per line, with its statement's columns (UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    status = "provisional" if settlements.provisional else "issued"
    for s in settlements.items:
        for line in s.lines:
            writer.writerow(
                (
                    s.month,
                    status,
                    s.partner,
                    s.partner_kind,
                    s.issuing_city,
                    line.scene,
                    line.privilege,
                    line.correction_of or "",
                    line.count,
                    "" if line.unit_price_fen is None else line.unit_price_fen,
                    "" if line.amount_fen is None else line.amount_fen,
                    line.prices_version,
                    s.sha256 or "",
                )
            )
    yield out.getvalue().encode()
