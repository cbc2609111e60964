"""The draw of a closed round: reveal the seed, rank every application (`draw`, pure and published), offer
the units down the ranked list; and the public results page by page.

Works inside the caller's transaction: it flushes, never commits; the draw is audited with its effect.
"""

from __future__ import annotations

import gc
import json
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import PageParams, cursor_int, keyset_page
from sqlmodel.ext.asyncio.session import AsyncSession

from housing import draw
from housing import repository as repo
from housing.eligibility import TalentFacts, refusals
from housing.exceptions import RoundNotFound, RoundStateConflict
from housing.models import HousingRound, new_ids
from housing.rounds import round_or_404, settle
from housing.rules import HOUSING_RULES, RULES, HousingRules
from housing.schemas import RoundPublic, RoundResults
from housing.states import (
    RESULTS_PUBLISHED,
    ROUND,
    ApplicationAction,
    ApplicationStatus,
    RoundAction,
    RoundStatus,
    UnitAction,
)
from housing.transitions import application_change, make_offers, transition_round, transition_unit
from housing.views import quotas_of, round_public, round_results


class _Applicant(NamedTuple):
    key: Any  # what the bulk UPDATE finds the row by (repo.ApplicantRow.key)
    id: str
    talent_id: str
    pseudonym: str
    tier: str
    points: int
    household_size: int
    preferences: list[str]


class _Unit(NamedTuple):
    id: str
    project_id: str
    unit_type: str
    monthly_rent_fen: int
    number: str


class _UnitPool:
    """The round's free units by project and type; hands out the smallest fitting unit, cheapest first."""

    def __init__(self, units: Iterable[_Unit], catalogue: HousingRules) -> None:
        self.catalogue = catalogue
        self.types_by_size = sorted(catalogue.unit_capacity, key=lambda t: catalogue.unit_capacity[t])
        self.by_project: dict[str, dict[str, deque[_Unit]]] = {}
        for unit in sorted(units, key=lambda u: (u.project_id, u.monthly_rent_fen, u.number)):
            self.by_project.setdefault(unit.project_id, {}).setdefault(unit.unit_type, deque()).append(unit)
        self.project_order = sorted(self.by_project)
        self.remaining = sum(len(q) for types in self.by_project.values() for q in types.values())

    def take(self, preferences: Sequence[str], household_size: int) -> _Unit | None:
        for project_id in preferences or self.project_order:
            buckets = self.by_project.get(project_id, {})
            for unit_type in self.types_by_size:
                queue = buckets.get(unit_type)
                if queue and self.catalogue.fits(unit_type, household_size):
                    self.remaining -= 1
                    return queue.popleft()
        return None

    def leftovers(self) -> list[_Unit]:
        return [u for types in self.by_project.values() for q in types.values() for u in q]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a draw runs. It allocates some 10 objects per application and
    frees almost none until it ends (rows, ranking, the UPDATE's values, offers and their events); meanwhile
    every few thousand allocations started a collection that walked every object of the process, 100,000s of
    them, which cost the draw seconds. Reference counting still frees everything else at once; objects in
    cycles wait for the next collection after the draw (a draw is rare: an officer's action per round)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Talents whose eligibility one query reads while offering units down the ranked list.
_FACTS_CHUNK = 4000


async def draw_round(
    session: AsyncSession, actor: Principal, round_id: str, *, now: datetime | None = None
) -> RoundPublic:
    """Reveal the seed, rank every application, and offer the units down the ranked list.

    Bulk throughout (a round may hold 100,000 applications): plain tuples, not ORM objects; the ranks and
    status changes of all applications in one statement (repo.write_ranks); the offers, their timers and their
    events in one INSERT per table; no garbage collection meanwhile (`_gc_paused`)."""
    with _gc_paused():
        return await _draw_round(session, actor, round_id, now or utcnow())


async def _draw_round(session: AsyncSession, actor: Principal, round_id: str, now: datetime) -> RoundPublic:
    catalogue = (await RULES.current(session, HOUSING_RULES)).value
    round_ = await repo.locked(session, HousingRound, round_id)
    if round_ is None:
        raise RoundNotFound(round_id)
    if not ROUND.can(round_.status, RoundAction.DRAW):
        hint = "close it first" if round_.status == RoundStatus.OPEN else "it was drawn already"
        raise RoundStateConflict(round_.status, key="housing.error.round_not_closed_for_draw", params={"hint": hint})
    assert round_.seed_hex is not None
    applicants = await _load_applicants(session, round_.id)
    ranked = rank_applicants(round_, applicants.values(), catalogue)
    in_order = [applicants[r.pseudonym] for r in ranked]  # the applicant of each ranked row
    units = await repo.reserved_unit_rows(session, round_.id)
    pool = _UnitPool((_Unit(*u) for u in units), catalogue)

    # Every application of a closed round is submitted: one move (and its check) for all of them, then the
    # refusals and offers below, each checked from waitlisted (where RANK leads).
    ranked_status = application_change(ApplicationStatus.SUBMITTED, ApplicationAction.RANK)["status"]
    offered_status = str(application_change(ranked_status, ApplicationAction.OFFER)["status"])
    changes: dict[int, tuple[str, str | None]] = {}  # by rank - 1: those not just ranked
    offers: list[dict[str, Any]] = []
    numbers: dict[str, str] = {}
    expires_at = now + catalogue.offer_validity
    today = catalogue.city_today(now)
    position = 0
    while pool.remaining and position < len(in_order):
        chunk = in_order[position : position + _FACTS_CHUNK]
        facts = await repo.eligibility_rows(session, [a.talent_id for a in chunk])
        for index, applicant in enumerate(chunk, start=position):
            if not pool.remaining:
                break
            talent, holds_lease = facts.get(applicant.talent_id, (None, False))
            refused = refusals(TalentFacts(talent, holds_lease, today, now))
            if refused:
                change = application_change(ranked_status, ApplicationAction.REFUSE, refused[0][1].english())
                changes[index] = (str(change["status"]), change["status_reason"])
                continue
            unit = pool.take(applicant.preferences, applicant.household_size)
            if unit is None:
                continue
            offers.append(
                {"id": "", "round_id": round_.id, "unit_id": unit.id, "application_id": applicant.id,
                 "talent_id": applicant.talent_id, "made_at": now, "expires_at": expires_at}
            )  # fmt: skip
            numbers[unit.id] = unit.number
            changes[index] = (offered_status, None)
        position += len(chunk)

    for offer, offer_id in zip(offers, new_ids(len(offers)), strict=True):
        offer["id"] = offer_id
    just_ranked = str(ranked_status)
    no_reason: str | None = None
    rows = [
        (row.rank, row.lottery_number, row.selected, just_ranked, no_reason, applicant.key)
        for row, applicant in zip(ranked, in_order, strict=True)
    ]
    for index, (status, reason) in changes.items():
        rank, lottery, selected, _, _, key = rows[index]
        rows[index] = (rank, lottery, selected, status, reason, key)
    await repo.write_ranks(session, rows)
    del rows
    if offers:
        await make_offers(session, offers, numbers)
    leftovers = pool.leftovers()
    if leftovers:
        for unit_row in await repo.locked_units(session, [u.id for u in leftovers]):
            transition_unit(unit_row, UnitAction.RELEASE, now)

    await transition_round(
        session, round_, RoundAction.DRAW, now, actor=actor,
        facts={"seed": round_.seed_hex, "seed_commitment": round_.seed_commitment or "",
               "application_count": len(ranked)},
        before={"seed_commitment": round_.seed_commitment},
        after={"seed": round_.seed_hex, "applications": len(ranked), "offers": len(offers)},
    )  # fmt: skip
    await settle(session, round_, now)
    return await round_public(session, round_)


def rank_applicants(
    round_: HousingRound, applicants: Iterable[_Applicant], catalogue: HousingRules
) -> list[draw.Ranked]:
    """The published ranking of a closed round (draw.rank with the round's seed, units and quotas)."""
    assert round_.seed_hex is not None
    return draw.rank(
        (draw.Entry(a.pseudonym, a.tier, a.points) for a in applicants),
        bytes.fromhex(round_.seed_hex),
        unit_count=round_.unit_count,
        tier_quotas=quotas_of(round_),
        tier_order=catalogue.tier_order,
    )


async def _load_applicants(session: AsyncSession, round_id: str) -> dict[str, _Applicant]:
    # Plain tuples, not ORM objects: a round may hold 100,000 applications.
    rows = await repo.applicant_rows(session, round_id)
    return {
        pseudonym: _Applicant(
            key, app_id, talent_id, pseudonym, tier, points, household,
            [] if preferences == "[]" else json.loads(preferences),
        )
        for key, app_id, talent_id, pseudonym, tier, points, household, preferences in rows
    }  # fmt: skip


async def results_page(session: AsyncSession, round_id: str, page: PageParams) -> RoundResults:
    """A page of a drawn round's ranked list, with what anyone needs to recompute it (the seed, units, quotas)."""
    after = page.position(cursor_int)
    round_ = await round_or_404(session, round_id)
    if round_.status not in RESULTS_PUBLISHED:
        raise RoundStateConflict(round_.status, key="housing.error.round_results_not_drawn")
    rows = await repo.ranked_page(session, round_.id, after_rank=after[0] if after else 0, limit=page.limit + 1)
    return round_results(round_, keyset_page(rows, page.limit, lambda a: [a.rank]))
