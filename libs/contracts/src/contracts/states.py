"""The statuses that travel in events, one `StrEnum` each, shared by the owning service's models and API.

A member is a `str`, so it compares equal to its value, serialises as it, and an event written before the
enum existed still parses. The moves between statuses belong to the owning service (its transition table);
this module only names them.
"""

from __future__ import annotations

from enum import StrEnum


class ClaimStatus(StrEnum):
    """Where a benefit claim is: open until disbursed, rejected, withdrawn or stopped."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    COUNTY_APPROVED = "county_approved"
    CITY_APPROVED = "city_approved"
    PUBLICIZED = "publicized"
    DISBURSED = "disbursed"
    # The bank refused the payment; the claim goes into a later payment batch.
    PAYMENT_FAILED = "payment_failed"
    REJECTED = "rejected"
    # The talent appealed a rejection (复议); a city approver other than the deciders decides it.
    APPEALED = "appealed"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    # Ended by a fact, not a decision (e.g. a lease started: the rent subsidy stops).
    STOPPED = "stopped"

    @property
    def is_open(self) -> bool:
        return self not in CLAIM_FINAL_STATUSES


CLAIM_FINAL_STATUSES = frozenset(
    {ClaimStatus.DISBURSED, ClaimStatus.REJECTED, ClaimStatus.WITHDRAWN, ClaimStatus.STOPPED}
)
CLAIM_OPEN_STATUSES: tuple[ClaimStatus, ...] = tuple(s for s in ClaimStatus if s not in CLAIM_FINAL_STATUSES)


class CertificationStatus(StrEnum):
    """Where a certification (人才层次认定) is: county review, city review, then certified; or rejected/returned."""

    SUBMITTED = "submitted"
    COUNTY_APPROVED = "county_approved"
    CERTIFIED = "certified"
    REJECTED = "rejected"
    RETURNED = "returned"


class TalentStatus(StrEnum):
    """A talent's own standing (动态进退): registered with a profile, certified at a tier until a date, expired,
    revoked."""

    REGISTERED = "registered"
    CERTIFIED = "certified"
    EXPIRED = "expired"
    REVOKED = "revoked"


class FactSource(StrEnum):
    """Where a decision-relevant profile fact came from, weakest first (eligibility rules may require a level)."""

    SELF_DECLARED = "self_declared"
    OFFICER_CONFIRMED = "officer_confirmed"
    EMPLOYER_ATTESTED = "employer_attested"


class AttestationOutcome(StrEnum):
    """What an employer said of a talent's employment and social-insurance months."""

    CONFIRMED = "confirmed"
    DISPUTED = "disputed"
