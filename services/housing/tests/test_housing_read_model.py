"""The talent read model from events: any arrival order, redeliveries applied once, older facts never win."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from contracts import (
    TalentCertified,
    TalentExpired,
    TalentPointsChanged,
    TalentProfileUpdated,
    TalentRegistered,
    TalentRevoked,
)
from fastapi import FastAPI
from housing.models import HousingTalent

from .conftest import Platform

NOW = datetime.now(UTC)


async def _talent(app: FastAPI, talent_id: str) -> HousingTalent:
    async with app.state.database.sessionmaker() as session:
        row = await session.get(HousingTalent, talent_id)
        assert row is not None
        return row


def _certified(talent_id: str, tier: str = "C", points: int = 60) -> TalentCertified:
    return TalentCertified(
        talent_id=talent_id,
        pseudonym="tp_1",
        tier=tier,  # type: ignore[arg-type]
        points=points,
        certified_until=date.today() + timedelta(days=365),
        region_code="330402",
    )


class TestReadModel:
    async def test_certification_before_registration_still_builds_the_whole_row(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        await platform.deliver(_certified("t-1"), subject="t-1", time=NOW)
        await platform.deliver(
            TalentRegistered(
                talent_id="t-1", pseudonym="tp_1", region_code="330411", locale="en", registered_at=NOW,
                works_in_city=True,
            ),
            subject="t-1",
            time=NOW - timedelta(seconds=5),
        )  # fmt: skip
        row = await _talent(housing_app, "t-1")
        assert (row.status, row.tier, row.points, row.works_in_city, row.region_code) == (
            "certified",
            "C",
            60,
            True,
            "330411",
        )

    async def test_an_older_event_never_overwrites_a_newer_fact(self, platform: Platform, housing_app: FastAPI) -> None:
        await platform.deliver(
            TalentRevoked(talent_id="t-2", pseudonym="tp_2", reason="失信", revoked_at=NOW), subject="t-2", time=NOW
        )
        await platform.deliver(_certified("t-2"), subject="t-2", time=NOW - timedelta(minutes=1))
        await platform.deliver(TalentPointsChanged(talent_id="t-2", points=75), subject="t-2", time=NOW)
        await platform.deliver(TalentProfileUpdated(talent_id="t-2", owns_home_in_city=True), subject="t-2", time=NOW)
        row = await _talent(housing_app, "t-2")
        assert (row.status, row.points, row.owns_home_in_city) == ("revoked", 75, True)
        await platform.deliver(
            TalentExpired(talent_id="t-2", pseudonym="tp_2", expired_on=date.today()),
            subject="t-2",
            time=NOW + timedelta(minutes=1),
        )
        assert (await _talent(housing_app, "t-2")).status == "expired"

    async def test_a_redelivered_event_is_applied_once(self, platform: Platform, housing_app: FastAPI) -> None:
        event = await platform.deliver(_certified("t-3"), subject="t-3")
        assert await platform.consumer.apply(event, platform.consumer.handlers[event.type]) is False
