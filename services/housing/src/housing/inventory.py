"""Inventory: talent-apartment projects and their units, as officers add them and take them off the market.

Every function works inside the caller's transaction: it flushes, never commits. Officer actions are
written to the hash-chained audit log in the same transaction as their effect.
"""

from __future__ import annotations

from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import Page, PageParams, cursor_key, keyset_page
from sqlmodel.ext.asyncio.session import AsyncSession

from housing import repository as repo
from housing.exceptions import InvalidHousingRequest, ProjectNotFound, UnitBusy, UnitNotFound, UnitNumberTaken
from housing.models import HousingProject, HousingUnit
from housing.schemas import ProjectCreate, ProjectPublic, UnitPublic, UnitsCreate, UnitUpdate
from housing.states import MARKET_ACTIONS, UNIT_IN_USE, UnitAction, UnitStatus
from housing.transitions import transition_unit
from housing.views import project_public, unit_public


async def create_project(session: AsyncSession, officer: Principal, body: ProjectCreate) -> ProjectPublic:
    """A new project (no units yet)."""
    project = HousingProject(**body.model_dump(), created_by=officer.sub, created_at=utcnow())
    session.add(project)
    await session.flush()
    await audit.record(
        session, officer, "housing.project.create", subject_type="project", subject_id=project.id,
        after=body.model_dump(),
    )  # fmt: skip
    return project_public(project, {})


async def get_project(session: AsyncSession, project_id: str) -> ProjectPublic:
    project = await project_or_404(session, project_id)
    counts = await repo.available_by_type(session, [project.id])
    return project_public(project, counts.get(project.id, {}))


async def list_projects(session: AsyncSession, page: PageParams) -> Page[ProjectPublic]:
    """Projects with at least one unit available, with their available units by type (by id)."""
    after = page.position(cursor_key)
    projects = await repo.projects_with_available_units(session, after=after, limit=page.limit + 1)
    shown = keyset_page(projects, page.limit, lambda p: [p.id])
    counts = await repo.available_by_type(session, [p.id for p in shown.items])
    return Page(items=[project_public(p, counts.get(p.id, {})) for p in shown.items], next_cursor=shown.next_cursor)


async def add_units(session: AsyncSession, officer: Principal, project_id: str, body: UnitsCreate) -> list[UnitPublic]:
    """Add units to a project; unit numbers are unique within the project."""
    project = await project_or_404(session, project_id)
    numbers = [u.number for u in body.units]
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        raise InvalidHousingRequest("units", "housing.invalid.unit_numbers_repeat", {"numbers": ", ".join(repeated)})
    taken = await repo.numbers_taken(session, project.id, numbers)
    if taken:
        raise UnitNumberTaken(taken)
    now = utcnow()
    units = [HousingUnit(project_id=project.id, **u.model_dump(), created_at=now, updated_at=now) for u in body.units]
    for unit in units:
        transition_unit(unit, UnitAction.ADD, now)
    session.add_all(units)
    await session.flush()
    await audit.record(
        session, officer, "housing.units.add", subject_type="project", subject_id=project.id,
        after={"units": [unit_public(u).model_dump() for u in units]},
    )  # fmt: skip
    return [unit_public(u) for u in units]


async def list_units(
    session: AsyncSession, project_id: str, page: PageParams, *, status: UnitStatus | None
) -> Page[UnitPublic]:
    """A project's units by number (and id), optionally of one status."""
    after = page.position(cursor_key, cursor_key)
    await project_or_404(session, project_id)
    units = await repo.units_of_project(session, project_id, status=status, after=after, limit=page.limit + 1)
    shown = keyset_page(units, page.limit, lambda u: [u.number, u.id])
    return Page(items=[unit_public(u) for u in shown.items], next_cursor=shown.next_cursor)


async def update_unit(session: AsyncSession, officer: Principal, unit_id: str, body: UnitUpdate) -> UnitPublic:
    """Withdraw a unit from the market, return it, or change its list rent (only while in no round or lease)."""
    unit = await repo.locked(session, HousingUnit, unit_id)
    if unit is None:
        raise UnitNotFound(unit_id)
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise InvalidHousingRequest("body", "housing.invalid.unit_change_empty")
    if unit.status in UNIT_IN_USE:
        raise UnitBusy(unit.number, unit.status)
    before = unit_public(unit).model_dump()
    now = utcnow()
    if body.status is not None:
        transition_unit(unit, MARKET_ACTIONS[body.status], now)
    if body.monthly_rent_fen is not None:
        unit.monthly_rent_fen = body.monthly_rent_fen
    unit.updated_at = now
    await session.flush()
    await audit.record(
        session, officer, "housing.unit.update", subject_type="unit", subject_id=unit.id, before=before, after=changes
    )
    return unit_public(unit)


async def project_or_404(session: AsyncSession, project_id: str) -> HousingProject:
    project = await repo.get_project(session, project_id)
    if project is None:
        raise ProjectNotFound(project_id)
    return project
