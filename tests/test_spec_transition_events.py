"""Specification: every move of every state machine that changes an object's status is announced by an event.

The rule of the codebase is that a transition is one function writing history, audit, timers and the event; the
services fed only by events (insight's statistics, notify's inbox) otherwise disagree with the owner's database,
as insight did for claims whose payment the bank refused and for resubmitted claims. This reads the flow tables
of applicant, benefits and housing (every `StateMachine` in their `states` modules, so a new table is covered the
day it is added) and requires of each row that changes a status (a move out of (new), to another status, or back
to a standing of its own) that it names its event, or that it is listed below with the reason it has none.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from applicant import states as applicant_states
from benefits import flow
from benefits import states as benefits_states
from benefits.models import Claim
from contracts import (
    EVENT_TYPES,
    TOPIC_APPLICANT,
    ChangeRequestDecided,
    ChangeRequestSubmitted,
    DemandClosed,
    DemandDeclared,
    EmploymentAttestationWithdrawn,
    EmploymentAttested,
    EventData,
    RecommendationFiled,
    TalentCertified,
    TalentExpired,
    TalentReinstated,
    TalentRevoked,
)
from contracts.events import CertificationDecided, CertificationSubmitted, RecommendationWithdrawn
from housing import states as housing_states
from servicekit.workflow import StateMachine, Transition

STATES_MODULES: tuple[ModuleType, ...] = (applicant_states, benefits_states, housing_states)

# Applicant's tables do not name their events as data: each table's one transition function derives the event
# from the row (certification.py and validity.py `_event_of`, changes.py, employer/attestations.py, demands.py,
# recommendations.py). This is what those functions publish, by (table, action), checked against contracts here.
APPLICANT_EVENTS: dict[tuple[str, str], type[EventData]] = {
    ("certification", "submit"): CertificationSubmitted,
    ("certification", "resubmit"): CertificationSubmitted,  # a new round
    ("certification", "approve_county"): CertificationDecided,
    ("certification", "approve_city"): CertificationDecided,
    ("certification", "reject"): CertificationDecided,
    ("certification", "return"): CertificationDecided,
    ("certification", "reject_on_revocation"): CertificationDecided,
    ("talent", "certify"): TalentCertified,
    ("talent", "expire"): TalentExpired,
    ("talent", "revoke"): TalentRevoked,
    ("talent", "reinstate"): TalentReinstated,
    ("change request", "submit"): ChangeRequestSubmitted,
    ("change request", "approve"): ChangeRequestDecided,
    ("change request", "reject"): ChangeRequestDecided,
    ("demand", "declare"): DemandDeclared,
    ("demand", "close"): DemandClosed,
    ("attestation", "attest"): EmploymentAttested,
    ("attestation", "revoke"): EmploymentAttestationWithdrawn,
    ("attestation", "lapse"): EmploymentAttestationWithdrawn,
    ("recommendation", "file"): RecommendationFiled,
    ("recommendation", "withdraw"): RecommendationWithdrawn,
}

# Moves that change a status and deliberately publish no event of their own, each with the reason.
NOT_ANNOUNCED: dict[tuple[str, str], str] = {
    # The talent's certification submission that cites the recommendation is the event (CertificationSubmitted).
    ("recommendation", "cite"): "announced by the citing certification's CertificationSubmitted",
    # The same employer attested again: the newer attestation's EmploymentAttested replaces this one for readers.
    ("attestation", "supersede"): "replaced by the newer attestation's EmploymentAttested",
    # Housing stock, not a person's status: units are counted from the rounds' events (RoundOpened.unit_count).
    ("unit", "add"): "inventory, internal to housing",
    ("unit", "reserve"): "inventory, internal to housing (the round that takes it is RoundOpened)",
    ("unit", "release"): "inventory, internal to housing",
    ("unit", "lease"): "inventory, internal to housing (the lease is LeaseStarted)",
    ("unit", "vacate"): "inventory, internal to housing (the lease's end is LeaseEnded)",
    ("unit", "withdraw"): "inventory, internal to housing",
    ("unit", "return"): "inventory, internal to housing",
    # An application's status follows its offer in the same transaction; the offer's event announces the move.
    ("application", "offer"): "announced by OfferMade, written in the same transaction",
    ("application", "house"): "announced by OfferAccepted, written in the same transaction",
    ("application", "decline"): "announced by OfferDeclined, written in the same transaction",
    ("application", "lapse"): "announced by OfferLapsed, written in the same transaction",
}

# Moves that change a status with no event, which readers therefore miss: to be given an event (and removed
# here; the test fails when a listed move gets one, so the list only shrinks). Each names what misses it.
KNOWN_GAPS: dict[tuple[str, str], str] = {
    ("application", "submit"): "insight counts applications only from RoundClosed.application_count",
    ("application", "rank"): "only the round's RoundDrawn says the draw ranked it; no per-application event",
    ("application", "refuse"): "the talent is not told the draw found them no longer eligible",
}


def _machines() -> Iterator[tuple[str, StateMachine[Any]]]:
    for module in STATES_MODULES:
        for name, value in vars(module).items():
            if isinstance(value, StateMachine):
                yield f"{module.__name__}.{name}", value


MACHINES = dict(_machines())


def _changes_status(row: Transition[Any, Any]) -> bool:
    """A move out of (new), to another status, or back to where the object stands (a reinstatement)."""
    if not row.sources or getattr(row, "restores_standing", False):
        return True
    return row.target is not None and any(source != row.target for source in row.sources)


def _status_changing_rows() -> list[tuple[str, StateMachine[Any], Transition[Any, Any]]]:
    return [
        (name, machine, row)
        for name, machine in MACHINES.items()
        for row in machine.transitions.values()
        if _changes_status(row)
    ]


ROWS = _status_changing_rows()


def _key(machine: StateMachine[Any], row: Transition[Any, Any]) -> tuple[str, str]:
    return (machine.subject, str(row.action))


def _named_event(machine: StateMachine[Any], row: Transition[Any, Any]) -> object:
    """The event a row names: its `event` field where its table has one (benefits' kind, housing's type),
    else the one applicant's transition function publishes for it; None: no event."""
    if "event" in getattr(type(row), "__dataclass_fields__", {}):
        event = row.event  # type: ignore[attr-defined]
        return None if event in (None, "none") else event
    return APPLICANT_EVENTS.get(_key(machine, row))


def test_the_tables_of_every_service_are_found() -> None:
    subjects = {machine.subject for machine in MACHINES.values()}
    assert {"claim", "certification", "talent", "round", "offer", "lease", "application", "unit"} <= subjects
    assert len(ROWS) > 40


@pytest.mark.parametrize(
    ("machine", "row"), [(m, r) for _, m, r in ROWS], ids=[f"{m.subject}.{r.action}" for _, m, r in ROWS]
)
def test_every_move_that_changes_a_status_names_its_event_or_why_it_has_none(
    machine: StateMachine[Any], row: Transition[Any, Any]
) -> None:
    key = _key(machine, row)
    event = _named_event(machine, row)
    excused = NOT_ANNOUNCED.get(key) or KNOWN_GAPS.get(key)
    assert event is not None or excused, (
        f"the {machine.subject} move {row.action} changes the status but publishes no event: name one in its "
        "row (and publish it from the table's transition function) or list it in NOT_ANNOUNCED with the reason"
    )
    assert event is None or not excused, f"{key} publishes {event}: take it off the lists of moves without one"


def test_the_lists_name_only_real_status_changing_moves() -> None:
    keys = {_key(machine, row) for _, machine, row in ROWS}
    for listed in (*APPLICANT_EVENTS, *NOT_ANNOUNCED, *KNOWN_GAPS):
        assert listed in keys, f"{listed} is no status-changing move of any table"


def test_applicants_named_events_are_applicants_own() -> None:
    for key, event_type in APPLICANT_EVENTS.items():
        assert EVENT_TYPES[event_type.type] is event_type and event_type.topic == TOPIC_APPLICANT, key


def test_every_housing_row_names_a_real_housing_event() -> None:
    for _, machine, row in ROWS:
        event = _named_event(machine, row)
        if isinstance(event, type) and machine in (housing_states.ROUND, housing_states.OFFER, housing_states.LEASE):
            assert EVENT_TYPES[event.type] is event and event.topic == "talent.housing", row


CLAIM_ROWS = [row for _, machine, row in ROWS if machine is benefits_states.CLAIM_FLOW]


@pytest.mark.parametrize("row", CLAIM_ROWS, ids=[str(r.action) for r in CLAIM_ROWS])
def test_benefits_transition_builds_the_event_of_every_claim_move_that_changes_the_status(row: Any) -> None:
    """Not only the row's kind: `flow.transition` really builds an event for it (the two moves that did not,
    a refused payment and a resubmission, left insight's statistics behind benefits' database)."""
    now = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    target = row.target or next(iter(row.sources))
    claim = Claim(
        id="claim-1",
        talent_id="talent-1",
        policy_code="RENT_SUBSIDY",
        policy_version=1,
        status=target,
        amount_fen=120_000,
        publicized_until=now,
        payment_reference="BANK-1",
        disbursed_at=now,
    )
    event = flow._event_of(claim, row, row.stage or "acceptance", "system", "", None, now)
    assert isinstance(event, EventData) and EVENT_TYPES[event.type] is type(event)
    assert event.model_dump().get("status", target) == target
