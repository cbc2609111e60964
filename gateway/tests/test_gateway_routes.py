"""The route table and the role rules, checked as data."""

from __future__ import annotations

import pytest
from gateway.routes import ACCESS_RULES, AUTHENTICATED, access_rule, resolve_service


class TestRouteTable:
    @pytest.mark.parametrize(
        ("path", "service"),
        [
            ("/api/v1/me/profile", "applicant"),
            ("/api/v1/me/certifications/abc", "applicant"),
            ("/api/v1/me/talent", "applicant"),
            ("/api/v1/me/code", "applicant"),
            ("/api/v1/me/code.png", "applicant"),
            ("/api/v1/me/code.svg", "applicant"),
            ("/api/v1/codes/verify", "applicant"),
            ("/api/v1/reviews/certifications/1/decisions", "applicant"),
            ("/api/v1/admin/talents/x/revoke", "applicant"),
            ("/api/v1/audit/applicant", "applicant"),
            ("/api/v1/audit/housing", "housing"),
            ("/api/v1/policies", "benefits"),
            ("/api/v1/me/eligibility", "benefits"),
            ("/api/v1/me/claims/1/withdraw", "benefits"),
            ("/api/v1/reviews/claims/1/disbursement", "benefits"),
            ("/api/v1/admin/policies", "benefits"),
            ("/api/v1/housing/rounds/1/results", "housing"),
            ("/api/v1/me/housing/offers/1/accept", "housing"),
            ("/api/v1/me/inbox/1/read", "notify"),
            ("/api/v1/me/notification-preferences", "notify"),
            ("/api/v1/partners/subscriptions", "notify"),
            # The gateway's own operations: in the table so their role rules apply, answered in-process.
            ("/api/v1/admin/employers", "gateway"),
            ("/api/v1/admin/employers/x/disable", "gateway"),
            ("/api/v1/audit/gateway", "gateway"),
        ],
    )
    def test_each_public_path_goes_to_its_service(self, path: str, service: str) -> None:
        assert resolve_service(path) == service

    @pytest.mark.parametrize(
        "path", ["/api/v1/me", "/api/v1/me/codex", "/api/v1/policiesx", "/internal/code-keys", "/api/v2/policies"]
    )
    def test_paths_no_service_owns_are_not_routed(self, path: str) -> None:
        assert resolve_service(path) is None


class TestRoleRules:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/api/v1/policies"),
            ("GET", "/api/v1/policies/rent-subsidy"),
            ("GET", "/api/v1/housing/projects"),
            ("HEAD", "/api/v1/housing/projects"),
            ("GET", "/api/v1/housing/rounds/7"),
            ("GET", "/api/v1/housing/rounds/7/results"),
        ],
    )
    def test_public_reads(self, method: str, path: str) -> None:
        assert access_rule(method, path).public

    @pytest.mark.parametrize(
        ("method", "path", "roles"),
        [
            ("PUT", "/api/v1/me/profile", {"talent"}),
            ("GET", "/api/v1/me/code.png", {"talent"}),
            ("POST", "/api/v1/housing/rounds/7/applications", {"talent"}),
            ("POST", "/api/v1/codes/verify", {"partner"}),
            ("GET", "/api/v1/partners/deliveries", {"partner"}),
            ("GET", "/api/v1/reviews/certifications", {"county_reviewer", "city_approver"}),
            ("POST", "/api/v1/reviews/certifications/1/decisions", {"county_reviewer", "city_approver"}),
            ("POST", "/api/v1/reviews/claims/1/decisions", {"county_reviewer", "city_approver"}),
            ("POST", "/api/v1/reviews/claims/1/disbursement", {"finance_officer"}),
            ("GET", "/api/v1/reviews/claims", {"county_reviewer", "city_approver", "finance_officer"}),
            ("POST", "/api/v1/housing/projects", {"housing_officer"}),
            ("POST", "/api/v1/housing/projects/3/units", {"housing_officer"}),
            ("POST", "/api/v1/housing/rounds", {"housing_officer"}),
            ("POST", "/api/v1/housing/rounds/3/close", {"housing_officer"}),
            ("POST", "/api/v1/housing/rounds/3/draw", {"housing_officer"}),
            ("GET", "/api/v1/admin/talents", {"admin"}),
            ("POST", "/api/v1/admin/policies", {"admin"}),
            ("GET", "/api/v1/audit/benefits", {"auditor"}),
            ("POST", "/api/v1/admin/employers", {"admin"}),
            ("POST", "/api/v1/admin/employers/1/disable", {"admin"}),
            ("DELETE", "/api/v1/admin/employers/1/anything", {"admin"}),
            ("GET", "/api/v1/audit/gateway", {"auditor"}),
        ],
    )
    def test_roles_per_route(self, method: str, path: str, roles: set[str]) -> None:
        rule = access_rule(method, path)
        assert not rule.public
        assert rule.roles == roles

    def test_an_unnamed_routed_path_still_needs_a_token(self) -> None:
        assert access_rule("GET", "/api/v1/unlisted") is AUTHENTICATED
        assert not AUTHENTICATED.public

    def test_every_rule_names_known_roles(self) -> None:
        from servicekit.auth import ROLES

        for rule in ACCESS_RULES:
            assert rule.roles is None or rule.roles <= set(ROLES), rule
