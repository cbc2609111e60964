"""Employers (用人单位): administrators register them and their users in the gateway; the users sign in with a
password under the officials' lockout, and their access tokens name the employer for the services."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pytest
from gateway.cli import main
from jose import jwt
from servicekit.auth import StaticJwks, TokenVerifier
from servicekit.identifiers import credit_check_char

PASSWORD = "correct-horse-battery"
_numbers = itertools.count(1)


def credit_code() -> str:
    """A valid unified social credit code no other test of this module uses."""
    first17 = f"91330402MA{next(_numbers):07d}"
    return first17 + credit_check_char(first17)


def new_employer(**overrides: Any) -> dict[str, Any]:
    n = next(_numbers)
    body = {
        "credit_code": credit_code(),
        "name": f"嘉兴测试{n}有限公司",
        "region_code": "330402",
        "username": f"hr.test{n}",
        "password": PASSWORD,
    }
    return {**body, **overrides}


@pytest.fixture
async def admin(gateway: Any) -> dict[str, str]:
    headers: dict[str, str] = await gateway.bearer("admin")
    return headers


async def register(gateway: Any, admin: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await gateway.client.post("/api/v1/admin/employers", json=new_employer(**overrides), headers=admin)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def sign_in(gateway: Any, username: str, password: str = PASSWORD) -> Any:
    return await gateway.token(grant_type="password", username=username, password=password)


class TestRegistering:
    async def test_an_employer_is_created_with_its_first_user(self, gateway: Any, admin: dict[str, str]) -> None:
        body = new_employer()
        response = await gateway.client.post("/api/v1/admin/employers", json=body, headers=admin)
        assert response.status_code == 201, response.text
        employer = response.json()
        assert set(employer) == {"id", "credit_code", "name", "region_code", "created_at", "disabled_at", "users"}
        assert (employer["credit_code"], employer["name"], employer["region_code"]) == (
            body["credit_code"],
            body["name"],
            "330402",
        )
        assert employer["disabled_at"] is None
        [user] = employer["users"]
        assert set(user) == {"id", "username", "created_at", "last_sign_in_at"}
        assert user["username"] == body["username"] and user["last_sign_in_at"] is None
        assert PASSWORD not in response.text
        fetched = await gateway.client.get(f"/api/v1/admin/employers/{employer['id']}", headers=admin)
        assert fetched.json() == employer

    async def test_the_credit_code_is_stored_in_its_canonical_form(self, gateway: Any, admin: dict[str, str]) -> None:
        code = credit_code()
        employer = await register(gateway, admin, credit_code=f" {code[:9].lower()} {code[9:]}")
        assert employer["credit_code"] == code

    async def test_a_taken_credit_code_is_a_conflict_in_any_spelling(
        self, gateway: Any, admin: dict[str, str], problem: Any
    ) -> None:
        employer = await register(gateway, admin)
        again = new_employer(credit_code=employer["credit_code"].lower())
        response = await gateway.client.post("/api/v1/admin/employers", json=again, headers=admin)
        assert response.status_code == 409
        assert "credit code" in problem(response)["detail"]

    @pytest.mark.parametrize("username", ["admin", "employer.demo"])
    async def test_a_taken_username_is_a_conflict_and_nothing_is_created(
        self, gateway: Any, admin: dict[str, str], problem: Any, username: str
    ) -> None:
        body = new_employer(username=username)
        response = await gateway.client.post("/api/v1/admin/employers", json=body, headers=admin)
        assert response.status_code == 409
        assert "username" in problem(response)["detail"]
        rows = await gateway.sql("SELECT count(*) AS n FROM gw_employer WHERE credit_code = :c", c=body["credit_code"])
        assert rows[0].n == 0

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"credit_code": "91330402MA2B3C4D54"}, "credit_code"),  # wrong check character
            ({"credit_code": "91330402MA2B3C4D5"}, "credit_code"),  # 17 characters
            ({"credit_code": "91330402MA2B3C4DS3"}, "credit_code"),  # S is not in the alphabet
            ({"region_code": "33040"}, "region_code"),
            ({"region_code": "abcdef"}, "region_code"),
            ({"name": "   "}, "name"),
            ({"name": ""}, "name"),
            ({"username": "HR Officer"}, "username"),
            ({"password": "short-pass"}, "password"),
            ({"username": "hr.jiaxing", "password": "my-HR.Jiaxing-2026"}, "password"),  # contains the username
            ({"role": "admin"}, "role"),  # no field of the kind
        ],
    )
    async def test_bad_input_is_a_422_naming_the_field(
        self, gateway: Any, admin: dict[str, str], problem: Any, overrides: dict[str, Any], field: str
    ) -> None:
        response = await gateway.client.post("/api/v1/admin/employers", json=new_employer(**overrides), headers=admin)
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in problem(response)["errors"]]
        assert (await gateway.sql("SELECT count(*) AS n FROM gw_employer"))[0].n == 1  # the dev employer alone

    async def test_an_idempotency_key_replays_the_first_answer(self, gateway: Any, admin: dict[str, str]) -> None:
        body = new_employer()
        headers = {**admin, "Idempotency-Key": "register-1"}
        first = await gateway.client.post("/api/v1/admin/employers", json=body, headers=headers)
        again = await gateway.client.post("/api/v1/admin/employers", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        other = await gateway.client.post(
            "/api/v1/admin/employers", json={**body, "password": PASSWORD + "!"}, headers=headers
        )
        assert other.status_code == 409
        # The stored fingerprint is keyed: no plain digest of the password is kept.
        assert PASSWORD not in str(await gateway.sql("SELECT * FROM idempotency_record"))

    async def test_the_password_is_stored_hashed_and_never_logged(
        self, gateway: Any, admin: dict[str, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO)  # what a production process logs (a database driver's DEBUG shows parameters)
        employer = await register(gateway, admin)
        [row] = await gateway.sql("SELECT secret_hash FROM gw_account WHERE id = :i", i=employer["users"][0]["id"])
        assert row.secret_hash.startswith("$argon2id$")
        assert PASSWORD not in caplog.text
        assert employer["users"][0]["username"] not in caplog.text


class TestWhoMayRegister:
    async def test_without_a_token_it_is_401(self, gateway: Any, problem: Any) -> None:
        for response in (
            await gateway.client.get("/api/v1/admin/employers"),
            await gateway.client.post("/api/v1/admin/employers", json=new_employer()),
        ):
            assert response.status_code == 401
            problem(response)

    @pytest.mark.parametrize("who", ["reviewer.nanhu", "auditor.city", "employer.demo", "talent", "partner"])
    async def test_anyone_but_an_admin_is_403(self, gateway: Any, problem: Any, who: str) -> None:
        headers = await gateway.bearer(who)
        for response in (
            await gateway.client.get("/api/v1/admin/employers", headers=headers),
            await gateway.client.post("/api/v1/admin/employers", json=new_employer(), headers=headers),
            await gateway.client.post("/api/v1/admin/employers/x/disable", json={"reason": "no"}, headers=headers),
        ):
            assert response.status_code == 403, response.text
            problem(response)

    async def test_a_path_below_them_that_names_no_operation_is_not_forwarded(
        self, gateway: Any, admin: dict[str, str], problem: Any
    ) -> None:
        response = await gateway.client.get("/api/v1/admin/employers/x/anything", headers=admin)
        assert response.status_code == 404
        assert "X-Upstream" not in response.headers  # the stand-in service would have echoed it
        problem(response)
        assert (await gateway.client.delete("/api/v1/admin/employers/x/anything")).status_code == 401

    async def test_they_are_in_the_openapi_document_with_their_roles(self, gateway: Any) -> None:
        document = (await gateway.client.get("/openapi.json")).json()
        assert document["paths"]["/api/v1/admin/employers"]["post"]["x-roles"] == ["admin"]
        assert document["paths"]["/api/v1/admin/employers/{employer_id}/disable"]["post"]["x-roles"] == ["admin"]
        assert document["paths"]["/api/v1/audit/gateway"]["get"]["x-roles"] == ["auditor"]


class TestListing:
    async def test_pages_are_newest_first_and_do_not_overlap(self, gateway: Any, admin: dict[str, str]) -> None:
        created = [(await register(gateway, admin))["id"] for _ in range(3)]
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await gateway.client.get("/api/v1/admin/employers", params=params, headers=admin)).json()
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen[:3] == created[::-1]
        assert len(seen) == len(set(seen)) == 4  # and the dev employer, registered first

    async def test_a_credit_code_finds_one_employer(self, gateway: Any, admin: dict[str, str]) -> None:
        employer = await register(gateway, admin)
        await register(gateway, admin)
        page = await gateway.client.get(
            "/api/v1/admin/employers", params={"credit_code": employer["credit_code"].lower()}, headers=admin
        )
        assert [item["id"] for item in page.json()["items"]] == [employer["id"]]

    @pytest.mark.parametrize(
        ("params", "field"), [({"cursor": "bm90LWEtbGlzdA"}, "cursor"), ({"credit_code": "123"}, "credit_code")]
    )
    async def test_a_bad_cursor_or_code_is_a_422(
        self, gateway: Any, admin: dict[str, str], problem: Any, params: dict[str, str], field: str
    ) -> None:
        response = await gateway.client.get("/api/v1/admin/employers", params=params, headers=admin)
        assert response.status_code == 422
        assert problem(response)["errors"][0]["field"] == field

    async def test_an_unknown_employer_is_a_404(self, gateway: Any, admin: dict[str, str], problem: Any) -> None:
        response = await gateway.client.get("/api/v1/admin/employers/no-such-employer", headers=admin)
        assert response.status_code == 404
        problem(response)


class TestSigningIn:
    async def test_the_token_names_the_employer_and_its_region(self, gateway: Any, admin: dict[str, str]) -> None:
        employer = await register(gateway, admin, region_code="330411")
        response = await sign_in(gateway, employer["users"][0]["username"])
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert tokens["scope"] == "employer" and tokens["refresh_token"]
        claims = jwt.get_unverified_claims(tokens["access_token"])
        assert claims["roles"] == ["employer"]
        assert claims["employer_id"] == employer["id"]
        assert claims["credit_code"] == employer["credit_code"]
        assert claims["employer_name"] == employer["name"]
        assert claims["region"] == "330411"
        assert claims["sub"] == employer["users"][0]["id"]

    async def test_a_service_reads_the_employer_claims_from_the_verified_token(
        self, gateway: Any, admin: dict[str, str]
    ) -> None:
        employer = await register(gateway, admin)
        tokens = (await sign_in(gateway, employer["users"][0]["username"])).json()
        document = (await gateway.client.get("/.well-known/jwks.json")).json()
        verifier = TokenVerifier(StaticJwks(document), issuer="talent-gateway", audience="talent-platform")
        principal = await verifier.verify(tokens["access_token"])
        assert principal.roles == frozenset({"employer"})
        assert principal.region == "330402"
        assert (
            principal.claims["employer_id"],
            principal.claims["credit_code"],
            principal.claims["employer_name"],
        ) == (
            employer["id"],
            employer["credit_code"],
            employer["name"],
        )

    async def test_signing_in_is_shown_to_the_admin(self, gateway: Any, admin: dict[str, str]) -> None:
        employer = await register(gateway, admin)
        await sign_in(gateway, employer["users"][0]["username"])
        fetched = (await gateway.client.get(f"/api/v1/admin/employers/{employer['id']}", headers=admin)).json()
        assert fetched["users"][0]["last_sign_in_at"] is not None

    async def test_five_failures_throttle_an_employer_user_like_an_official(
        self, start_gateway: Any, problem: Any
    ) -> None:
        gateway = await start_gateway(password_backoff_base_s=600)
        admin = await gateway.bearer("admin")
        username = (await register(gateway, admin))["users"][0]["username"]
        wrong = await sign_in(gateway, username, "wrong-password")
        unknown = await sign_in(gateway, "no.such.user", "wrong-password")
        assert problem(wrong)["detail"] == problem(unknown)["detail"]
        for _ in range(4):
            await sign_in(gateway, username, "wrong-password")
        throttled = await sign_in(gateway, username)
        assert throttled.status_code == 429
        assert problem(throttled)["error"] == "slow_down"
        assert 1 <= int(throttled.headers["Retry-After"]) <= 600

    async def test_an_employer_user_is_not_a_client(self, gateway: Any, admin: dict[str, str]) -> None:
        username = (await register(gateway, admin))["users"][0]["username"]
        response = await gateway.token(grant_type="client_credentials", client_id=username, client_secret=PASSWORD)
        assert response.status_code == 401


class TestUsers:
    async def test_an_added_user_signs_in_for_the_same_employer(self, gateway: Any, admin: dict[str, str]) -> None:
        employer = await register(gateway, admin)
        response = await gateway.client.post(
            f"/api/v1/admin/employers/{employer['id']}/users",
            json={"username": "hr.second", "password": PASSWORD},
            headers=admin,
        )
        assert response.status_code == 201, response.text
        assert [u["username"] for u in response.json()["users"]] == [employer["users"][0]["username"], "hr.second"]
        claims = jwt.get_unverified_claims((await sign_in(gateway, "hr.second")).json()["access_token"])
        assert claims["employer_id"] == employer["id"]

    async def test_adding_a_user_is_idempotent_with_a_key(self, gateway: Any, admin: dict[str, str]) -> None:
        employer = await register(gateway, admin)
        url = f"/api/v1/admin/employers/{employer['id']}/users"
        headers = {**admin, "Idempotency-Key": "user-1"}
        body = {"username": "hr.third", "password": PASSWORD}
        first = await gateway.client.post(url, json=body, headers=headers)
        again = await gateway.client.post(url, json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert len(again.json()["users"]) == 2

    @pytest.mark.parametrize(
        ("body", "status", "field"),
        [
            ({"username": "admin", "password": PASSWORD}, 409, None),
            ({"username": "hr.fourth", "password": "short"}, 422, "password"),
            ({"username": "hr.fourth"}, 422, "password"),
        ],
    )
    async def test_a_taken_username_or_a_weak_password_is_refused(
        self,
        gateway: Any,
        admin: dict[str, str],
        problem: Any,
        body: dict[str, str],
        status: int,
        field: str | None,
    ) -> None:
        employer = await register(gateway, admin)
        response = await gateway.client.post(
            f"/api/v1/admin/employers/{employer['id']}/users", json=body, headers=admin
        )
        assert response.status_code == status
        if field:
            assert field in [e["field"] for e in problem(response)["errors"]]

    async def test_a_user_of_an_unknown_employer_is_a_404(self, gateway: Any, admin: dict[str, str]) -> None:
        response = await gateway.client.post(
            "/api/v1/admin/employers/no-such-employer/users",
            json={"username": "hr.fifth", "password": PASSWORD},
            headers=admin,
        )
        assert response.status_code == 404


class TestDisabling:
    async def test_a_disabled_employers_users_cannot_sign_in_nor_refresh(
        self, gateway: Any, admin: dict[str, str], problem: Any
    ) -> None:
        employer = await register(gateway, admin)
        username = employer["users"][0]["username"]
        tokens = (await sign_in(gateway, username)).json()
        response = await gateway.client.post(
            f"/api/v1/admin/employers/{employer['id']}/disable", json={"reason": "合同终止"}, headers=admin
        )
        assert response.status_code == 200, response.text
        assert response.json()["disabled_at"] is not None
        refused = await sign_in(gateway, username)
        unknown = await sign_in(gateway, "no.such.user")
        assert refused.status_code == 400
        assert problem(refused)["detail"] == problem(unknown)["detail"]  # it says nothing about the account
        refreshed = await gateway.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        assert refreshed.status_code == 400
        rows = await gateway.sql(
            "SELECT count(*) AS n FROM gw_refresh_token t JOIN gw_account a ON a.id = t.account_id "
            "WHERE a.employer_id = :e AND t.revoked_at IS NULL",
            e=employer["id"],
        )
        assert rows[0].n == 0

    async def test_a_right_password_of_a_disabled_employer_is_counted_like_a_wrong_one(
        self, gateway: Any, admin: dict[str, str]
    ) -> None:
        # Counted like any failure, so that the throttling says nothing about which password was right.
        employer = await register(gateway, admin)
        await gateway.client.post(
            f"/api/v1/admin/employers/{employer['id']}/disable", json={"reason": "closed"}, headers=admin
        )
        for _ in range(3):
            assert (await sign_in(gateway, employer["users"][0]["username"])).status_code == 400
        rows = await gateway.sql("SELECT failures FROM gw_sign_in_throttle WHERE source <> ''")
        assert [row.failures for row in rows] == [3]

    async def test_other_employers_are_not_affected(self, gateway: Any, admin: dict[str, str]) -> None:
        disabled, kept = await register(gateway, admin), await register(gateway, admin)
        await gateway.client.post(
            f"/api/v1/admin/employers/{disabled['id']}/disable", json={"reason": "closed"}, headers=admin
        )
        assert (await sign_in(gateway, kept["users"][0]["username"])).status_code == 200

    async def test_a_disabled_employer_gets_no_new_user_and_is_not_disabled_twice(
        self, gateway: Any, admin: dict[str, str], problem: Any
    ) -> None:
        employer = await register(gateway, admin)
        url = f"/api/v1/admin/employers/{employer['id']}"
        await gateway.client.post(f"{url}/disable", json={"reason": "closed"}, headers=admin)
        again = await gateway.client.post(f"{url}/disable", json={"reason": "closed"}, headers=admin)
        added = await gateway.client.post(
            f"{url}/users", json={"username": "hr.late", "password": PASSWORD}, headers=admin
        )
        assert again.status_code == added.status_code == 409
        problem(again)

    @pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": " \n "}])
    async def test_a_reason_is_required(self, gateway: Any, admin: dict[str, str], body: dict[str, str]) -> None:
        employer = await register(gateway, admin)
        response = await gateway.client.post(
            f"/api/v1/admin/employers/{employer['id']}/disable", json=body, headers=admin
        )
        assert response.status_code == 422


class TestAudit:
    async def test_every_change_is_in_the_gateways_audit_chain_without_secrets(
        self, gateway: Any, admin: dict[str, str]
    ) -> None:
        employer = await register(gateway, admin)
        await gateway.client.post(
            f"/api/v1/admin/employers/{employer['id']}/users",
            json={"username": "hr.audited", "password": PASSWORD},
            headers=admin,
        )
        await gateway.client.post(
            f"/api/v1/admin/employers/{employer['id']}/disable", json={"reason": "合同终止"}, headers=admin
        )
        auditor = await gateway.bearer("auditor.city")
        page = await gateway.client.get("/api/v1/audit/gateway", params={"subject_id": employer["id"]}, headers=auditor)
        assert page.status_code == 200, page.text
        entries = page.json()["items"]
        assert [e["action"] for e in entries] == ["employer.disable", "employer.user_add", "employer.create"]
        assert entries[0]["reason"] == "合同终止"
        assert entries[2]["after"]["credit_code"] == employer["credit_code"]
        assert PASSWORD not in page.text and "hr.audited" not in page.text
        verified = await gateway.client.get("/api/v1/audit/gateway/verify", headers=auditor)
        assert verified.json()["valid"] is True

    async def test_an_admin_does_not_read_the_audit(self, gateway: Any, admin: dict[str, str]) -> None:
        assert (await gateway.client.get("/api/v1/audit/gateway", headers=admin)).status_code == 403


class TestTheOperatorsCommand:
    @pytest.fixture
    def cli(self, gateway_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
        monkeypatch.setenv("TALENT_ENV", "dev")
        monkeypatch.setenv("GATEWAY_DATABASE_URL", gateway_database_url)
        monkeypatch.setenv("GATEWAY_NEW_PASSWORD", PASSWORD)

        async def run(*argv: str) -> None:
            await asyncio.to_thread(main, list(argv))  # the CLI runs its own event loop

        return run

    async def test_create_employer_registers_an_employer_whose_user_signs_in(
        self, cli: Any, start_gateway: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = credit_code()
        await cli("migrate")
        await cli("create-employer", code, "--name", "嘉兴命令行有限公司", "--region", "330402", "--username", "hr.cli")
        assert f"created employer {code}" in capsys.readouterr().out
        gw = await start_gateway()
        response = await sign_in(gw, "hr.cli")
        assert response.status_code == 200, response.text
        claims = jwt.get_unverified_claims(response.json()["access_token"])
        assert (claims["credit_code"], claims["employer_name"]) == (code, "嘉兴命令行有限公司")

    async def test_bad_or_taken_input_exits_with_the_reason(self, cli: Any) -> None:
        taken = credit_code()
        await cli("migrate")
        await cli("create-employer", taken, "--name", "甲", "--region", "330402", "--username", "hr.first")
        for argv, message in [
            (["91330402MA2B3C4D54", "--region", "330402", "--username", "hr.x"], "check character"),
            ([credit_code(), "--region", "3304", "--username", "hr.x"], "region_code"),
            ([taken, "--region", "330402", "--username", "hr.x"], "already registered"),
            ([credit_code(), "--region", "330402", "--username", "hr.first"], "username is taken"),
        ]:
            with pytest.raises(SystemExit, match=message):
                await cli("create-employer", argv[0], "--name", "乙", *argv[1:])
