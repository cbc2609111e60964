"""动态进退 in housing's read model: TalentReinstated lifts a revocation, newest event wins, applied once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from contracts import TalentCertified, TalentReinstated, TalentRevoked
from fastapi import FastAPI
from housing.models import HousingTalent

from .conftest import Platform

NOW = datetime.now(UTC)
VALID_UNTIL = date.today() + timedelta(days=365)


async def _talent(app: FastAPI, talent_id: str) -> HousingTalent:
    async with app.state.database.sessionmaker() as session:
        row = await session.get(HousingTalent, talent_id)
        assert row is not None
        return row


def _certified(talent_id: str) -> TalentCertified:
    return TalentCertified(
        talent_id=talent_id, pseudonym="tp_r", tier="C", points=60, certified_until=VALID_UNTIL, region_code="330402"
    )


def _revoked(talent_id: str) -> TalentRevoked:
    return TalentRevoked(talent_id=talent_id, pseudonym="tp_r", reason="失信", revoked_at=NOW)


def _reinstated(talent_id: str, status: str = "certified") -> TalentReinstated:
    return TalentReinstated(
        talent_id=talent_id, pseudonym="tp_r", status=status, tier="C", certified_until=VALID_UNTIL, reinstated_at=NOW
    )


class TestReinstatement:
    async def test_a_reinstatement_makes_the_talent_certified_again(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        await platform.deliver(_certified("r-1"), subject="r-1", time=NOW - timedelta(hours=2))
        await platform.deliver(_revoked("r-1"), subject="r-1", time=NOW - timedelta(hours=1))
        assert (await _talent(housing_app, "r-1")).status == "revoked"
        await platform.deliver(_reinstated("r-1"), subject="r-1", time=NOW)
        row = await _talent(housing_app, "r-1")
        assert (row.status, row.tier, row.certified_until) == ("certified", "C", VALID_UNTIL)

    async def test_the_revocation_delivered_after_the_later_reinstatement_does_not_win(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        await platform.deliver(_certified("r-2"), subject="r-2", time=NOW - timedelta(hours=2))
        await platform.deliver(_reinstated("r-2"), subject="r-2", time=NOW)
        await platform.deliver(_revoked("r-2"), subject="r-2", time=NOW - timedelta(hours=1))
        assert (await _talent(housing_app, "r-2")).status == "certified"

    async def test_a_reinstatement_to_expired_and_its_redelivery(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        await platform.deliver(_revoked("r-3"), subject="r-3", time=NOW - timedelta(hours=1))
        event = await platform.deliver(_reinstated("r-3", "expired"), subject="r-3", time=NOW)
        assert await platform.consumer.apply(event, platform.consumer.handlers[event.type]) is False
        assert (await _talent(housing_app, "r-3")).status == "expired"
