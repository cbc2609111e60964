"""OWASP API1, broken object-level authorisation: every endpoint that takes an object's id answers 404 to a
caller who may not see that object (docs/api.md, Conventions: "the object does not exist or the caller may
not see it"), exactly as for an id that does not exist, and leaves the object as it was.

The owner's own request is checked first each time, so a 404 means "not yours", not "not there".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .conftest import Headers, Scene


@dataclass(frozen=True)
class Probe:
    """One request on one object: `path` names the object with `{id}` (a key of Scene.ids)."""

    method: str
    path: str
    object: str
    body: dict[str, Any] | None = None

    def url(self, scene: Scene) -> str:
        return self.path.format(id=scene.ids[self.object])

    def payload(self, scene: Scene) -> dict[str, Any] | None:
        """The body, with `{id}` in a string value standing for the object (an id sent in the body, not the path)."""
        if self.body is None:
            return None
        return {k: v.format(id=scene.ids[self.object]) if isinstance(v, str) else v for k, v in self.body.items()}

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


async def send(gateway: httpx.AsyncClient, probe: Probe, scene: Scene, headers: Headers) -> httpx.Response:
    return await gateway.request(probe.method, probe.url(scene), json=probe.payload(scene), headers=headers)


def assert_hidden(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


# Another talent's objects, as bob (a talent) tries them. Each path names one of alice's objects.
ANOTHER_TALENTS_OBJECTS = [
    Probe("GET", "/api/v1/me/certifications/{id}", "certification"),
    Probe("POST", "/api/v1/me/certifications/{id}/resubmit", "certification", {"note": "mine now"}),
    Probe("GET", "/api/v1/me/claims/{id}", "claim"),
    Probe("POST", "/api/v1/me/claims/{id}/withdraw", "claim"),
    Probe("POST", "/api/v1/me/claims/{id}/resubmit", "claim", {"note": "mine now"}),
    Probe("POST", "/api/v1/me/housing/offers/{id}/accept", "offer"),
    Probe("POST", "/api/v1/me/housing/offers/{id}/decline", "offer"),
    Probe("POST", "/api/v1/me/inbox/{id}/read", "notification"),
    Probe("DELETE", "/api/v1/me/family/{id}", "member"),
]
# What alice can read of her own objects (the control: these ids exist and are hers).
OWN_READS = {
    "certification": "/api/v1/me/certifications/{id}",
    "claim": "/api/v1/me/claims/{id}",
}


class TestAnotherTalentsObjects:
    @pytest.mark.parametrize("probe", ANOTHER_TALENTS_OBJECTS, ids=str)
    async def test_are_404_to_another_talent(self, gateway: httpx.AsyncClient, scene: Scene, probe: Probe) -> None:
        assert_hidden(await send(gateway, probe, scene, scene.bob))

    async def test_are_visible_to_their_owner_and_unchanged_after_the_attempts(
        self, gateway: httpx.AsyncClient, scene: Scene
    ) -> None:
        for name, path in OWN_READS.items():
            response = await gateway.get(path.format(id=scene.ids[name]), headers=scene.alice)
            assert response.status_code == 200, response.text
        claim = (await gateway.get(f"/api/v1/me/claims/{scene.ids['claim']}", headers=scene.alice)).json()
        assert claim["status"] != "withdrawn"
        housing = (await gateway.get("/api/v1/me/housing", headers=scene.alice)).json()
        assert {o["id"]: o["status"] for o in housing["offers"]} == {scene.ids["offer"]: "open"}
        family = (await gateway.get("/api/v1/me/family", headers=scene.alice)).json()["items"]
        assert [m["id"] for m in family] == [scene.ids["member"]]
        inbox = (await gateway.get("/api/v1/me/inbox", headers=scene.alice)).json()["items"]
        assert next(n for n in inbox if n["id"] == scene.ids["notification"])["read_at"] is None

    async def test_a_talents_lists_hold_only_their_own(self, gateway: httpx.AsyncClient, scene: Scene) -> None:
        for path, key in [("/api/v1/me/certifications", "certification"), ("/api/v1/me/claims", "claim")]:
            items = (await gateway.get(path, headers=scene.bob)).json()["items"]
            assert scene.ids[key] not in [item["id"] for item in items], path


# Another region's cases, as the 秀洲区 (330411) county reviewer tries 南湖区 (330402) ones.
ANOTHER_REGIONS_CASES = [
    Probe("GET", "/api/v1/reviews/certifications/{id}", "carol_certification"),
    Probe("POST", "/api/v1/reviews/certifications/{id}/decisions", "carol_certification", {"decision": "approve"}),
    Probe("GET", "/api/v1/reviews/claims/{id}", "claim"),
    Probe("POST", "/api/v1/reviews/claims/{id}/decisions", "claim", {"decision": "approve"}),
]


class TestAnotherRegionsCases:
    @pytest.mark.parametrize("probe", ANOTHER_REGIONS_CASES, ids=str)
    async def test_are_404_to_a_county_reviewer_of_another_region(
        self, gateway: httpx.AsyncClient, scene: Scene, probe: Probe
    ) -> None:
        assert_hidden(await send(gateway, probe, scene, scene.reviewer_elsewhere))

    async def test_are_visible_to_the_regions_own_reviewer_and_still_pending(
        self, gateway: httpx.AsyncClient, scene: Scene
    ) -> None:
        nanhu = scene.roles["county_reviewer"]
        certification = await gateway.get(
            f"/api/v1/reviews/certifications/{scene.ids['carol_certification']}", headers=nanhu
        )
        assert certification.status_code == 200, certification.text
        assert certification.json()["status"] == "submitted"
        claim = await gateway.get(f"/api/v1/reviews/claims/{scene.ids['claim']}", headers=nanhu)
        assert claim.status_code == 200, claim.text
        assert claim.json()["status"] == "accepted"

    async def test_the_other_regions_queue_does_not_list_them(self, gateway: httpx.AsyncClient, scene: Scene) -> None:
        queue = await gateway.get("/api/v1/reviews/certifications?status=pending", headers=scene.reviewer_elsewhere)
        assert scene.ids["carol_certification"] not in [c["id"] for c in queue.json()["items"]]
        claims = await gateway.get("/api/v1/reviews/claims", headers=scene.reviewer_elsewhere)
        assert scene.ids["claim"] not in [c["id"] for c in claims.json()["items"]]


# Another partner's webhook subscription and deliveries, as partner.hospital tries partner.transit's.
ANOTHER_PARTNERS_OBJECTS = [
    Probe("GET", "/api/v1/partners/subscriptions/{id}", "subscription"),
    Probe(
        "POST",
        "/api/v1/partners/subscriptions/{id}/rotate-secret",
        "subscription",
        {"secret": "hijacked-secret-0123456789"},
    ),
    Probe("DELETE", "/api/v1/partners/subscriptions/{id}", "subscription"),
    Probe("GET", "/api/v1/partners/deliveries/{id}", "delivery"),
    Probe("POST", "/api/v1/partners/deliveries/{id}/redeliver", "delivery"),
]


class TestAnotherPartnersObjects:
    @pytest.mark.parametrize("probe", ANOTHER_PARTNERS_OBJECTS, ids=str)
    async def test_are_404_to_another_partner(self, gateway: httpx.AsyncClient, scene: Scene, probe: Probe) -> None:
        assert_hidden(await send(gateway, probe, scene, scene.hospital))

    async def test_are_intact_for_their_owner(self, gateway: httpx.AsyncClient, scene: Scene) -> None:
        subscription = await gateway.get(
            f"/api/v1/partners/subscriptions/{scene.ids['subscription']}", headers=scene.transit
        )
        assert subscription.status_code == 200, subscription.text
        assert subscription.json()["status"] == "active"
        delivery = await gateway.get(f"/api/v1/partners/deliveries/{scene.ids['delivery']}", headers=scene.transit)
        assert delivery.status_code == 200, delivery.text


# Another employer's staff member (alice), attestation and recommendation, as employer.demo tries them: alice's
# profile names another employer, so to employer.demo she is not staff at all.
ANOTHER_EMPLOYERS_OBJECTS = [
    Probe("GET", "/api/v1/employer/staff/{id}", "alice"),
    Probe(
        "POST",
        "/api/v1/employer/attestations",
        "alice",
        {"talent_id": "{id}", "employed_since": "2024-01-01", "social_insurance_months": 10, "outcome": "confirmed"},
    ),
    Probe(
        "POST", "/api/v1/employer/recommendations", "alice", {"talent_id": "{id}", "claimed_tier": "E", "reason": "x"}
    ),
    Probe("DELETE", "/api/v1/employer/attestations/{id}", "attestation"),
    Probe("DELETE", "/api/v1/employer/recommendations/{id}", "recommendation"),
]


class TestAnotherEmployersObjects:
    @pytest.mark.parametrize("probe", ANOTHER_EMPLOYERS_OBJECTS, ids=str)
    async def test_are_404_to_another_employer(self, gateway: httpx.AsyncClient, scene: Scene, probe: Probe) -> None:
        assert_hidden(await send(gateway, probe, scene, scene.roles["employer"]))

    async def test_are_visible_to_alices_employer_and_unchanged_after_the_attempts(
        self, gateway: httpx.AsyncClient, scene: Scene
    ) -> None:
        member = await gateway.get(f"/api/v1/employer/staff/{scene.alice_id}", headers=scene.alices_employer)
        assert member.status_code == 200, member.text
        standing = member.json()["attestation"]
        assert standing["id"] == scene.ids["attestation"] and standing["outcome"] == "disputed"
        assert scene.canary.id_number not in member.text  # the employer sees the number masked
        recommendations = (await gateway.get("/api/v1/employer/recommendations", headers=scene.alices_employer)).json()[
            "items"
        ]
        assert {r["id"]: r["status"] for r in recommendations} == {scene.ids["recommendation"]: "filed"}

    async def test_another_employers_lists_hold_none_of_them(self, gateway: httpx.AsyncClient, scene: Scene) -> None:
        demo = scene.roles["employer"]
        for path, key in [
            ("/api/v1/employer/staff?limit=200", "alice"),
            ("/api/v1/employer/attestations?limit=200", "attestation"),
            ("/api/v1/employer/recommendations?limit=200", "recommendation"),
        ]:
            response = await gateway.get(path, headers=demo)
            assert response.status_code == 200, response.text
            assert scene.ids[key] not in response.text, path
            assert scene.canary.name not in response.text, path
