"""人才需求申报: employers declare open posts (a title, how many, the shortage category, the degree and salary band
they offer), listed publicly while open, until the employer closes them.

    (new) ─declare─► open ─close─► closed

The region is the employer's (from its token), the shortage category one of the shortage catalogue's key
industries, the salary band one of data/demand.json's (catalogues: package data). A declaration names the
employer, never a person.
"""

from __future__ import annotations

import uuid
from typing import Any

from contracts import DemandClosed, DemandDeclared, EventData
from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_after, keyset_page
from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import catalogue
from applicant.employer.dependencies import EmployerCaller
from applicant.employer.models import Demand
from applicant.employer.schemas import DemandCreate, DemandFilter, DemandOptions, DemandPublic, SalaryBandPublic
from applicant.events import outbox
from applicant.exceptions import DemandNotFound, InvalidDemand
from applicant.states import DEMAND_FLOW, DemandAction, DemandStatus

_ORDER = (col(Demand.declared_at), col(Demand.id))


def options() -> DemandOptions:
    """What a declaration may name: the shortage catalogue's key industries and the salary bands."""
    return DemandOptions(
        shortage_categories=list(catalogue.shortage_categories()),
        salary_bands=[
            SalaryBandPublic(code=b.code, label_zh=b.label_zh, label_en=b.label_en) for b in catalogue.salary_bands()
        ],
    )


def _check(body: DemandCreate) -> None:
    if body.shortage_category not in catalogue.shortage_categories():
        raise InvalidDemand("shortage_category", "applicant.invalid.not_a_shortage_category")
    if body.salary_band is not None and body.salary_band not in {b.code for b in catalogue.salary_bands()}:
        raise InvalidDemand("salary_band", "applicant.invalid.not_a_salary_band")


async def declare(session: AsyncSession, caller: EmployerCaller, body: DemandCreate) -> Demand:
    """Declare open posts in the caller's employer's region (422 naming the field for a category or band that
    is not in the catalogues)."""
    _check(body)
    if not caller.region_code:
        raise InvalidDemand("region_code", "applicant.invalid.employer_without_region")
    demand = Demand(
        id=str(uuid.uuid4()),
        employer_credit_code=caller.credit_code,
        employer_name=caller.name,
        region_code=caller.region_code,
        title=body.title,
        count=body.count,
        shortage_category=body.shortage_category,
        degree=body.degree,
        salary_band=body.salary_band,
        declared_by=caller.user,
        declared_at=utcnow(),
    )
    await transition(session, demand, DemandAction.DECLARE, actor=caller.as_principal())
    session.add(demand)
    await session.flush()
    return demand


async def close(session: AsyncSession, caller: EmployerCaller, demand_id: str) -> None:
    """Close one of the caller's employer's demands (404 for another's); closing a closed one changes nothing."""
    demand = await session.get(Demand, demand_id)
    if demand is None or demand.employer_credit_code != caller.credit_code:
        raise DemandNotFound(demand_id)
    if demand.status == DemandStatus.CLOSED:
        return
    await transition(session, demand, DemandAction.CLOSE, actor=caller.as_principal())
    await session.flush()


async def transition(session: AsyncSession, demand: Demand, action: DemandAction, *, actor: Principal) -> None:
    """Move the demand by `action` (IllegalTransition, 409, when its status does not allow it), with its audit
    entry (demand.<action>) and its event (DemandDeclared, DemandClosed). A declaration's demand is new: the
    caller adds it to the session."""
    move = DEMAND_FLOW[action]
    new = not move.sources
    if not new:
        DEMAND_FLOW.check(demand.status, action)
    before = None if new else _snapshot(demand)
    assert move.target is not None
    demand.status = move.target
    now = demand.declared_at if new else utcnow()
    if action is DemandAction.CLOSE:
        demand.closed_at, demand.closed_by = now, actor.sub
    await audit.record(
        session,
        actor,
        f"demand.{action}",
        subject_type="demand",
        subject_id=demand.id,
        before=before,
        after=_snapshot(demand),
    )
    outbox.emit(session, _event_of(demand, action), subject=demand.id)


def _event_of(demand: Demand, action: DemandAction) -> EventData:
    if action is DemandAction.CLOSE:
        assert demand.closed_at is not None
        return DemandClosed(
            demand_id=demand.id,
            employer_credit_code=demand.employer_credit_code,
            region_code=demand.region_code,
            shortage_category=demand.shortage_category,
            count=demand.count,
            closed_at=demand.closed_at,
        )
    return DemandDeclared(
        demand_id=demand.id,
        employer_credit_code=demand.employer_credit_code,
        region_code=demand.region_code,
        title=demand.title,
        count=demand.count,
        shortage_category=demand.shortage_category,
        degree=demand.degree,
        salary_band=demand.salary_band,
        declared_at=demand.declared_at,
    )


def _snapshot(demand: Demand) -> dict[str, Any]:
    return {"status": demand.status, "count": demand.count, "shortage_category": demand.shortage_category}


# --- lists -------------------------------------------------------------------------------------------------


async def list_own(session: AsyncSession, caller: EmployerCaller, page: PageParams) -> Page[DemandPublic]:
    """The caller's employer's demands, open and closed, newest first."""
    return await _page(session, [col(Demand.employer_credit_code) == caller.credit_code], page)


async def list_open(session: AsyncSession, where: DemandFilter, page: PageParams) -> Page[DemandPublic]:
    """The open demands of every employer, newest first, filtered by region, shortage category and degree."""
    conditions = [col(Demand.status) == DemandStatus.OPEN]
    if where.region_code is not None:
        conditions.append(col(Demand.region_code) == where.region_code)
    if where.shortage_category is not None:
        conditions.append(col(Demand.shortage_category) == where.shortage_category)
    if where.degree is not None:
        conditions.append(col(Demand.degree) == where.degree)
    return await _page(session, conditions, page)


async def _page(session: AsyncSession, conditions: list[ColumnElement[bool]], page: PageParams) -> Page[DemandPublic]:
    query = select(Demand).where(*conditions)
    after = page.position(cursor_time, cursor_key)
    if after is not None:
        query = query.where(keyset_after(_ORDER, after, descending=True))
    query = query.order_by(*(c.desc() for c in _ORDER)).limit(page.limit + 1)
    found = keyset_page(list((await session.exec(query)).all()), page.limit, _position)
    return Page(items=[public(d) for d in found.items], next_cursor=found.next_cursor)


def _position(demand: Demand) -> list[Any]:
    return [demand.declared_at.isoformat(), demand.id]


def public(demand: Demand) -> DemandPublic:
    return DemandPublic(
        id=demand.id,
        employer_credit_code=demand.employer_credit_code,
        employer_name=demand.employer_name,
        region_code=demand.region_code,
        title=demand.title,
        count=demand.count,
        shortage_category=demand.shortage_category,
        degree=demand.degree,
        salary_band=demand.salary_band,
        status=demand.status,
        declared_at=demand.declared_at,
        closed_at=demand.closed_at,
    )
