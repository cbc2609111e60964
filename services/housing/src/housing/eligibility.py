"""Who may apply for a talent apartment (docs/domain.md), as a table of named checks.

Each check looks at the talent's facts and returns the reason it refuses, or None. Every refusal is
reported, not just the first, so the talent sees everything to fix at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from housing.models import HousingTalent
from housing.states import TalentStatus


@dataclass(frozen=True)
class TalentFacts:
    """What the checks read: the read model's row (None when no event about the talent arrived yet)."""

    talent: HousingTalent | None
    holds_lease: bool
    today: date
    now: datetime


Check = Callable[[TalentFacts], str | None]


def _certified(f: TalentFacts) -> str | None:
    status = f.talent.status if f.talent else TalentStatus.UNKNOWN
    if status == TalentStatus.CERTIFIED:
        return None
    if status == TalentStatus.REVOKED:
        return "Your talent certification was revoked."
    if status == TalentStatus.EXPIRED:
        return "Your talent certification has expired; renew it before applying."
    return "You are not a certified talent yet: talent apartments need a certification (tier A–E)."


def _still_valid(f: TalentFacts) -> str | None:
    if f.talent is None or f.talent.status != TalentStatus.CERTIFIED or f.talent.certified_until is None:
        return None
    if f.talent.certified_until < f.today:
        return f"Your talent certification expired on {f.talent.certified_until.isoformat()}."
    return None


def _works_in_city(f: TalentFacts) -> str | None:
    if f.talent is None or f.talent.works_in_city is None:
        return "Your profile (employer) has not reached the housing service yet; try again in a moment."
    return None if f.talent.works_in_city else "Talent apartments are for talents whose employer is in the city."


def _owns_no_home(f: TalentFacts) -> str | None:
    if f.talent is not None and f.talent.owns_home_in_city:
        return "You own a home in the city; talent apartments are for talents who do not."
    return None


def _no_lease(f: TalentFacts) -> str | None:
    return "You already hold a talent-apartment lease." if f.holds_lease else None


def _no_voucher(f: TalentFacts) -> str | None:
    if f.talent is not None and f.talent.voucher_used:
        return "You used a housing voucher (人才房票); it excludes a talent apartment."
    return None


def _not_barred(f: TalentFacts) -> str | None:
    if f.talent is not None and f.talent.barred_until is not None and f.talent.barred_until > f.now:
        until = f.talent.barred_until.date().isoformat()
        return f"You declined two offers, so you may not apply to rounds until {until}."
    return None


CHECKS: tuple[tuple[str, Check], ...] = (
    ("not_certified", _certified),
    ("certification_expired", _still_valid),
    ("not_working_in_city", _works_in_city),
    ("owns_home_in_city", _owns_no_home),
    ("holds_lease", _no_lease),
    ("voucher_used", _no_voucher),
    ("barred_after_declines", _not_barred),
)


def refusals(facts: TalentFacts) -> list[tuple[str, str]]:
    """Every (code, message) that keeps this talent out; empty when eligible."""
    out = []
    for code, check in CHECKS:
        message = check(facts)
        if message is not None:
            out.append((code, message))
    return out
