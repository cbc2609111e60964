"""PUT/GET /api/v1/me/profile: validation, protection of the identity number, and the registered event."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import httpx
import pytest
from applicant.config import ApplicantSettings
from applicant.models import TalentProfile
from fastapi import FastAPI
from servicekit.crypto import FieldCipher
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from sqlmodel import select

from .conftest import profile_body, resident_id, verified_talent


async def _rows(app: FastAPI, model: Any) -> list[Any]:
    async with app.state.database.sessionmaker() as session:
        return list((await session.exec(select(model))).all())


class TestPutProfile:
    async def test_first_profile_registers_the_talent_and_masks_the_id(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        response = await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id_number_masked"] == "330402********" + resident_id()[-4:]
        assert "id_number" not in body

        events = await _rows(applicant_app, OutboxEvent)
        assert [e.event_type for e in events] == [
            "talent.applicant.talent.registered.v1",
            "talent.applicant.contact.updated.v1",
        ]
        payload = json.loads(events[0].payload)
        assert payload["data"]["points"] == 21
        assert payload["subject"] == body["talent_id"]
        assert payload["data"]["works_in_city"] is True
        # No personal data in the event: no name, no identity number, no phone.
        assert "张三" not in events[0].payload and resident_id() not in events[0].payload

    async def test_identity_number_is_stored_encrypted(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        [profile] = await _rows(applicant_app, TalentProfile)
        assert resident_id() not in profile.id_number_ciphertext
        assert profile.id_number_ciphertext.startswith("v1:")
        assert app_cipher(applicant_app).decrypt(profile.id_number_ciphertext) == resident_id()

    async def test_second_put_updates_and_emits_profile_updated(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        response = await client.put(
            "/api/v1/me/profile", json=profile_body(social_insurance_months=30, locale="en"), headers=talent
        )
        assert response.status_code == 200
        assert response.json()["social_insurance_months"] == 30
        types = [e.event_type for e in await _rows(applicant_app, OutboxEvent)][2:]
        # The locale changed (contact) and so did the insured months (points).
        assert types == [
            "talent.applicant.talent.profile_updated.v1",
            "talent.applicant.contact.updated.v1",
            "talent.applicant.talent.points_changed.v1",
        ]

    async def test_identity_number_of_another_account_is_409(
        self, client: httpx.AsyncClient, talent: dict[str, str], test_keys: TestKeys
    ) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        other = test_keys.headers(str(uuid.uuid4()), ["talent"])
        response = await client.put("/api/v1/me/profile", json=profile_body(), headers=other)
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert "already registered" in response.json()["detail"]

    async def test_wrong_check_digit_is_422_naming_the_field(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        number = resident_id()
        wrong = number[:17] + ("0" if number[17] != "0" else "1")
        response = await client.put("/api/v1/me/profile", json=profile_body(id_number=wrong), headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"field": "id_number", "message": "the check digit of the resident identity number is wrong"}
        ]

    async def test_birth_date_not_matching_the_number_is_422(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        response = await client.put("/api/v1/me/profile", json=profile_body(birth_date="1995-03-08"), headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "id_number"

    async def test_unknown_region_is_422(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        response = await client.put("/api/v1/me/profile", json=profile_body(region_code="110105"), headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "region_code"

    async def test_talent_cannot_set_tier_or_status(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        response = await client.put(
            "/api/v1/me/profile", json=profile_body(tier="A", status="certified"), headers=talent
        )
        assert response.status_code == 422
        fields = {e["field"] for e in response.json()["errors"]}
        assert fields == {"tier", "status"}

    async def test_wrong_types_are_422_not_500(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        response = await client.put(
            "/api/v1/me/profile", json=profile_body(social_insurance_months="many", education=[]), headers=talent
        )
        assert response.status_code == 422
        assert {e["field"] for e in response.json()["errors"]} == {"social_insurance_months", "education"}

    async def test_an_official_may_not_put_a_profile(self, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
        headers = test_keys.headers("official-1", ["county_reviewer"], region="330402")
        response = await client.put("/api/v1/me/profile", json=profile_body(), headers=headers)
        assert response.status_code == 403

    async def test_no_token_is_401(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/me/profile")).status_code == 401


class TestGetProfile:
    async def test_before_any_profile_is_404_with_next_step(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        response = await client.get("/api/v1/me/profile", headers=talent)
        assert response.status_code == 404
        assert "PUT /api/v1/me/profile" in response.json()["detail"]

    async def test_returns_the_masked_profile(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        response = await client.get("/api/v1/me/profile", headers=talent)
        assert response.status_code == 200
        assert response.json()["id_number_masked"].startswith("330402****")
        assert resident_id() not in response.text

    async def test_talent_status_starts_registered(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        response = await client.get("/api/v1/me/talent", headers=talent)
        assert response.json()["status"] == "registered"
        assert response.json()["tier"] is None


def app_cipher(app: FastAPI) -> Any:
    return app.state.protector.cipher


class TestSettings:
    def test_placeholder_secrets_are_refused_outside_dev(self) -> None:
        with pytest.raises(ValueError, match="placeholder secret"):
            ApplicantSettings(TALENT_ENV="production")


def _contact_events(events: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(e.payload)["data"] for e in events if e.event_type == "talent.applicant.contact.updated.v1"]


class TestContactDetails:
    async def test_the_sign_in_phone_is_stored_and_returned_masked(
        self, client: httpx.AsyncClient, test_keys: TestKeys, talent_id: str
    ) -> None:
        talent = verified_talent(test_keys, talent_id, "+8613800000001")
        body = profile_body(phone="+86 138-0000-0001", time_zone="Europe/Berlin")
        response = await client.put("/api/v1/me/profile", json=body, headers=talent)
        assert response.status_code == 200, response.text
        assert response.json()["phone"] == "+86138****0001"
        assert response.json()["time_zone"] == "Europe/Berlin"
        again = await client.get("/api/v1/me/profile", headers=talent)
        assert again.json()["phone"] == "+86138****0001" and "+8613800000001" not in again.text

    async def test_the_profile_takes_the_sign_in_phone_without_being_given_one(
        self, client: httpx.AsyncClient, test_keys: TestKeys, talent_id: str
    ) -> None:
        talent = verified_talent(test_keys, talent_id, "+8613800000001")
        response = await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        assert response.json()["phone"] == "+86138****0001"

    async def test_the_phone_is_sealed_at_rest_like_the_identity_number(
        self, client: httpx.AsyncClient, test_keys: TestKeys, talent_id: str, applicant_app: FastAPI
    ) -> None:
        talent = verified_talent(test_keys, talent_id, "+8613800000001")
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        [profile] = await _rows(applicant_app, TalentProfile)
        assert profile.phone_ciphertext is not None and "13800000001" not in profile.phone_ciphertext
        assert applicant_app.state.protector.phone_cipher.decrypt(profile.phone_ciphertext) == "+8613800000001"
        assert profile.phone_masked == "+86138****0001"

    async def test_a_rotated_keyring_seals_the_phone_again_on_the_next_save(
        self,
        client: httpx.AsyncClient,
        test_keys: TestKeys,
        talent_id: str,
        applicant_app: FastAPI,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        talent = verified_talent(test_keys, talent_id, "+8613800000001")
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        settings: ApplicantSettings = applicant_app.state.settings
        rotated = FieldCipher.from_spec(
            "v2:" + "n" * 32 + "," + settings.id_encryption_keys.get_secret_value(), associated_data=b"phone"
        )
        monkeypatch.setattr(
            applicant_app.state, "protector", dataclasses.replace(applicant_app.state.protector, phone_cipher=rotated)
        )
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        [profile] = await _rows(applicant_app, TalentProfile)
        assert profile.phone_ciphertext.startswith("v2:")
        assert rotated.decrypt(profile.phone_ciphertext) == "+8613800000001"

    async def test_a_phone_nobody_proved_is_refused(
        self, client: httpx.AsyncClient, test_keys: TestKeys, talent_id: str, talent: dict[str, str]
    ) -> None:
        signed_in = verified_talent(test_keys, talent_id, "+8613800000001")
        for headers in (signed_in, talent):  # another number than the sign-in one; a token that vouches for none
            response = await client.put(
                "/api/v1/me/profile", json=profile_body(phone="+8613900000009"), headers=headers
            )
            assert response.status_code == 422, response.text
            [error] = response.json()["errors"]
            assert error["field"] == "phone" and "one-time code" in error["message"], error

    async def test_a_token_without_the_phone_keeps_the_stored_one(
        self, client: httpx.AsyncClient, test_keys: TestKeys, talent_id: str, talent: dict[str, str]
    ) -> None:
        await client.put(
            "/api/v1/me/profile", json=profile_body(), headers=verified_talent(test_keys, talent_id, "+8613800000001")
        )
        response = await client.put("/api/v1/me/profile", json=profile_body(owns_home_in_city=True), headers=talent)
        assert response.json()["phone"] == "+86138****0001"

    async def test_time_zone_defaults_to_shanghai(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        response = await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        assert response.json()["time_zone"] == "Asia/Shanghai"

    @pytest.mark.parametrize("phone", ["13800000001", "+8612800000001", "+86138000000011", "+0123456789", "+1 abc"])
    async def test_invalid_phone_is_422_naming_the_field(
        self, client: httpx.AsyncClient, talent: dict[str, str], phone: str
    ) -> None:
        response = await client.put("/api/v1/me/profile", json=profile_body(phone=phone), headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "phone"

    async def test_international_phone_is_accepted(
        self, client: httpx.AsyncClient, test_keys: TestKeys, talent_id: str
    ) -> None:
        talent = verified_talent(test_keys, talent_id, "+4915112345678")
        response = await client.put("/api/v1/me/profile", json=profile_body(phone="+4915112345678"), headers=talent)
        assert response.status_code == 200
        assert response.json()["phone"] == "+49151****5678"

    async def test_unknown_time_zone_is_422(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        response = await client.put("/api/v1/me/profile", json=profile_body(time_zone="Mars/Olympus"), headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "time_zone"

    async def test_contact_event_is_sealed_with_the_contact_keyring(
        self, client: httpx.AsyncClient, test_keys: TestKeys, talent_id: str, applicant_app: FastAPI
    ) -> None:
        talent = verified_talent(test_keys, talent_id, "+8613900000002")
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        events = await _rows(applicant_app, OutboxEvent)
        [contact] = _contact_events(events)
        assert "+8613900000002" not in json.dumps(contact) and "zhang.san" not in json.dumps(contact)
        # notify opens it with the same keyring (NOTIFY_CONTACT_KEYS) and associated data b"contact".
        keyring = FieldCipher.from_spec("c1:dev-insecure-contact-key", associated_data=b"contact")
        assert keyring.decrypt(contact["phone_sealed"]) == "+8613900000002"
        assert keyring.decrypt(contact["email_sealed"]) == "zhang.san@example.org"
        assert contact["time_zone"] == "Asia/Shanghai"
        # The other events (read by every consumer, partners' fan-out included) carry no phone at all.
        assert all("13900000002" not in e.payload for e in events)

    async def test_no_contact_event_when_only_other_fields_change(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        await client.put("/api/v1/me/profile", json=profile_body(owns_home_in_city=True), headers=talent)
        assert len(_contact_events(await _rows(applicant_app, OutboxEvent))) == 1

    async def test_the_verified_phone_arriving_emits_contact_updated(
        self,
        client: httpx.AsyncClient,
        test_keys: TestKeys,
        talent_id: str,
        talent: dict[str, str],
        applicant_app: FastAPI,
    ) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        signed_in = verified_talent(test_keys, talent_id, "+8613700000003")
        await client.put("/api/v1/me/profile", json=profile_body(), headers=signed_in)
        await client.put("/api/v1/me/profile", json=profile_body(), headers=signed_in)  # unchanged: no event
        contacts = _contact_events(await _rows(applicant_app, OutboxEvent))
        assert [c["phone_sealed"] is not None for c in contacts] == [False, True]


class TestPointsOnProfile:
    async def test_points_follow_the_formula_before_certification(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        # master 10 + 12 insured months x 0.5 = 6 + the employer is in the shortage catalogue 5; no tier yet.
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        assert (await client.get("/api/v1/me/talent", headers=talent)).json()["points"] == 21

    async def test_a_key_industry_puts_an_unlisted_employer_in_the_catalogue(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        employer = {"name": "某公司", "credit_code": "91330402MA2B3C4D66", "region_code": "330402"}
        assert (
            await client.put("/api/v1/me/profile", json=profile_body(employer=employer), headers=talent)
        ).status_code == 200
        assert (await client.get("/api/v1/me/talent", headers=talent)).json()["points"] == 16
        employer["industry"] = "集成电路"
        await client.put("/api/v1/me/profile", json=profile_body(employer=employer), headers=talent)
        assert (await client.get("/api/v1/me/talent", headers=talent)).json()["points"] == 21
        changes = [
            json.loads(e.payload)["data"]
            for e in await _rows(applicant_app, OutboxEvent)
            if e.event_type == "talent.applicant.talent.points_changed.v1"
        ]
        assert [(c["previous_points"], c["points"]) for c in changes] == [(16, 21)]
        updated = [e for e in await _rows(applicant_app, OutboxEvent) if e.event_type.endswith("profile_updated.v1")]
        assert json.loads(updated[-1].payload)["data"]["employer_in_shortage_catalogue"] is True
