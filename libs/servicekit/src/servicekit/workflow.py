"""State machines and two-stage review as data, with one vocabulary for every service.

A status is a `StrEnum`; the moves between statuses are a `StateMachine` — a table of `Transition`s
(action, the statuses it may start from, the status it leads to) that a service reads from one function
of its own, the one place where a change of status writes its history, audit entry, timers and event.
Services subclass `Transition` to add what their one function needs (the event to emit, the stage...).

Two-stage review (初审 by a county reviewer, 复审 by a city approver) is the same in every service that
has one: `ReviewStage` says who decides a status and where approval leads, and the three refusals below
are the same problem everywhere (the wrong role, the same officer on two stages, the same approver twice).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from servicekit.problems import Conflict, Forbidden

S = TypeVar("S", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)


class IllegalTransition(Conflict):
    """The object is in a status from which the action does not lead anywhere."""

    key = "problem.illegal_transition"

    def __init__(self, subject: str, status: str, action: str) -> None:
        params = {"subject": subject, "status": status, "action": action}
        super().__init__(f"A {subject} that is {status} cannot be {action}.", params=params, status_now=status)


@dataclass(frozen=True)
class Transition(Generic[S, A]):
    """One move: `action` from any of `sources` to `target` (None: the status stays, e.g. an escalation)."""

    action: A
    sources: frozenset[S]
    target: S | None

    def leads_from(self, status: S) -> S:
        return status if self.target is None else self.target


T = TypeVar("T", bound="Transition[Any, Any]")


class StateMachine(Generic[T]):
    """The transition table of one kind of object; one action has one row."""

    def __init__(self, subject: str, transitions: Iterable[T]) -> None:
        self.subject = subject
        self.transitions: dict[StrEnum, T] = {}
        for transition in transitions:
            if transition.action in self.transitions:
                raise ValueError(f"{subject}: the action {transition.action} has two rows")
            self.transitions[transition.action] = transition

    def __getitem__(self, action: StrEnum) -> T:
        return self.transitions[action]

    def can(self, status: StrEnum | str, action: StrEnum) -> bool:
        return status in self.transitions[action].sources

    def sources(self, action: StrEnum) -> frozenset[StrEnum]:
        return frozenset(self.transitions[action].sources)

    def check(self, status: StrEnum | str, action: StrEnum, verb: str | None = None) -> T:
        """The row for `action`, or `IllegalTransition` (409) when the object's status does not allow it."""
        transition = self.transitions[action]
        if status not in transition.sources:
            raise IllegalTransition(self.subject, str(status), verb or str(action))
        return transition

    def rows(self) -> list[tuple[str, str, str]]:
        """(from, action, to) for documentation, sorted; `to` is the source itself for a move in place."""
        out = []
        for transition in self.transitions.values():
            for source in transition.sources:
                out.append((str(source), str(transition.action), str(transition.leads_from(source))))
        return sorted(out)


# --- two-stage review ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewStage(Generic[S]):
    """Who decides an object in a status, and where an approval at that stage moves it."""

    stage: str
    role: str
    approved_status: S


class NotYourStage(Forbidden):
    """The caller does not hold the role that decides the stage the object waits in."""

    key = "problem.not_your_stage"

    def __init__(self, subject: str, status: str, stage: str, role: str) -> None:
        super().__init__(
            f"This {subject} is {status}: it awaits the {stage} review, which only a {role} decides; "
            "you do not hold that role.",
            params={"subject": subject, "status": status, "stage": stage, "role": role},
        )


class SegregationOfDuties(Forbidden):
    """One officer decides one stage of an object only."""

    key = "problem.segregation_of_duties"

    def __init__(self, subject: str, stages: Collection[str]) -> None:
        super().__init__(
            f"You already decided the {', '.join(sorted(stages))} stage of this {subject}; one officer decides "
            "one stage only, so another officer must decide this one.",
            params={"subject": subject, "stages": ", ".join(sorted(stages))},
        )


class SecondApproverRequired(Conflict):
    """Where two approvals are needed, the second comes from a different officer."""

    key = "problem.second_approver_required"

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"You already approved this {subject}; a second, different officer must approve it.",
            params={"subject": subject},
        )


def require_stage_role(subject: str, status: str, review: ReviewStage[S], roles: Collection[str]) -> None:
    if review.role not in roles:
        raise NotYourStage(subject, status, review.stage, review.role)


def check_segregation(subject: str, officer: str, decided: Iterable[tuple[str, str | None]], stage: str) -> None:
    """`decided` is (officer, stage) of every decision taken on the object; refuse another stage's officer."""
    others = {s or "" for who, s in decided if who == officer and s != stage}
    if others:
        raise SegregationOfDuties(subject, others)


def check_second_approver(subject: str, officer: str, approvers: Collection[str]) -> None:
    if officer in approvers:
        raise SecondApproverRequired(subject)


def queue_statuses(stages: Mapping[S, ReviewStage[S]], role: str) -> tuple[S, ...]:
    """The statuses a role decides: its review queue."""
    return tuple(status for status, review in stages.items() if review.role == role)
