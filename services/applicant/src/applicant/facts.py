"""Trusted facts: which profile fields are locked when, the facts that decide tier, points and eligibility,
and where each of those facts came from (provenance).

- Identity (name, identity type and number, birth date) is locked from the talent's first certification
  submission on; only an admin's identity correction (applicant.corrections) changes it.
- The decision facts (`FACTS`) are locked while the talent is certified, revoked or has a certification under
  review; they then change only through a change request (applicant.changes) that a county reviewer decides,
  except a change that can only remove benefits (`Fact.at_once`), which applies at once.
- A fact is `self_declared` until a reviewer confirms it (certifying a certification whose route confirms it,
  or approving a change request), or its employer attests it; any other change makes it self-declared again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from servicekit.problems import Conflict
from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import reference
from applicant import repository as repo
from applicant.exceptions import InvalidProfile
from applicant.identity import InvalidIdentity, validate_credit_code
from applicant.models import FactProvenance, Talent, TalentProfile
from applicant.schemas import ProvenancePublic
from applicant.states import FactSource, TalentStatus

IDENTITY_FIELDS = ("name", "id_type", "id_number", "birth_date")


class AtOnce(StrEnum):
    """Which change of a locked fact can only remove benefits, and so applies without review."""

    DECREASE = "decrease"  # fewer social-insurance months: fewer points, fewer policies met
    BECOMES_TRUE = "becomes_true"  # owning a home in the city: housing benefits end


@dataclass(frozen=True)
class Fact:
    # The profile's columns that hold it; the API shows a fact of several columns as an object.
    columns: tuple[str, ...]
    # The API object's keys, by column (a fact of one column is the column's value itself).
    keys: tuple[str, ...] = ()
    at_once: AtOnce | None = None

    def value_of(self, row: Mapping[str, Any]) -> Any:
        """The fact in the API's shape (JSON-ready) from profile column values."""
        if not self.keys:
            return _jsonable(row[self.columns[0]])
        return {key: _jsonable(row[column]) for key, column in zip(self.keys, self.columns, strict=True)}

    def columns_of(self, value: Any) -> dict[str, Any]:
        """Profile column values from the fact in the API's shape."""
        if not self.keys:
            return {self.columns[0]: value}
        return {column: value.get(key) for key, column in zip(self.keys, self.columns, strict=True)}


# The decision-relevant facts: the API's field name → the profile columns behind it.
FACTS: Mapping[str, Fact] = {
    "education": Fact(("degree", "school", "graduated_on"), ("degree", "school", "graduated_on")),
    "title": Fact(("title",)),
    "social_insurance_months": Fact(("social_insurance_months",), at_once=AtOnce.DECREASE),
    "employer": Fact(
        ("employer_name", "employer_credit_code", "employer_region_code", "employer_industry"),
        ("name", "credit_code", "region_code", "industry"),
    ),
    "region_code": Fact(("region_code",)),
    "owns_home_in_city": Fact(("owns_home_in_city",), at_once=AtOnce.BECOMES_TRUE),
}

# A talent in these statuses holds (or held, until a revocation is lifted) a tier: their facts are locked.
_FACTS_LOCKED_STATUSES = frozenset({TalentStatus.CERTIFIED, TalentStatus.REVOKED})


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


class LockedFields(Conflict):
    """A profile update that changes locked fields: each is named, with how it can still change."""

    key = "applicant.error.locked_fields"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(params={"names": ", ".join(e["field"] for e in errors)}, errors=errors)


@dataclass(frozen=True)
class Locks:
    identity: bool
    facts: bool

    def fields(self) -> list[str]:
        return [*(IDENTITY_FIELDS if self.identity else ()), *(FACTS if self.facts else ())]


async def locks_of(session: AsyncSession, talent: Talent | None) -> Locks:
    """What is locked for this talent now."""
    if talent is None:
        return Locks(identity=False, facts=False)
    submitted = await repo.has_certification(session, talent.id)
    under_review = submitted and await repo.open_certification_of(session, talent.id) is not None
    return Locks(identity=submitted, facts=talent.status in _FACTS_LOCKED_STATUSES or under_review)


def values_of(profile: TalentProfile) -> dict[str, Any]:
    """Every decision fact of the profile, in the API's shape."""
    row = {column: getattr(profile, column) for fact in FACTS.values() for column in fact.columns}
    return {name: fact.value_of(row) for name, fact in FACTS.items()}


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The facts whose value differs (both in the API's shape)."""
    return [name for name in FACTS if name in after and after[name] != before.get(name)]


def applies_at_once(name: str, before: Any, after: Any) -> bool:
    """True when the change can only remove benefits (no review needed)."""
    rule = FACTS[name].at_once
    if rule is AtOnce.DECREASE:
        return isinstance(before, int) and isinstance(after, int) and after < before
    if rule is AtOnce.BECOMES_TRUE:
        return before is False and after is True
    return False


def refuse_locked_changes(
    locks: Locks, identity_changed: Iterable[str], facts_before: dict[str, Any], facts_after: dict[str, Any]
) -> list[str]:
    """Raise LockedFields naming every locked field the update changes; returns the locked facts that change
    at once (benefit-removing) and must be recorded as such."""
    errors = [
        {"field": name, "key": "applicant.invalid.locked_identity"} for name in identity_changed if locks.identity
    ]
    at_once: list[str] = []
    for name in changed(facts_before, facts_after) if locks.facts else ():
        if applies_at_once(name, facts_before[name], facts_after[name]):
            at_once.append(name)
        else:
            errors.append({"field": name, "key": "applicant.invalid.locked_fact"})
    if errors:
        raise LockedFields(errors)
    return at_once


def check_values(values: Mapping[str, Any], birth_date: date, today: date) -> dict[str, Any]:
    """Check fact values (API shape) beyond their types; returns them normalised (credit code upper-cased).
    InvalidProfile names the field."""
    checked = dict(values)
    if "region_code" in values and not reference.is_known_region(values["region_code"]):
        raise InvalidProfile("region_code", "applicant.invalid.unknown_region", {"region_code": values["region_code"]})
    if "employer" in values:
        employer = dict(values["employer"])
        try:
            employer["credit_code"] = validate_credit_code(employer["credit_code"])
        except InvalidIdentity as exc:
            raise InvalidProfile("employer.credit_code", exc) from exc
        if not reference.is_known_region(employer["region_code"]):
            raise InvalidProfile(
                "employer.region_code", "applicant.invalid.unknown_region", {"region_code": employer["region_code"]}
            )
        checked["employer"] = employer
    if "education" in values:
        graduated_on = date.fromisoformat(str(values["education"]["graduated_on"]))
        if graduated_on > today:
            raise InvalidProfile("education.graduated_on", "applicant.invalid.in_the_future")
        if graduated_on <= birth_date:
            raise InvalidProfile("education.graduated_on", "applicant.invalid.after_birth_date")
    return checked


def apply(profile: TalentProfile, values: Mapping[str, Any]) -> None:
    """Write fact values (API shape) into the profile's columns."""
    for name, value in values.items():
        for column, column_value in FACTS[name].columns_of(value).items():
            if column == "graduated_on" and isinstance(column_value, str):
                column_value = date.fromisoformat(column_value)
            setattr(profile, column, column_value)


# --- provenance ----------------------------------------------------------------------------------------------


async def provenance_of(session: AsyncSession, talent_id: str) -> dict[str, ProvenancePublic]:
    """Every decision fact's provenance; a fact without a row is self-declared."""
    return (await provenance_of_many(session, [talent_id]))[talent_id]


async def provenance_of_many(
    session: AsyncSession, talent_ids: Sequence[str]
) -> dict[str, dict[str, ProvenancePublic]]:
    """`provenance_of` for several talents in one query (a reviewer's queue page)."""
    found: dict[str, dict[str, FactProvenance]] = {talent_id: {} for talent_id in talent_ids}
    if talent_ids:
        rows = await session.exec(select(FactProvenance).where(col(FactProvenance.talent_id).in_(list(found))))
        for row in rows:
            found[row.talent_id][row.fact] = row
    return {
        talent_id: {
            name: ProvenancePublic(
                source=rows_of[name].source, by=rows_of[name].confirmed_by, at=rows_of[name].confirmed_at
            )
            if name in rows_of
            else ProvenancePublic(source=FactSource.SELF_DECLARED)
            for name in FACTS
        }
        for talent_id, rows_of in found.items()
    }


async def sources_of(session: AsyncSession, talent_id: str) -> dict[str, str]:
    """Each decision fact's source, as events carry it (consumers' eligibility rules may require a level)."""
    return {name: str(p.source) for name, p in (await provenance_of(session, talent_id)).items()}


async def confirm(
    session: AsyncSession,
    talent_id: str,
    names: Iterable[str],
    *,
    source: FactSource,
    by: str,
    at: datetime,
    basis: str,
) -> None:
    """Record that `by` confirmed these facts (by the decision or attestation `basis`)."""
    for name in names:
        row = await session.get(FactProvenance, (talent_id, name))
        if row is None:
            session.add(
                FactProvenance(
                    talent_id=talent_id, fact=name, source=source, confirmed_by=by, confirmed_at=at, basis=basis
                )
            )
        else:
            row.source, row.confirmed_by, row.confirmed_at, row.basis = source, by, at, basis
    await session.flush()


async def declare(session: AsyncSession, talent_id: str, names: Iterable[str]) -> None:
    """These facts changed on the talent's word alone: they are self-declared again."""
    names = list(names)
    if names:
        await session.exec(
            delete(FactProvenance).where(
                col(FactProvenance.talent_id) == talent_id, col(FactProvenance.fact).in_(names)
            )
        )
