"""Dev accounts exist only with TALENT_ENV=dev; anywhere else the gateway refuses to start beside them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gateway.cli import main
from gateway.config import GatewaySettings
from gateway.exceptions import DevAccountsPresentError
from gateway.service import DEV_EMPLOYER, DEV_OFFICIALS, DEV_PARTNERS
from jose import jwt
from pydantic import ValidationError

REAL_SECRETS = {"hash_key": "h" * 32, "data_encryption_key": "d" * 32, "key_encryption_key": "k" * 32}


class TestDevAccounts:
    @pytest.mark.parametrize(("username", "role", "region"), DEV_OFFICIALS)
    async def test_every_dev_official_signs_in_with_its_role(
        self, gateway: Any, username: str, role: str, region: str | None
    ) -> None:
        claims = jwt.get_unverified_claims((await gateway.official(username))["access_token"])
        assert claims["roles"] == [role]
        assert claims.get("region") == region

    async def test_an_officials_token_names_them_for_the_cases_they_own(self, gateway: Any) -> None:
        claims = jwt.get_unverified_claims((await gateway.official("reviewer.nanhu"))["access_token"])
        assert (claims["name"], claims["office_phone"]) == ("南湖区人才办 王老师", "0573-82000001")
        # Only officials carry them: an employer user's token names its employer instead.
        employer = jwt.get_unverified_claims((await gateway.official("employer.demo"))["access_token"])
        assert "name" not in employer and "office_phone" not in employer

    async def test_both_dev_partners_sign_in_with_their_kind(self, gateway: Any) -> None:
        for client_id, kind in (("partner.hospital", "hospital"), ("partner.transit", "transit")):
            claims = jwt.get_unverified_claims((await gateway.partner(client_id))["access_token"])
            assert claims["partner_kind"] == kind

    async def test_the_dev_employer_user_signs_in_for_its_employer(self, gateway: Any) -> None:
        username, credit_code, name, region = DEV_EMPLOYER
        assert username == "employer.demo" and credit_code == "91330402MA2B3C4D53"
        claims = jwt.get_unverified_claims((await gateway.official(username))["access_token"])
        assert claims["roles"] == ["employer"]
        assert (claims["credit_code"], claims["employer_name"], claims["region"]) == (credit_code, name, region)
        assert claims["employer_id"]

    async def test_a_restart_in_dev_does_not_duplicate_them(self, gateway: Any, start_gateway: Any) -> None:
        await start_gateway()
        rows = await gateway.sql("SELECT count(*) AS n FROM gw_account WHERE is_dev")
        assert rows[0].n == len(DEV_OFFICIALS) + len(DEV_PARTNERS) + 1  # and the dev employer user
        assert (await gateway.sql("SELECT count(*) AS n FROM gw_employer"))[0].n == 1

    async def test_outside_dev_start_up_is_refused_while_they_exist(self, gateway: Any, start_gateway: Any) -> None:
        with pytest.raises(DevAccountsPresentError, match=r"reviewer\.nanhu"):
            await start_gateway(environment="production", **REAL_SECRETS)

    async def test_the_dev_employer_user_alone_still_refuses_production(self, gateway: Any, start_gateway: Any) -> None:
        await gateway.sql("DELETE FROM gw_refresh_token")
        await gateway.sql("DELETE FROM gw_account WHERE kind <> 'employer'")
        with pytest.raises(DevAccountsPresentError, match=r"employer\.demo"):
            await start_gateway(environment="production", **REAL_SECRETS)

    async def test_outside_dev_a_clean_database_starts_without_them(self, start_gateway: Any) -> None:
        gw = await start_gateway(environment="production", **REAL_SECRETS)
        assert (await gw.sql("SELECT count(*) AS n FROM gw_account"))[0].n == 0
        response = await gw.token(grant_type="password", username="admin", password="dev-password")
        assert response.status_code == 400

    def test_placeholder_secrets_are_refused_outside_dev(self) -> None:
        with pytest.raises(ValidationError, match="placeholder"):
            GatewaySettings(environment="production")
        with pytest.raises(ValidationError, match="at least"):
            GatewaySettings(
                environment="production",
                hash_key="short-key",
                data_encryption_key="d" * 32,
                key_encryption_key="k" * 32,
            )

    def test_purging_them_lets_production_start(
        self, gateway_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("TALENT_ENV", "dev")
        monkeypatch.setenv("GATEWAY_DATABASE_URL", gateway_database_url)
        main(["migrate"])
        main(["create-partner", "partner.bank", "--kind", "bank"])
        main(["purge-dev-accounts"])
        out = capsys.readouterr().out
        assert "created partner partner.bank" in out
        assert "deleted 0 dev account(s)" in out  # the CLI alone never seeded any


class TestPurge:
    async def test_purge_removes_seeded_accounts_and_their_tokens(
        self, start_gateway: Any, gateway_database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        dev = await start_gateway(**REAL_SECRETS)
        await dev.official("admin")  # leaves a refresh token behind
        await dev.official("employer.demo")
        monkeypatch.setenv("TALENT_ENV", "dev")
        monkeypatch.setenv("GATEWAY_DATABASE_URL", gateway_database_url)
        await asyncio.to_thread(main, ["purge-dev-accounts"])
        gw = await start_gateway(environment="production", **REAL_SECRETS)
        assert (await gw.sql("SELECT count(*) AS n FROM gw_account"))[0].n == 0
        assert (await gw.sql("SELECT count(*) AS n FROM gw_employer"))[0].n == 0  # the dev employer went with it

    async def test_purge_keeps_a_dev_employer_a_real_account_was_added_to(
        self, start_gateway: Any, gateway_database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        dev = await start_gateway(**REAL_SECRETS)
        await dev.sql(
            "INSERT INTO gw_account (id, kind, username, roles, is_dev, created_at, employer_id) "
            "SELECT 'real-hr', 'employer', 'hr.real', '[\"employer\"]', false, created_at, id FROM gw_employer"
        )
        monkeypatch.setenv("TALENT_ENV", "dev")
        monkeypatch.setenv("GATEWAY_DATABASE_URL", gateway_database_url)
        await asyncio.to_thread(main, ["purge-dev-accounts"])
        assert [r.username for r in await dev.sql("SELECT username FROM gw_account")] == ["hr.real"]
        assert (await dev.sql("SELECT count(*) AS n FROM gw_employer"))[0].n == 1
