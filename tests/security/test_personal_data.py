"""OWASP API3, excessive data exposure, and the design's rule that personal data stays inside: alice's name,
phone, identity number and e-mail (canaries no other test uses, see conftest.Canary) appear nowhere but in
what alice herself and her case's officials are shown, and even there the identity number is masked.

Searched: every process's log (stack.log), every webhook delivery a partner received and the partner's
delivery records, and the error bodies of requests that carry the canaries and fail.
"""

from __future__ import annotations

import httpx
from servicekit.testing import eventually

from .. import helpers
from .conftest import Scene


def leaks(text: str, scene: Scene) -> list[str]:
    return [what for what, value in scene.canary.values.items() if value in text]


async def _failing_requests_that_carry_the_canaries(gateway: httpx.AsyncClient, scene: Scene) -> list[httpx.Response]:
    canary = scene.canary
    broken_id = canary.id_number[:-1] + ("0" if canary.id_number[-1] != "0" else "1")  # a wrong check digit
    taken = helpers.profile(canary.id_number, name=canary.name, email=canary.email)
    invalid = {**taken, "id_number": broken_id}
    return [
        # Another account claims alice's identity number (a duplicate), then with a wrong check digit.
        await gateway.put("/api/v1/me/profile", json=taken, headers=scene.bob),
        await gateway.put("/api/v1/me/profile", json=invalid, headers=scene.bob),
        await gateway.put("/api/v1/me/profile", json={**taken, "birth_date": "not a date"}, headers=scene.bob),
        # A malformed phone number, and a wrong sign-in code for alice's phone.
        await gateway.post("/api/v1/auth/otp", json={"phone": canary.phone + "x"}),
        await gateway.post("/api/v1/auth/token", data={"grant_type": "otp", "phone": canary.phone, "code": "000000"}),
        # A partner "verifies" personal data instead of a talent code.
        await gateway.post(
            "/api/v1/codes/verify", json={"code": canary.id_number, "scene": "hospital"}, headers=scene.hospital
        ),
        await gateway.post("/api/v1/codes/verify", json={"code": canary.phone, "scene": "bus"}, headers=scene.hospital),
    ]


async def test_error_bodies_do_not_echo_personal_data(gateway: httpx.AsyncClient, scene: Scene) -> None:
    responses = await _failing_requests_that_carry_the_canaries(gateway, scene)
    for response in responses:
        assert response.status_code >= 400 or response.json().get("valid") is False, response.text
        assert leaks(response.text, scene) == [], f"{response.request.url}: {response.text}"


async def test_partners_receive_events_without_personal_data(gateway: httpx.AsyncClient, scene: Scene) -> None:
    def alices_certification() -> bool:
        return any(e["type"] == "talent.applicant.talent.certified.v1" for e in scene.receiver.events())

    await eventually(alices_certification, timeout=30)
    for body in scene.receiver.bodies:
        assert leaks(body.decode(), scene) == [], body
    for event in scene.receiver.events():
        assert event["subject"].startswith("tp_")  # a pseudonym, never the talent id
        assert scene.alice_id not in str(event)
    records = await gateway.get("/api/v1/partners/deliveries?limit=200", headers=scene.transit)
    assert leaks(records.text, scene) == []
    detail = await gateway.get(f"/api/v1/partners/deliveries/{scene.ids['delivery']}", headers=scene.transit)
    assert detail.status_code == 200 and leaks(detail.text, scene) == []


async def test_no_log_line_of_any_process_holds_personal_data(gateway: httpx.AsyncClient, scene: Scene) -> None:
    # After the failing requests too: a refused duplicate or a wrong code is where logs tend to tell all.
    await _failing_requests_that_carry_the_canaries(gateway, scene)
    for name in scene.stack.processes:
        log = scene.stack.log(name)
        assert log, f"no log from {name}"
        found = leaks(log, scene)
        assert found == [], f"{name}'s log holds alice's {', '.join(found)}"


async def test_alice_sees_her_identity_numbers_masked(gateway: httpx.AsyncClient, scene: Scene) -> None:
    for path in ("/api/v1/me/profile", "/api/v1/me/family"):
        response = await gateway.get(path, headers=scene.alice)
        assert response.status_code == 200, response.text
        assert scene.canary.id_number not in response.text and scene.canary.family_id_number not in response.text
    profile = (await gateway.get("/api/v1/me/profile", headers=scene.alice)).json()
    assert profile["id_number_masked"] == scene.canary.id_number[:6] + "*" * 8 + scene.canary.id_number[-4:]


async def test_public_lists_show_pseudonyms_only(gateway: httpx.AsyncClient, scene: Scene) -> None:
    for path in ("/api/v1/claims/publicized?limit=200", "/api/v1/housing/rounds?limit=200"):
        response = await gateway.get(path)
        assert response.status_code == 200, response.text
        assert leaks(response.text, scene) == [] and scene.alice_id not in response.text
