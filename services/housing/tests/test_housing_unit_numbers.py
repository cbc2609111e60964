"""Offer and lease events name the unit by its number too, so the talent's messages say which flat
("房源 100"), not a unit id."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from servicekit.models import OutboxEvent
from sqlmodel import col, select

from .conftest import Platform
from .test_housing_offers import _drawn_round


async def _events(app: FastAPI, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    async with app.state.database.sessionmaker() as session:
        rows = (
            await session.exec(
                select(OutboxEvent).where(col(OutboxEvent.event_type).startswith(prefix)).order_by(OutboxEvent.id)
            )
        ).all()
    found = []
    for row in rows:
        body = json.loads(row.payload)
        found.append((row.event_type, body.get("data", body)))
    return found


class TestUnitNumbersInEvents:
    async def test_every_offer_and_lease_event_carries_the_units_number(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        _, [unit_id], [(_, talent)] = await _drawn_round(platform, 1, [("C", 60)])
        offer = await platform.open_offer(talent)
        assert offer is not None
        accepted = await platform.client.post(f"/api/v1/me/housing/offers/{offer['id']}/accept", headers=talent)
        assert accepted.status_code == 200, accepted.text
        moved_out = await platform.client.post("/api/v1/me/housing/lease/move-out", headers=talent)
        assert moved_out.status_code == 200, moved_out.text

        events = await _events(housing_app, "talent.housing.offer.") + await _events(
            housing_app, "talent.housing.lease."
        )
        mine = [(kind, data) for kind, data in events if data["unit_id"] == unit_id]
        assert {kind for kind, _ in mine} == {
            "talent.housing.offer.made.v1",
            "talent.housing.offer.accepted.v1",
            "talent.housing.lease.started.v1",
            "talent.housing.lease.ended.v1",
        }
        assert all(data["unit_number"] == "100" for _, data in mine), mine
