"""Parallel refreshes of one token share one new pair (the grace window), and an access token of a revoked
family is refused by every gateway replica before it expires (issue 15, finding 4)."""

from __future__ import annotations

import asyncio
from typing import Any

from jose import jwt
from servicekit.testing import eventually

PHONE = "+8613800000001"
ADMIN_ONLY = "/api/v1/admin/employers"  # one of the gateway's own operations (admin role)
PROXIED = "/api/v1/me/profile"  # a service's path, answered by the stand-in upstream
PARTNERS = "/api/v1/partners/subscriptions"  # a service's path for partners


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def refresh(gateway: Any, refresh_token: str) -> Any:
    return await gateway.token(grant_type="refresh_token", refresh_token=refresh_token)


async def sign_out(gateway: Any, token: str) -> Any:
    return await gateway.client.post("/api/v1/auth/revoke", data={"token": token})


class TestGraceWindow:
    async def test_twenty_parallel_refreshes_of_one_token_all_get_the_same_new_pair(self, gateway: Any) -> None:
        first = await gateway.official("admin")
        answers = await asyncio.gather(*(refresh(gateway, first["refresh_token"]) for _ in range(20)))
        assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200]
        pairs = {(a.json()["access_token"], a.json()["refresh_token"]) for a in answers}
        assert len(pairs) == 1
        ((access, new_refresh),) = pairs
        assert new_refresh != first["refresh_token"]
        # Nobody was signed out: the pair works, and the family goes on rotating.
        assert (await gateway.client.get(ADMIN_ONLY, headers={"Authorization": f"Bearer {access}"})).status_code == 200
        assert (await refresh(gateway, new_refresh)).status_code == 200

    async def test_the_same_pair_comes_back_within_the_window_and_carries_the_family(self, gateway: Any) -> None:
        first = await gateway.talent(PHONE)
        once, again = (await refresh(gateway, first["refresh_token"])).json(), None
        again = (await refresh(gateway, first["refresh_token"])).json()
        assert once == again
        claims = [jwt.get_unverified_claims(t["access_token"]) for t in (first, once)]
        assert claims[0]["sid"] == claims[1]["sid"]

    async def test_no_refresh_or_access_token_is_stored_in_clear(self, gateway: Any) -> None:
        first = await gateway.official("admin")
        second = (await refresh(gateway, first["refresh_token"])).json()
        rows = await gateway.sql("SELECT * FROM gw_refresh_token")
        stored = repr(rows)
        for token in (first["refresh_token"], second["refresh_token"], first["access_token"], second["access_token"]):
            assert token not in stored

    async def test_reuse_after_the_window_revokes_the_family_and_its_access_tokens(
        self, start_gateway: Any, problem: Any
    ) -> None:
        gateway = await start_gateway(refresh_grace_s=0)
        first = await gateway.official("admin")
        second = (await refresh(gateway, first["refresh_token"])).json()
        assert (await gateway.client.get(ADMIN_ONLY, headers=bearer(second))).status_code == 200
        reuse = await refresh(gateway, first["refresh_token"])
        assert reuse.status_code == 400
        assert problem(reuse)["error"] == "invalid_grant"
        for tokens in (first, second):
            refused = await gateway.client.get(ADMIN_ONLY, headers=bearer(tokens))
            assert refused.status_code == 401
            assert "revoked" in problem(refused)["detail"]


class TestSignOut:
    async def test_signing_out_with_the_refresh_token_ends_the_family(self, gateway: Any, problem: Any) -> None:
        tokens = await gateway.talent(PHONE)
        assert (await gateway.client.get(PROXIED, headers=bearer(tokens))).status_code == 200
        answer = await sign_out(gateway, tokens["refresh_token"])
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store"
        refused = await gateway.client.get(PROXIED, headers=bearer(tokens))
        assert refused.status_code == 401
        problem(refused)
        assert (await refresh(gateway, tokens["refresh_token"])).status_code == 400

    async def test_signing_out_with_the_access_token_ends_the_family_too(self, gateway: Any) -> None:
        tokens = await gateway.official("admin")
        assert (await sign_out(gateway, tokens["access_token"])).status_code == 200
        assert (await gateway.client.get(ADMIN_ONLY, headers=bearer(tokens))).status_code == 401
        assert (await refresh(gateway, tokens["refresh_token"])).status_code == 400

    async def test_a_partner_token_without_a_family_is_revoked_alone(self, gateway: Any) -> None:
        one, other = await gateway.partner(), await gateway.partner()
        assert (await sign_out(gateway, one["access_token"])).status_code == 200
        refused = await gateway.client.get(PARTNERS, headers=bearer(one))
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await gateway.client.get(PARTNERS, headers=bearer(other))).status_code == 200

    async def test_an_unknown_token_is_answered_the_same(self, gateway: Any) -> None:
        assert (await sign_out(gateway, "not-a-token")).status_code == 200
        assert (await gateway.client.post("/api/v1/auth/revoke", data={})).status_code == 422


class TestReplicas:
    async def test_a_second_gateway_on_the_same_database_refuses_a_revoked_family(self, start_gateway: Any) -> None:
        one = await start_gateway(revocation_reload_interval_s=0.2)
        two = await start_gateway(revocation_reload_interval_s=0.2)
        tokens = await one.official("admin")
        assert (await two.client.get(ADMIN_ONLY, headers=bearer(tokens))).status_code == 200
        assert (await sign_out(one, tokens["refresh_token"])).status_code == 200
        assert (await one.client.get(ADMIN_ONLY, headers=bearer(tokens))).status_code == 401  # at once

        async def refused_by_the_other_replica() -> bool:
            return (await two.client.get(ADMIN_ONLY, headers=bearer(tokens))).status_code == 401

        # Within one reload interval (documented); the generous timeout only absorbs a loaded machine.
        await eventually(refused_by_the_other_replica, timeout=60, what="the second gateway refuses the token")

    async def test_a_gateway_started_after_the_revocation_knows_it_from_the_start(self, start_gateway: Any) -> None:
        one = await start_gateway()
        tokens = await one.talent(PHONE)
        assert (await sign_out(one, tokens["refresh_token"])).status_code == 200
        later = await start_gateway()
        assert (await later.client.get(PROXIED, headers=bearer(tokens))).status_code == 401


class TestDisabledEmployer:
    async def test_disabling_an_employer_refuses_the_access_tokens_its_users_hold(self, gateway: Any) -> None:
        admin = await gateway.bearer("admin")
        user = await gateway.official("employer.demo")
        staff = "/api/v1/employer/staff"
        assert (await gateway.client.get(staff, headers=bearer(user))).status_code == 200
        employers = await gateway.client.get("/api/v1/admin/employers?credit_code=91330402MA2B3C4D53", headers=admin)
        (employer,) = employers.json()["items"]
        disabled = await gateway.client.post(
            f"/api/v1/admin/employers/{employer['id']}/disable", json={"reason": "合同终止"}, headers=admin
        )
        assert disabled.status_code == 200, disabled.text
        assert (await gateway.client.get(staff, headers=bearer(user))).status_code == 401
