"""The certification and talent flows as data: the tables say what states.py's diagram says."""

from __future__ import annotations

from datetime import date

from applicant.states import (
    APPROVALS,
    CERTIFICATION_FLOW,
    DEMAND_FLOW,
    RECOMMENDATION_FLOW,
    REVIEW_STAGES,
    TALENT_FLOW,
    CertificationAction,
    CertificationStatus,
    DemandAction,
    DemandStatus,
    RecommendationAction,
    TalentAction,
    TalentStatus,
    standing_of,
)


def test_certification_moves() -> None:
    assert CERTIFICATION_FLOW.rows() == [
        ("county_approved", "approve_city", "certified"),
        ("county_approved", "approve_first_of_two", "county_approved"),
        ("county_approved", "escalate", "county_approved"),
        ("county_approved", "reject", "rejected"),
        ("county_approved", "reject_on_revocation", "rejected"),
        ("county_approved", "return", "returned"),
        ("returned", "reject_on_revocation", "rejected"),
        ("returned", "resubmit", "submitted"),
        ("submitted", "approve_county", "county_approved"),
        ("submitted", "escalate", "submitted"),
        ("submitted", "reject", "rejected"),
        ("submitted", "reject_on_revocation", "rejected"),
        ("submitted", "return", "returned"),
    ]
    # A submission creates the certification: it starts from no status.
    assert CERTIFICATION_FLOW[CertificationAction.SUBMIT].sources == frozenset()


def test_talent_moves() -> None:
    assert [row for row in TALENT_FLOW.rows() if row[1] != "reinstate"] == [
        ("certified", "certify", "certified"),
        ("certified", "expire", "expired"),
        ("certified", "revoke", "revoked"),
        ("expired", "certify", "certified"),
        ("expired", "revoke", "revoked"),
        ("registered", "certify", "certified"),
        ("registered", "revoke", "revoked"),
    ]


def test_a_reinstatement_leads_where_the_certification_stands() -> None:
    reinstate = TALENT_FLOW[TalentAction.REINSTATE]
    assert reinstate.sources == frozenset({TalentStatus.REVOKED}) and reinstate.restores_standing
    today = date(2026, 12, 2)
    assert standing_of(date(2026, 12, 2), today) == TalentStatus.CERTIFIED  # its last day included
    assert standing_of(date(2029, 1, 1), today) == TalentStatus.CERTIFIED
    assert standing_of(date(2026, 12, 1), today) == TalentStatus.EXPIRED
    assert standing_of(None, today) == TalentStatus.REGISTERED


def test_an_approval_leads_where_its_review_stage_says() -> None:
    for status, review in REVIEW_STAGES.items():
        assert CERTIFICATION_FLOW[APPROVALS[status]].target == review.approved_status
    assert set(APPROVALS) == set(REVIEW_STAGES) == {CertificationStatus.SUBMITTED, CertificationStatus.COUNTY_APPROVED}


def test_recommendation_moves() -> None:
    assert RECOMMENDATION_FLOW.rows() == [("filed", "cite", "cited"), ("filed", "withdraw", "withdrawn")]
    assert RECOMMENDATION_FLOW[RecommendationAction.FILE].sources == frozenset()
    # Only the employer's own moves are audited; a citation is the talent's certification submission.
    assert {a for a in RecommendationAction if RECOMMENDATION_FLOW[a].audited} == {
        RecommendationAction.FILE,
        RecommendationAction.WITHDRAW,
    }


def test_demand_moves() -> None:
    assert DEMAND_FLOW.rows() == [("open", "close", "closed")]
    assert DEMAND_FLOW[DemandAction.DECLARE].target == DemandStatus.OPEN
