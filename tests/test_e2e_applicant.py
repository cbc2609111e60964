"""From sign-in to a partner's verify: OTP → profile → certification → county and city approval → talent
code → partner.hospital verifies it through the gateway → anyone verifies it offline with the published JWKS.

Every service runs as its own process on the real broker; the test talks to the gateway (and, for the
offline check, reads only the public talent-code JWKS document).
"""

from __future__ import annotations

import json
import random
import uuid

import httpx
from jose import jws

from .helpers import fresh_id_number
from .stack import Stack
from .test_e2e_registration import sign_in_with_otp

EVIDENCE = [{"kind": "diploma", "reference": "files/doctor-diploma.pdf", "sha256": "c0ffee" * 10 + "beef"}]


def _profile(id_number: str) -> dict[str, object]:
    return {
        "name": "王五",
        "id_type": "resident_id",
        "id_number": id_number,
        "birth_date": "1990-05-17",
        "locale": "zh-CN",
        "region_code": "330402",
        "education": {"degree": "doctor", "school": "清华大学", "graduated_on": "2020-07-01"},
        "title": "deputy_senior",
        "employer": {"name": "嘉兴某研究院", "credit_code": "91330402MA2B3C4D53", "region_code": "330402"},
        "social_insurance_months": 24,
        "owns_home_in_city": False,
    }


async def _token(gateway: httpx.AsyncClient, **form: str) -> dict[str, str]:
    response = await gateway.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _official(gateway: httpx.AsyncClient, username: str) -> dict[str, str]:
    return await _token(gateway, grant_type="password", username=username, password="dev-password")


class TestTalentCodeFromSignInToPartnerVerify:
    async def test_certified_talents_code_verifies_at_the_hospital_and_offline(
        self, gateway: httpx.AsyncClient, stack: Stack
    ) -> None:
        # Fresh phone and identity number: the stack is shared with other cross-service tests.
        phone = f"+86139{random.randrange(10**8):08d}"
        id_number = fresh_id_number(birth="19900517")
        talent = {"Authorization": f"Bearer {await sign_in_with_otp(gateway, phone)}"}

        profile = await gateway.put("/api/v1/me/profile", json=_profile(id_number), headers=talent)
        assert profile.status_code == 200, profile.text
        submitted = await gateway.post(
            "/api/v1/me/certifications",
            json={"route": "degree", "claimed_tier": "D", "evidence": EVIDENCE},
            headers={**talent, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert submitted.status_code == 201, submitted.text
        certification_id = submitted.json()["id"]
        assert (await gateway.get("/api/v1/me/code", headers=talent)).status_code == 409

        reviewer = await _official(gateway, "reviewer.nanhu")
        queue = (await gateway.get("/api/v1/reviews/certifications?status=pending", headers=reviewer)).json()
        assert certification_id in [c["id"] for c in queue["items"]]
        decision_url = f"/api/v1/reviews/certifications/{certification_id}/decisions"
        county = await gateway.post(
            decision_url, json={"decision": "approve", "reason": "diploma checked"}, headers=reviewer
        )
        assert county.status_code == 200, county.text
        assert county.json()["status"] == "county_approved"
        approver = await _official(gateway, "approver.city")
        city = await gateway.post(decision_url, json={"decision": "approve", "reason": "confirmed"}, headers=approver)
        assert city.status_code == 200, city.text
        assert city.json()["status"] == "certified"

        me = (await gateway.get("/api/v1/me/talent", headers=talent)).json()
        # D 40 + doctor 15 + deputy senior 6 + 24 months x 0.5 = 12 + shortage-catalogue employer 5
        assert me["status"] == "certified" and me["tier"] == "D" and me["points"] == 78

        issued = await gateway.get("/api/v1/me/code", headers=talent)
        assert issued.status_code == 200, issued.text
        code = issued.json()["code"]
        png = await gateway.get("/api/v1/me/code.png", headers=talent)
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

        hospital = await _token(
            gateway, grant_type="client_credentials", client_id="partner.hospital", client_secret="dev-secret"
        )
        verified = await gateway.post(
            "/api/v1/codes/verify", json={"code": code, "scene": "hospital"}, headers=hospital
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["valid"] is True and verified.json()["tier"] == "D"
        assert "green_channel" in verified.json()["privileges"]
        assert "王五" not in verified.text and id_number not in verified.text
        wrong_scene = await gateway.post("/api/v1/codes/verify", json={"code": code, "scene": "bank"}, headers=hospital)
        assert wrong_scene.status_code == 403

        # Offline: the gateway's public talent-code key set is all a partner city needs.
        jwks = (await gateway.get("/.well-known/talent-code/jwks.json")).json()
        token = code.removeprefix("TC1:")
        kid = jws.get_unverified_header(token)["kid"]
        # Exactly as the README's "Verifying a talent code offline" picks the key.
        [key] = [k for k in jwks["keys"] if k["kid"] == kid]
        claims = json.loads(jws.verify(token, key, algorithms=["ES256"]))
        assert claims["tier"] == "D" and claims["city"] == "330400" and claims["sub"].startswith("tp_")

        # No identity number, name or phone in any process's log.
        for name in stack.processes:
            log = stack.log(name)
            assert id_number not in log and "王五" not in log and phone not in log
