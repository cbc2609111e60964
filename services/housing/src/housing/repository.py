"""Queries of the housing tables; `locked_*` take a row lock (FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE already serialises writers)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any, TypeVar

from servicekit.pagination import keyset_after
from sqlalchemy import bindparam, func, literal_column, or_, text
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from housing.eligibility import TalentRow
from housing.models import (
    HousingApplication,
    HousingLease,
    HousingOffer,
    HousingProject,
    HousingRound,
    HousingRoundUnit,
    HousingTalent,
    HousingUnit,
)
from housing.states import ApplicationStatus, LeaseStatus, OfferStatus, RoundStatus, UnitStatus

Row = TypeVar("Row", bound=SQLModel)


async def locked(session: AsyncSession, model: type[Row], key: str) -> Row | None:
    """The row with this primary key, locked for the rest of the transaction and read fresh."""
    primary_key = model.__table__.primary_key.columns.values()[0]  # type: ignore[attr-defined]
    query = select(model).where(primary_key == key).with_for_update().execution_options(populate_existing=True)
    return (await session.exec(query)).first()


async def get_talent(session: AsyncSession, talent_id: str) -> HousingTalent | None:
    return await session.get(HousingTalent, talent_id)


_ABSENT_TALENTS = "housing.absent_talents"


async def load_talents(session: AsyncSession, talent_ids: Iterable[str]) -> None:
    """Load a consumer batch's talents with one query per 500 (session.get then finds them without one),
    and note which have no row yet, so get_or_create_talent adds those without asking either."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return
    cached: tuple[Any, set[str]] | None = session.info.get(_ABSENT_TALENTS)
    absent = cached[1] if cached is not None and cached[0] is transaction else set()
    session.info[_ABSENT_TALENTS] = (transaction, absent)
    ids = sorted(set(talent_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        # Whole rows, so they land in the identity map (session.get then needs no query).
        query = select(HousingTalent).where(col(HousingTalent.talent_id).in_(chunk))
        found = {t.talent_id for t in (await session.exec(query)).all()}
        absent.update(t for t in chunk if t not in found)


def _known_absent(session: AsyncSession, talent_id: str) -> bool:
    cached: tuple[Any, set[str]] | None = session.info.get(_ABSENT_TALENTS)
    if cached is None or cached[0] is not session.sync_session.get_transaction() or talent_id not in cached[1]:
        return False
    cached[1].discard(talent_id)  # about to be added
    return True


async def get_or_create_talent(session: AsyncSession, talent_id: str) -> HousingTalent:
    talent = None if _known_absent(session, talent_id) else await session.get(HousingTalent, talent_id)
    if talent is None:
        talent = HousingTalent(talent_id=talent_id)
        session.add(talent)
    return talent


# --- inventory ---------------------------------------------------------------------------------------


async def get_project(session: AsyncSession, project_id: str) -> HousingProject | None:
    return await session.get(HousingProject, project_id)


async def available_by_type(session: AsyncSession, project_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """{project id: {unit type: available units}}."""
    if not project_ids:
        return {}
    rows = await session.exec(
        select(HousingUnit.project_id, HousingUnit.unit_type, func.count())
        .where(col(HousingUnit.project_id).in_(project_ids), HousingUnit.status == UnitStatus.AVAILABLE)
        .group_by(col(HousingUnit.project_id), col(HousingUnit.unit_type))
    )
    out: dict[str, dict[str, int]] = {}
    for project_id, unit_type, count in rows.all():
        out.setdefault(project_id, {})[unit_type] = int(count)
    return out


async def projects_with_available_units(
    session: AsyncSession, *, after: Sequence[Any] | None, limit: int
) -> list[HousingProject]:
    has_available = (
        select(HousingUnit.id)
        .where(HousingUnit.project_id == HousingProject.id, HousingUnit.status == UnitStatus.AVAILABLE)
        .exists()
    )
    query = select(HousingProject).where(has_available)
    if after:
        query = query.where(keyset_after((col(HousingProject.id),), after))
    return list((await session.exec(query.order_by(col(HousingProject.id)).limit(limit))).all())


async def numbers_taken(session: AsyncSession, project_id: str, numbers: Sequence[str]) -> list[str]:
    rows = await session.exec(
        select(HousingUnit.number).where(HousingUnit.project_id == project_id, col(HousingUnit.number).in_(numbers))
    )
    return sorted(rows.all())


async def units_of_project(
    session: AsyncSession, project_id: str, *, status: UnitStatus | None, after: Sequence[Any] | None, limit: int
) -> list[HousingUnit]:
    query = select(HousingUnit).where(HousingUnit.project_id == project_id)
    if status is not None:
        query = query.where(HousingUnit.status == status)
    if after:
        query = query.where(keyset_after((col(HousingUnit.number), col(HousingUnit.id)), after))
    query = query.order_by(col(HousingUnit.number), col(HousingUnit.id)).limit(limit)
    return list((await session.exec(query)).all())


async def unit_numbers(session: AsyncSession, unit_ids: Iterable[str]) -> dict[str, str]:
    """Units' numbers by id: what offer and lease events call a unit in the talent's messages."""
    ids = sorted(set(unit_ids))
    if not ids:
        return {}
    rows = await session.exec(select(HousingUnit.id, HousingUnit.number).where(col(HousingUnit.id).in_(ids)))
    return dict(rows.all())


async def locked_units(session: AsyncSession, unit_ids: Sequence[str]) -> list[HousingUnit]:
    # Locked in id order, so two rounds grabbing overlapping units cannot deadlock.
    query = (
        select(HousingUnit)
        .where(col(HousingUnit.id).in_(unit_ids))
        .order_by(col(HousingUnit.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.exec(query)).all())


# --- rounds ------------------------------------------------------------------------------------------


async def get_round(session: AsyncSession, round_id: str) -> HousingRound | None:
    return await session.get(HousingRound, round_id)


async def list_rounds(
    session: AsyncSession, *, status: RoundStatus | None, after: Sequence[Any] | None, limit: int
) -> list[HousingRound]:
    query = select(HousingRound)
    if status is not None:
        query = query.where(HousingRound.status == status)
    if after:
        query = query.where(keyset_after((col(HousingRound.created_at), col(HousingRound.id)), after, descending=True))
    query = query.order_by(col(HousingRound.created_at).desc(), col(HousingRound.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def round_unit_ids(session: AsyncSession, round_id: str) -> list[str]:
    rows = await session.exec(
        select(HousingRoundUnit.unit_id)
        .where(HousingRoundUnit.round_id == round_id)
        .order_by(col(HousingRoundUnit.unit_id))
    )
    return list(rows.all())


async def round_units(session: AsyncSession, round_id: str) -> list[HousingUnit]:
    rows = await session.exec(
        select(HousingUnit)
        .join(HousingRoundUnit, col(HousingRoundUnit.unit_id) == col(HousingUnit.id))
        .where(HousingRoundUnit.round_id == round_id)
    )
    return list(rows.all())


async def reserved_units_of_round(session: AsyncSession, round_id: str) -> list[HousingUnit]:
    query = select(HousingUnit).where(HousingUnit.round_id == round_id, HousingUnit.status == UnitStatus.RESERVED)
    return list((await session.exec(query)).all())


async def count_applications(session: AsyncSession, round_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(HousingApplication).where(col(HousingApplication.round_id) == round_id)
    )
    return int(count or 0)


async def get_application_of(session: AsyncSession, round_id: str, talent_id: str) -> HousingApplication | None:
    query = select(HousingApplication).where(
        HousingApplication.round_id == round_id, HousingApplication.talent_id == talent_id
    )
    return (await session.exec(query)).first()


async def waitlist_after(session: AsyncSession, round_id: str, after_rank: int, limit: int) -> list[HousingApplication]:
    query = (
        select(HousingApplication)
        .where(
            HousingApplication.round_id == round_id,
            HousingApplication.status == ApplicationStatus.WAITLISTED,
            col(HousingApplication.rank) > after_rank,
        )
        .order_by(col(HousingApplication.rank))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


# The two queries of every decline, built once (bound values as parameters): building a statement costs more
# CPU than SQLite spends running it.
_OFFER_TO_ANSWER = (
    select(HousingOffer, HousingApplication, HousingUnit, HousingTalent)
    .join(HousingApplication, col(HousingApplication.id) == col(HousingOffer.application_id))
    .join(HousingUnit, col(HousingUnit.id) == col(HousingOffer.unit_id))
    .join(HousingTalent, col(HousingTalent.talent_id) == col(HousingOffer.talent_id), isouter=True)
    .where(col(HousingOffer.id) == bindparam("offer_id"))
    .with_for_update(of=[HousingOffer, HousingUnit])
    .execution_options(populate_existing=True)
)


async def offer_to_answer(
    session: AsyncSession, offer_id: str
) -> tuple[HousingOffer, HousingApplication, HousingUnit, HousingTalent | None] | None:
    """An offer with its application, its unit and its talent's read-model row, in one query; the offer and the
    unit are locked (in that order, as `locked` would take them one by one) and read fresh."""
    row = (await session.exec(_OFFER_TO_ANSWER, params={"offer_id": offer_id})).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


_HOLDS_LEASE = (
    select(HousingLease.id)
    .where(col(HousingLease.talent_id) == col(HousingApplication.talent_id), HousingLease.status == LeaseStatus.ACTIVE)
    .exists()
)
_WAITLIST_CANDIDATES = (
    select(HousingApplication, HousingTalent, _HOLDS_LEASE)
    .join(HousingTalent, col(HousingTalent.talent_id) == col(HousingApplication.talent_id), isouter=True)
    .where(
        col(HousingApplication.round_id) == bindparam("round_id"),
        HousingApplication.status == ApplicationStatus.WAITLISTED,
        col(HousingApplication.rank) > bindparam("after_rank"),
        col(HousingApplication.household_size) <= bindparam("capacity"),
        or_(
            col(HousingApplication.preferred_project_ids) == "[]",
            col(HousingApplication.preferred_project_ids).like(bindparam("project_pattern"), escape="/"),
        ),
    )
    .order_by(col(HousingApplication.rank))
    .limit(bindparam("limit"))
)


async def waitlist_candidates(
    session: AsyncSession, round_id: str, *, project_id: str, capacity: int, after_rank: int, limit: int
) -> list[tuple[HousingApplication, HousingTalent | None, bool]]:
    """The next waitlisted applications after `after_rank` that a unit of `project_id` for up to `capacity`
    persons may fit, each with what the eligibility checks read (the talent's row, whether it holds a lease):
    one query. The fit is only narrowed here (households small enough, preferences empty or naming the
    project); the caller checks it exactly."""
    escaped = project_id.replace("/", "//").replace("%", "/%").replace("_", "/_")
    params = {
        "round_id": round_id, "after_rank": after_rank, "capacity": capacity,
        "project_pattern": f'%"{escaped}"%', "limit": limit,
    }  # fmt: skip
    rows = (await session.exec(_WAITLIST_CANDIDATES, params=params)).all()
    return [(application, talent, bool(leased)) for application, talent, leased in rows]


async def ranked_page(session: AsyncSession, round_id: str, *, after_rank: int, limit: int) -> list[HousingApplication]:
    query = (
        select(HousingApplication)
        .where(HousingApplication.round_id == round_id, col(HousingApplication.rank) > after_rank)
        .order_by(col(HousingApplication.rank))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def applications_page(
    session: AsyncSession, round_id: str, *, after: Sequence[Any] | None, limit: int
) -> list[tuple[HousingApplication, HousingTalent | None]]:
    """A round's applications in the order they came, each with its talent's read-model row (officers' view)."""
    query = (
        select(HousingApplication, HousingTalent)
        .join(HousingTalent, col(HousingTalent.talent_id) == col(HousingApplication.talent_id), isouter=True)
        .where(HousingApplication.round_id == round_id)
    )
    if after:
        order = (col(HousingApplication.created_at), col(HousingApplication.id))
        query = query.where(keyset_after(order, after, descending=False))
    query = query.order_by(col(HousingApplication.created_at), col(HousingApplication.id)).limit(limit)
    return [(application, talent) for application, talent in (await session.exec(query)).all()]


async def open_offer_count(session: AsyncSession, round_id: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(HousingOffer)
        .where(col(HousingOffer.round_id) == round_id, col(HousingOffer.status) == OfferStatus.OPEN)
    )
    return int(count or 0)


# --- the talent's own --------------------------------------------------------------------------------


async def applications_of(session: AsyncSession, talent_id: str) -> list[HousingApplication]:
    query = (
        select(HousingApplication)
        .where(HousingApplication.talent_id == talent_id)
        .order_by(col(HousingApplication.created_at).desc())
    )
    return list((await session.exec(query)).all())


async def offers_of(session: AsyncSession, talent_id: str) -> list[tuple[HousingOffer, HousingUnit]]:
    query = (
        select(HousingOffer, HousingUnit)
        .join(HousingUnit, col(HousingUnit.id) == col(HousingOffer.unit_id))
        .where(HousingOffer.talent_id == talent_id)
        .order_by(col(HousingOffer.made_at).desc())
    )
    return [(offer, unit) for offer, unit in (await session.exec(query)).all()]


async def active_lease_of(session: AsyncSession, talent_id: str) -> HousingLease | None:
    query = select(HousingLease).where(HousingLease.talent_id == talent_id, HousingLease.status == LeaseStatus.ACTIVE)
    return (await session.exec(query)).first()


async def active_lease_on_unit(session: AsyncSession, unit_id: str) -> HousingLease | None:
    query = select(HousingLease).where(HousingLease.unit_id == unit_id, HousingLease.status == LeaseStatus.ACTIVE)
    return (await session.exec(query)).first()


async def eligibility_rows(session: AsyncSession, talent_ids: Sequence[str]) -> dict[str, tuple[TalentRow, bool]]:
    """What the eligibility checks read of many talents at once, in one query: (the talent's row, whether it holds
    an active lease), by talent id; a talent with no row yet is missing."""
    holds_lease = (
        select(HousingLease.id)
        .where(col(HousingLease.talent_id) == col(HousingTalent.talent_id), HousingLease.status == LeaseStatus.ACTIVE)
        .exists()
    )
    query = select(  # type: ignore[call-overload]
        col(HousingTalent.talent_id),
        col(HousingTalent.status),
        col(HousingTalent.certified_until),
        col(HousingTalent.works_in_city),
        col(HousingTalent.owns_home_in_city),
        col(HousingTalent.voucher_used),
        col(HousingTalent.barred_until),
        holds_lease,
    ).where(col(HousingTalent.talent_id).in_(talent_ids))
    rows = (await session.exec(query)).all()
    return {row[0]: (TalentRow(*row[1:7]), bool(row[7])) for row in rows}


# --- the draw, in bulk -------------------------------------------------------------------------------


async def _dialect(session: AsyncSession) -> str:
    return str((await session.connection()).dialect.name)


async def applicant_rows(session: AsyncSession, round_id: str) -> Sequence[Any]:
    """(key, id, talent id, pseudonym, tier, points, household size, preferred project ids as JSON) of every
    application of the round, as tuples. `key` finds the row for `write_ranks`: the rowid on SQLite (its UPDATE
    then needs no index look-up), else the id."""
    key = literal_column("housing_application.rowid") if await _dialect(session) == "sqlite" else HousingApplication.id
    query = select(  # type: ignore[call-overload]
        key,
        col(HousingApplication.id),
        col(HousingApplication.talent_id),
        col(HousingApplication.pseudonym),
        col(HousingApplication.tier),
        col(HousingApplication.points),
        col(HousingApplication.household_size),
        col(HousingApplication.preferred_project_ids),
    ).where(col(HousingApplication.round_id) == round_id)
    return list((await session.exec(query)).all())


_WRITE_RANKS_SQLITE = (
    "UPDATE housing_application SET rank = ?, lottery_number = ?, selected = ?, status = ?, status_reason = ? "
    "WHERE rowid = ?"
)
_WRITE_RANKS_POSTGRESQL = text(
    "UPDATE housing_application AS a SET rank = v.rank, lottery_number = v.lottery_number, selected = v.selected, "
    "status = v.status, status_reason = v.status_reason "
    "FROM unnest(CAST(:ranks AS INTEGER[]), CAST(:lottery_numbers AS VARCHAR[]), CAST(:selected AS BOOLEAN[]), "
    "CAST(:statuses AS VARCHAR[]), CAST(:reasons AS VARCHAR[]), CAST(:ids AS VARCHAR[])) "
    "AS v(rank, lottery_number, selected, status, status_reason, id) "
    "WHERE a.id = v.id"
)


async def write_ranks(session: AsyncSession, rows: list[tuple[int, str, bool, str, str | None, Any]]) -> None:
    """Set (rank, lottery number, selected, status, status reason) of many applications, found by the key
    `applicant_rows` gave (last in each tuple): one statement on PostgreSQL (the values as arrays), one
    executemany in the table's order on SQLite. No ORM: the session holds none of these rows."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        rows.sort(key=itemgetter(5))  # rowid order: the table's pages one after another
        await connection.exec_driver_sql(_WRITE_RANKS_SQLITE, rows)
        return
    ranks, numbers, selected, statuses, reasons, ids = zip(*rows, strict=True)
    await connection.execute(
        _WRITE_RANKS_POSTGRESQL,
        {"ranks": list(ranks), "lottery_numbers": list(numbers), "selected": list(selected),
         "statuses": list(statuses), "reasons": list(reasons), "ids": list(ids)},
    )  # fmt: skip


async def reserved_unit_rows(session: AsyncSession, round_id: str) -> Sequence[Any]:
    """(id, project id, unit type, monthly rent, number) of the units the round holds, as tuples."""
    query = select(  # type: ignore[call-overload]
        col(HousingUnit.id),
        col(HousingUnit.project_id),
        col(HousingUnit.unit_type),
        col(HousingUnit.monthly_rent_fen),
        col(HousingUnit.number),
    ).where(HousingUnit.round_id == round_id, HousingUnit.status == UnitStatus.RESERVED)
    return list((await session.exec(query)).all())
