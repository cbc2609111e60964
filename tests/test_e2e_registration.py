"""One real path through the whole platform: OTP sign-in → profile → talent.registered → inbox.

Every service runs as its own process on the real broker; the test talks only to the gateway.
"""

from __future__ import annotations

import json
import uuid

import httpx
from servicekit.testing import eventually

from .helpers import resident_id, sign_in_with_otp
from .stack import Stack

__all__ = ["PROFILE", "resident_id", "sign_in_with_otp"]  # imported by the other cross-service tests

# A phone of its own: the stack is shared by every cross-service test, and sign-in is limited per phone.
PHONE = "+861380000" + f"{uuid.uuid4().int % 10_000:04d}"
PROFILE = {
    "name": "李四",
    "id_type": "resident_id",
    "id_number": resident_id(),
    "birth_date": "1995-03-07",
    "locale": "zh-CN",
    "region_code": "330402",
    "education": {"degree": "master", "school": "浙江大学", "graduated_on": "2024-06-30"},
    "employer": {"name": "嘉兴某科技有限公司", "credit_code": "91330402MA2B3C4D53", "region_code": "330402"},
    "social_insurance_months": 12,
    "owns_home_in_city": False,
}


class TestRegistrationReachesTheInbox:
    async def test_profile_put_through_the_gateway_lands_in_the_inbox(
        self, gateway: httpx.AsyncClient, stack: Stack
    ) -> None:
        access_token = await sign_in_with_otp(gateway, PHONE)
        auth = {"Authorization": f"Bearer {access_token}"}
        request_id = f"e2e-{uuid.uuid4().hex}"

        response = await gateway.put("/api/v1/me/profile", json=PROFILE, headers={**auth, "X-Request-ID": request_id})
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"] == request_id
        assert response.json()["id_number_masked"] == "330402********" + PROFILE["id_number"][-4:]

        async def inbox() -> list[dict[str, object]]:
            items: list[dict[str, object]] = (await gateway.get("/api/v1/me/inbox", headers=auth)).json()["items"]
            return items

        [welcome] = await eventually(inbox, timeout=20)
        assert welcome["category"] == "account"
        assert welcome["title"] == "欢迎使用人才码"

        # The request id travelled gateway → applicant → Kafka header → notify's log line.
        def notify_logged_it() -> bool:
            lines = [json.loads(line) for line in stack.log("notify").splitlines() if line.startswith("{")]
            return any(line.get("request_id") == request_id for line in lines)

        await eventually(notify_logged_it, timeout=10)
        # No identity number, name or phone in any service's log.
        for name in stack.processes:
            log = stack.log(name)
            assert PROFILE["id_number"] not in log and "李四" not in log and PHONE not in log

    async def test_the_inbox_needs_a_token(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get("/api/v1/me/inbox")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
